package xero

import (
	"strings"
	"unicode"
)

// Clip cuts s to at most n bytes, on a rune boundary (never half a UTF-8 sequence), and marks
// the cut with "…". It bounds what we quote in messages and store in last_error.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // a continuation byte: back to the rune's start
		n--
	}
	return s[:n] + "…"
}

// OneLine makes text safe for one line of a log or of `xerosync status`: valid UTF-8, control
// characters as spaces, trimmed, and clipped to n bytes.
func OneLine(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return Clip(strings.TrimSpace(s), n)
}
