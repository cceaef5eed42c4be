package xero

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWhereBuilders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field, value string
		want         string // "" when the value cannot be a literal
	}{
		{"EmailAddress", "jo@example.com", `EmailAddress=="jo@example.com"`},
		{"Name", "Zoë Ångström", `Name=="Zoë Ångström"`},
		{"Name", "O'Brien & Co, Ltd.", `Name=="O'Brien & Co, Ltd."`},
		// Xero answers a backslash-escaped quote with QueryParseException (Xero-Java#347), and
		// no other escape is known to work: these go by searchTerm instead.
		{"Name", `Bat "QUOTE" Man`, ""},
		{"Name", `trailing\`, ""},
		{"Name", `x\"`, ""},
		{"Name", "a\nb", ""},
		{"Name", "a\x01", ""},
		{"Name", "\xff", ""},
	}
	for _, tt := range tests {
		got, err := WhereEquals(tt.field, tt.value)
		switch {
		case tt.want == "" && !errors.Is(err, ErrInvalidRequest):
			t.Errorf("WhereEquals(%q) = %s, %v; want ErrInvalidRequest", tt.value, got, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("WhereEquals(%q) = %s, %v; want %s", tt.value, got, err, tt.want)
		}
		if WhereLiteralOK(tt.value) != (tt.want != "") {
			t.Errorf("WhereLiteralOK(%q) disagrees with WhereEquals", tt.value)
		}
	}
	if got := WhereOr(`ContactNumber=="a"`, "", `ContactNumber=="b"`); got != `(ContactNumber=="a")||(ContactNumber=="b")` {
		t.Errorf("WhereOr = %s", got)
	}
	g, err := WhereGUID("Invoice.InvoiceID", "8138A266-FB42-49B2-A104-014B7045753D")
	if err != nil || g != `Invoice.InvoiceID==Guid("8138a266-fb42-49b2-a104-014b7045753d")` {
		t.Errorf("WhereGUID = %s, %v", g, err)
	}
	if _, err := WhereGUID("Invoice.InvoiceID", `x") || true || Guid("`); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("WhereGUID accepted a non-GUID: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("WhereEquals accepted a field with an operator in it")
			}
		}()
		_, _ = WhereEquals(`Name=="x"||Name`, "y")
	}()
}

// cmpExpr is one parsed comparison.
type cmpExpr struct {
	field, op, value string
}

// parseFilter is a deliberately small parser of the one comparison WhereEquals emits, with C#
// string literal rules: a literal ends at the first unescaped quote.
func parseFilter(s string) (cmpExpr, error) {
	var c cmpExpr
	i := 0
	for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
		i++
	}
	if i == 0 {
		return c, fmt.Errorf("want field at %q", s)
	}
	c.field, s = s[:i], s[i:]
	if len(s) < 2 || (s[:2] != "==" && s[:2] != "!=") {
		return c, fmt.Errorf("want operator at %q", s)
	}
	c.op, s = s[:2], s[2:]
	v, rest, err := parseLiteral(s)
	if err != nil {
		return c, err
	}
	if rest != "" {
		return c, fmt.Errorf("trailing input %q", rest)
	}
	c.value = v
	return c, nil
}

func isIdent(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func parseLiteral(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("want literal at %q", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", errors.New("dangling backslash")
			}
			switch e := s[i+1]; e {
			case '\\', '"':
				b.WriteByte(e)
				i += 2
			case 'n':
				b.WriteByte('\n')
				i += 2
			case 'r':
				b.WriteByte('\r')
				i += 2
			case 't':
				b.WriteByte('\t')
				i += 2
			case 'u':
				if i+6 > len(s) {
					return "", "", errors.New("short \\u escape")
				}
				n, err := strconv.ParseUint(s[i+2:i+6], 16, 16)
				if err != nil {
					return "", "", err
				}
				b.WriteRune(rune(n))
				i += 6
			default:
				return "", "", fmt.Errorf("unknown escape \\%c", e)
			}
		default:
			if c < 0x20 {
				return "", "", errors.New("raw control character in literal")
			}
			b.WriteByte(c)
			i++
		}
	}
	return "", "", errors.New("unterminated literal")
}

func FuzzWhere(f *testing.F) {
	for _, s := range []string{"jo@example.com", `a"b`, `a\b`, `\`, `"`, `" || Name!=null || "`, `\" || true || \"`,
		"Zoë", "日本語", "\x00\n\r\t", "\xff\xfe", "", `x\"`, `\\"`} {
		f.Add("EmailAddress", s)
	}
	f.Add("Contact.Name", "x")
	f.Fuzz(func(t *testing.T, field, value string) {
		if !fieldPathRE.MatchString(field) {
			t.Skip()
		}
		expr, err := WhereEquals(field, value)
		if err != nil {
			if WhereLiteralOK(value) {
				t.Fatalf("WhereEquals(%q, %q) refused a literal-safe value: %v", field, value, err)
			}
			return
		}
		// What we send must read as the value itself under both candidate grammars: C#'s
		// escapes (parseFilter) and classic dynamic LINQ's doubled quotes, which agree
		// exactly when there is no quote, backslash or control character.
		got, err := parseFilter(expr)
		if err != nil {
			t.Fatalf("WhereEquals(%q, %q) = %s does not parse: %v", field, value, expr, err)
		}
		if got != (cmpExpr{field: field, op: "==", value: value}) {
			t.Fatalf("WhereEquals(%q, %q) = %s parses as %+v", field, value, expr, got)
		}
		if strings.ContainsAny(got.value, `"\`) || !utf8.ValidString(expr) {
			t.Fatalf("unsafe literal sent: %s", expr)
		}
	})
}
