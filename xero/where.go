package xero

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Builders for Xero's `where` query parameter.
//
// Xero's filter language is C#-like (LINQ): field paths, ==, !=, &&, ||, method calls such as
// ToLower(), string literals in double quotes and Guid("…") literals. Values that come from
// our users (an email, a name) must find exactly the record they name and must never change
// the shape of the filter, so every literal goes through WhereEquals.
//
// Literals: Xero has no escape we can use. A backslash escape (`Name=="O\"Brien"`) is refused
// with 400 {"ErrorNumber":16,"Type":"QueryParseException","Message":"Syntax error"}
// (XeroAPI/Xero-Java#347; testdata/xero-java-347-where-backslash-quote.json), and Xero's
// parse errors ("Syntax error", "No property or field 'Bat' exists in type 'Contact'",
// "Character literal must contain exactly one character": waynerobinson/xeroizer#160, #454)
// are those of classic System.Linq.Dynamic, whose lexer ends a string at the next quote
// unless the quote is doubled and gives a backslash no meaning. That reading is an inference
// (XERO.md §4), and under the other common grammar (System.Linq.Dynamic.Core) a backslash
// does escape. So a literal is the value between two quotes, unchanged, and only a value
// that both grammars read the same way may be one: no `"`, no `\`, no control characters.
// Any other value goes another way (WhereLiteralOK says which): `searchTerm`, a plain
// parameter with no grammar, then an exact match in Go. Lookups of user-entered text
// (FindContactsByEmail) always go that way; `where` is for GUIDs, enumerations and our own
// identifiers.

var fieldPathRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$`)

// isGUID accepts Xero's GUIDs in their one written form, 8-4-4-4-12 hex digits (google/uuid
// also reads braced, urn: and undashed forms, which Xero's Guid("…") does not take).
func isGUID(s string) bool { return len(s) == 36 && uuid.Validate(s) == nil }

// checkField panics on a field path that is not an identifier path. Field names are constants
// in our code, never user input, so a bad one is a programming error.
func checkField(field string) {
	if !fieldPathRE.MatchString(field) {
		panic(fmt.Sprintf("xero: invalid where field %q", field))
	}
}

// WhereEquals returns `field=="value"`, compared literally. It refuses (ErrInvalidRequest) a
// value that cannot be a literal (see WhereLiteralOK): no escape of Xero's keeps it intact.
// Xero compares strings case-sensitively with ==, except on its optimised fields (Name,
// EmailAddress, AccountNumber on Contacts), which ignore case and accents (XERO.md §4).
func WhereEquals(field, value string) (string, error) {
	checkField(field)
	if !WhereLiteralOK(value) {
		return "", fmt.Errorf("where %s: %q cannot be a where literal (quote, backslash or control character): %w", field, Clip(value, 40), ErrInvalidRequest)
	}
	return field + `=="` + value + `"`, nil
}

// WhereLiteralOK reports whether value can be sent as a `where` string literal: valid UTF-8
// without `"`, `\` or control characters, which every candidate grammar of Xero's reads as
// the value itself.
func WhereLiteralOK(value string) bool {
	if !utf8.ValidString(value) {
		return false
	}
	for _, r := range value {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// WhereGUID returns `field==Guid("id")`. It returns an error for an id that is not a GUID,
// which also guarantees the id cannot break out of the literal.
func WhereGUID(field, id string) (string, error) {
	checkField(field)
	if !isGUID(id) {
		return "", fmt.Errorf("where %s: %q is not a GUID: %w", field, Clip(id, 40), ErrInvalidRequest)
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
