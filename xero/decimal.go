package xero

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Decimal is an exact decimal number kept as its canonical text, so an amount travels from
// Softbooq's numeric columns to Xero's JSON without ever passing through float64 (SPEC §1:
// "Amounts are sent as exact decimals, never via float").
//
// The zero value is "unset": it is omitted by `json:",omitzero"` and marshals as null. A
// numeric zero is ParseDecimal("0") and is a set value. Scale is kept: "229.00" stays
// "229.00" on the wire.
type Decimal struct {
	s string // canonical: -?(0|[1-9][0-9]*)(\.[0-9]+)?, or "" when unset
}

// ErrDecimalSyntax is returned for text that is not a decimal number.
var ErrDecimalSyntax = errors.New("invalid decimal syntax")

// ParseDecimal parses a plain decimal ("12", "-0.5", "229.00") or a JSON number with an
// exponent ("1.5E2"). Leading zeros of the integer part are dropped; the number of fraction
// digits (the scale) is kept.
func ParseDecimal(s string) (Decimal, error) {
	c, ok := canonicalDecimal(s)
	if !ok {
		return Decimal{}, fmt.Errorf("parse decimal %q: %w", Clip(s, 40), ErrDecimalSyntax)
	}
	return Decimal{s: c}, nil
}

// MustDecimal is ParseDecimal for constants in code and tests; it panics on bad syntax.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String returns the canonical text, or "" when unset.
func (d Decimal) String() string { return d.s }

// IsZero reports whether d is unset (the zero value). It is what `omitzero` consults, so an
// explicit numeric zero ("0.00") is still sent. Use Sign for the numeric test.
func (d Decimal) IsZero() bool { return d.s == "" }

// Sign returns -1, 0 or +1. An unset Decimal has sign 0.
func (d Decimal) Sign() int {
	switch {
	case d.s == "":
		return 0
	case d.s[0] == '-':
		return -1
	case strings.Trim(d.s, "0.") == "":
		return 0
	default:
		return 1
	}
}

// Scale is the number of digits after the decimal point as written.
func (d Decimal) Scale() int {
	if _, frac, ok := strings.Cut(d.s, "."); ok {
		return len(frac)
	}
	return 0
}

// Cmp compares numerically: "1.50" equals "1.5". An unset Decimal compares as zero.
func (d Decimal) Cmp(e Decimal) int { return d.rat().Cmp(e.rat()) }

// Equal reports numeric equality, ignoring scale.
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

func (d Decimal) rat() *big.Rat {
	r := new(big.Rat)
	if d.s != "" {
		r.SetString(d.s) // canonical text always parses
	}
	return r
}

// MarshalJSON writes the number literal itself (not a string), as Xero expects.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d.s == "" {
		return []byte("null"), nil
	}
	return []byte(d.s), nil
}

// UnmarshalJSON accepts a JSON number, null (unset), or — defensively — a string holding a
// number. It never goes through float64.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*d = Decimal{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decimal: %w", err)
		}
		b = []byte(strings.TrimSpace(s))
	}
	// json.Number's own validity rules are exactly the JSON number grammar.
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("decimal %q: %w", Clip(string(b), 40), ErrDecimalSyntax)
	}
	v, err := ParseDecimal(n.String())
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// canonicalDecimal validates s as [+-]digits[.digits][(e|E)[+-]digits] and returns the plain
// form with the exponent applied.
func canonicalDecimal(s string) (string, bool) {
	if s == "" || len(s) > 400 {
		return "", false
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		es := s[i+1:]
		eneg := false
		if es != "" && (es[0] == '+' || es[0] == '-') {
			eneg, es = es[0] == '-', es[1:]
		}
		if es == "" || len(es) > 3 || !allDigits(es) {
			return "", false
		}
		for _, c := range es {
			exp = exp*10 + int(c-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return "", false
	}
	// Apply the exponent by moving the decimal point over the digit string.
	digits := intPart + frac
	point := len(intPart) + exp
	scale := len(frac) - exp
	if scale < 0 {
		scale = 0
	}
	if point < 0 {
		digits = strings.Repeat("0", -point) + digits
		point = 0
	}
	if point > len(digits) {
		digits += strings.Repeat("0", point-len(digits))
	}
	ip, fp := digits[:point], digits[point:]
	if len(fp) > scale {
		fp = fp[:scale] // only zeros can be cut here: they came from padding
	}
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	out := ip
	if fp != "" {
		out += "." + fp
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
