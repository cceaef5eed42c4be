package xero

import (
	"fmt"
	"regexp"
	"strings"
)

// Builders for Xero's `where` query parameter.
//
// Xero's filter language is C#-like (LINQ): field paths, ==, !=, &&, ||, method calls such as
// ToLower(), string literals in double quotes and Guid("…") literals. Values that come from
// our users (an email, a name) must find exactly the record they name and must never change
// the shape of the filter, so every literal goes through quoteString.
//
// Escaping: inside a literal we escape `\` and `"` with a backslash (and control characters
// as \uXXXX). It is not documented which escape Xero's parser honours: public reports show
// QueryParseException for quotes escaped either way (XeroAPI/Xero-Java#347; others double the
// quote). Backslash escaping is the one that fails closed under both readings: under a
// doubled-quote grammar every quote we emit is preceded by a backslash, which is not a valid
// token outside a literal, so a hostile value yields a syntax error rather than a different
// filter (doubling quotes, by contrast, is injectable under a backslash grammar). Because of
// that uncertainty, lookups of user-entered text (FindContactsByEmail) use `searchTerm`, a
// plain parameter with no grammar, and match exactly in Go; where() is used for GUIDs,
// enumerations and our own identifiers.

var fieldPathRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$`)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkField panics on a field path that is not an identifier path. Field names are constants
// in our code, never user input, so a bad one is a programming error.
func checkField(field string) {
	if !fieldPathRE.MatchString(field) {
		panic(fmt.Sprintf("xero: invalid where field %q", field))
	}
}

// WhereEquals returns `field=="value"`, with value quoted so that it is compared literally.
// Xero compares strings case-sensitively with == (XERO.md §4).
func WhereEquals(field, value string) string {
	checkField(field)
	return field + "==" + quoteString(value)
}

// WhereGUID returns `field==Guid("id")`. It returns an error for an id that is not a GUID,
// which also guarantees the id cannot break out of the literal.
func WhereGUID(field, id string) (string, error) {
	checkField(field)
	if !guidRE.MatchString(id) {
		return "", fmt.Errorf("where %s: %q is not a GUID: %w", field, truncate(id, 40), ErrInvalidRequest)
	}
	return field + `==Guid("` + strings.ToLower(id) + `")`, nil
}

// WhereOr joins expressions with ||, each parenthesised so that an operator inside one cannot
// bind across the others. Empty expressions are left out.
func WhereOr(exprs ...string) string {
	parts := make([]string, 0, len(exprs))
	for _, e := range exprs {
		if e != "" {
			parts = append(parts, "("+e+")")
		}
	}
	return strings.Join(parts, "||")
}

// quoteString renders s as a double-quoted literal. Invalid UTF-8 is replaced by U+FFFD
// first: the value reaches Xero URL-encoded as UTF-8, and a stray byte has no meaning there.
func quoteString(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
