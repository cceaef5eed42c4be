package xerosim

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// This file implements the subset of Xero's `where` filter language that
// xerosync and its tests use. Xero evaluates `where` with .NET dynamic LINQ
// (XERO.md §4): string literals in double quotes, `==`/`!=`, `&&`/`||` (also
// AND/OR), `!`, parentheses, `null`, `true`/`false`, `Guid("…")`, and the
// string methods ToLower(), ToUpper(), Trim(), Contains(), StartsWith() and
// EndsWith().
//
// String literals follow classic System.Linq.Dynamic, whose error messages
// Xero's are ("Syntax error", "No property or field 'Bat' exists in type
// 'Contact'", "Character literal must contain exactly one character":
// XeroAPI/Xero-Java#347, waynerobinson/xeroizer#160 and #454): a literal ends
// at the next quote, a backslash is an ordinary character, and a doubled
// quote ("") stands for one quote. So a backslash-escaped quote ends the
// literal early and the rest is a syntax error, which is what Xero answers:
// Name=="asd\"asd'asd\"" gives 400 {"ErrorNumber":16,"Type":
// "QueryParseException","Message":"Syntax error"} (Xero-Java#347). The doubled
// quote is that grammar's rule, not confirmed on Xero (XERO.md §4). Lexing is
// lazy, as in that parser: a bad token is reported only when the parser
// reaches it, so the first error in the text is the one returned.
//
// Behaviours that are deliberate because clients trip on them in real Xero:
//   - `==` on strings is case-sensitive (reported by users; XERO.md §4),
//     except on a type's optimised fields (see foldedStrVal).
//   - Calling a method on a field that is unset (null) is an error, which is
//     why Xero's own guidance writes `EmailAddress!=null&&EmailAddress.ToLower()==…`.
//     The simulator answers such a filter with a 400, so a client that forgets
//     the guard fails loudly in tests instead of silently in production.
//
// Error texts imitate dynamic LINQ's (hence capitalised): they are returned
// to the client as the QueryParseException message, not wrapped in Go.

type valueKind int

const (
	vNull valueKind = iota
	vString
	vBool
	vNumber
	vGUID
)

type whereValue struct {
	kind valueKind
	s    string
	b    bool
	n    dec
	// fold marks a string from one of Xero's optimised fields, which
	// compare ignoring case and accents (see foldedStrVal).
	fold bool
}

func strVal(s string) whereValue {
	if s == "" {
		// Xero's optional string fields are null when unset, not "".
		return whereValue{kind: vNull}
	}
	return whereValue{kind: vString, s: s}
}

// foldedStrVal is strVal for one of a type's optimised where fields. Xero's
// Contacts documentation says the optimised fields (Name, EmailAddress,
// AccountNumber; the list is also in cdn.cdata.com's Xero Contacts table
// doc) match ignoring case and accents (XERO.md §4), unlike `==` elsewhere:
// "bob@example.com" finds "Bob@Example.com" and "Zoe" finds "Zoë".
func foldedStrVal(s string) whereValue {
	v := strVal(s)
	v.fold = v.kind == vString
	return v
}

// foldKey is what a folded comparison compares: the string without its
// combining marks (after canonical decomposition, so "ë" loses its
// diaeresis), in lower case.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return strings.ToLower(b.String())
}

func boolVal(b bool) whereValue   { return whereValue{kind: vBool, b: b} }
func numVal(n dec) whereValue     { return whereValue{kind: vNumber, n: n} }
func guidVal(s string) whereValue { return whereValue{kind: vGUID, s: s} }

// whereFields maps field names (dotted for nested, e.g. "Invoice.InvoiceID")
// to values for one entity. typeName is used in error messages.
type whereFields struct {
	typeName string
	fields   map[string]whereValue
}

func (f whereFields) lookup(name string) (whereValue, error) {
	for k, v := range f.fields {
		// Dynamic LINQ resolves member names without regard to case.
		if strings.EqualFold(k, name) {
			return v, nil
		}
	}
	return whereValue{}, fmt.Errorf("No property or field '%s' exists in type '%s'", name, f.typeName)
}

type whereExpr interface {
	eval(f whereFields) (whereValue, error)
}

// compileWhere parses a filter. An empty filter matches everything.
func compileWhere(src string) (whereExpr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	p := &whereParser{toks: lexWhere(src)}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tEOF:
	case tError:
		return nil, errors.New(t.text)
	default:
		// Xero's wording for input left over after a whole expression
		// (Xero-Java#347).
		return nil, errors.New("Syntax error")
	}
	return e, nil
}

// matchWhere evaluates a compiled, non-nil filter against one entity.
func matchWhere(e whereExpr, f whereFields) (bool, error) {
	v, err := e.eval(f)
	if err != nil {
		return false, err
	}
	if v.kind != vBool {
		return false, fmt.Errorf("Expression of type 'Boolean' expected")
	}
	return v.b, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tDot
	tComma
	tChar  // 'x': a character literal
	tError // a lexing error, reported when the parser reaches it
)

type token struct {
	kind tokKind
	text string
}

func lexWhere(src string) []token {
	var toks []token
	rs := []rune(src)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"' || c == '\'':
			// Classic dynamic LINQ: the literal runs to the next quote; a
			// doubled quote continues it and stands for one quote.
			var b strings.Builder
			i++
			closed := false
			for i < len(rs) {
				if rs[i] == c {
					if i+1 < len(rs) && rs[i+1] == c {
						b.WriteRune(c)
						i += 2
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			if !closed {
				return append(toks, token{tError, "Unterminated string literal"}, token{kind: tEOF})
			}
			kind := tString
			if c == '\'' {
				kind = tChar
			}
			toks = append(toks, token{kind, b.String()})
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_') {
				j++
			}
			toks = append(toks, token{tIdent, string(rs[i:j])})
			i = j
		case unicode.IsDigit(c) || (c == '-' && i+1 < len(rs) && unicode.IsDigit(rs[i+1])):
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, string(rs[i:j])})
			i = j
		case c == '(':
			toks = append(toks, token{tLParen, "("})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")"})
			i++
		case c == '.':
			toks = append(toks, token{tDot, "."})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ","})
			i++
		default:
			two := ""
			if i+1 < len(rs) {
				two = string(rs[i : i+2])
			}
			switch two {
			case "==", "!=", ">=", "<=", "&&", "||":
				toks = append(toks, token{tOp, two})
				i += 2
				continue
			}
			switch c {
			case '>', '<', '!', '=':
				op := string(c)
				if c == '=' {
					op = "==" // dynamic LINQ accepts a single '=' as equality
				}
				toks = append(toks, token{tOp, op})
				i++
			default:
				return append(toks, token{tError, fmt.Sprintf("Syntax error '%c'", c)}, token{kind: tEOF})
			}
		}
	}
	return append(toks, token{kind: tEOF})
}

type whereParser struct {
	toks []token
	pos  int
}

func (p *whereParser) peek() token { return p.toks[p.pos] }
func (p *whereParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *whereParser) isKeyword(words ...string) bool {
	t := p.peek()
	if t.kind != tIdent {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func (p *whereParser) parseOr() (whereExpr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for (p.peek().kind == tOp && p.peek().text == "||") || p.isKeyword("OR") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = logicExpr{op: "||", l: left, r: right}
	}
	return left, nil
}

func (p *whereParser) parseAnd() (whereExpr, error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for (p.peek().kind == tOp && p.peek().text == "&&") || p.isKeyword("AND") {
		p.next()
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		left = logicExpr{op: "&&", l: left, r: right}
	}
	return left, nil
}

func (p *whereParser) parseNot() (whereExpr, error) {
	if (p.peek().kind == tOp && p.peek().text == "!") || p.isKeyword("NOT") {
		p.next()
		e, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	return p.parseCmp()
}

func (p *whereParser) parseCmp() (whereExpr, error) {
	left, err := p.parsePostfix()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tOp {
		switch t.text {
		case "==", "!=", ">", "<", ">=", "<=":
			p.next()
			right, err := p.parsePostfix()
			if err != nil {
				return nil, err
			}
			return cmpExpr{op: t.text, l: left, r: right}, nil
		}
	}
	return left, nil
}

func (p *whereParser) parsePostfix() (whereExpr, error) {
	t := p.next()
	var e whereExpr
	switch t.kind {
	case tString:
		e = litExpr{whereValue{kind: vString, s: t.text}}
	case tChar:
		if len([]rune(t.text)) != 1 {
			// Xero's message (waynerobinson/xeroizer#454).
			return nil, errors.New("Character literal must contain exactly one character")
		}
		e = litExpr{whereValue{kind: vString, s: t.text}}
	case tError:
		return nil, errors.New(t.text)
	case tNumber:
		n, err := parseDec(t.text)
		if err != nil {
			return nil, fmt.Errorf("Invalid number '%s'", t.text)
		}
		e = litExpr{numVal(n)}
	case tLParen:
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRParen {
			return nil, fmt.Errorf("')' expected")
		}
		e = inner
	case tIdent:
		switch strings.ToLower(t.text) {
		case "null":
			e = litExpr{whereValue{kind: vNull}}
		case "true":
			e = litExpr{boolVal(true)}
		case "false":
			e = litExpr{boolVal(false)}
		case "guid":
			if p.peek().kind != tLParen {
				return nil, fmt.Errorf("'(' expected")
			}
			p.next()
			arg := p.next()
			if arg.kind != tString || p.next().kind != tRParen {
				return nil, fmt.Errorf("Guid(\"…\") expects one string literal")
			}
			if !isGUID(arg.text) {
				return nil, fmt.Errorf("Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
			}
			e = litExpr{guidVal(arg.text)}
		default:
			path := t.text
			// A dotted path is a nested field until a segment is followed by
			// '(' — then that segment is a method on what came before.
			for p.peek().kind == tDot && p.toks[p.pos+1].kind == tIdent && p.toks[p.pos+2].kind != tLParen {
				p.next()
				path += "." + p.next().text
			}
			e = fieldExpr{path}
		}
	default:
		return nil, fmt.Errorf("Expression expected")
	}
	for p.peek().kind == tDot {
		p.next()
		name := p.next()
		if name.kind != tIdent || p.next().kind != tLParen {
			return nil, fmt.Errorf("Method call expected after '.'")
		}
		var args []whereExpr
		if p.peek().kind != tRParen {
			for {
				a, err := p.parseOr()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.peek().kind != tComma {
					break
				}
				p.next()
			}
		}
		if p.next().kind != tRParen {
			return nil, fmt.Errorf("')' expected")
		}
		e = methodExpr{target: e, name: name.text, args: args}
	}
	return e, nil
}

type litExpr struct{ v whereValue }

func (e litExpr) eval(whereFields) (whereValue, error) { return e.v, nil }

type fieldExpr struct{ path string }

func (e fieldExpr) eval(f whereFields) (whereValue, error) { return f.lookup(e.path) }

type notExpr struct{ e whereExpr }

func (e notExpr) eval(f whereFields) (whereValue, error) {
	v, err := e.e.eval(f)
	if err != nil {
		return v, err
	}
	if v.kind != vBool {
		return v, fmt.Errorf("Operator '!' incompatible with operand type")
	}
	return boolVal(!v.b), nil
}

type logicExpr struct {
	op   string
	l, r whereExpr
}

func (e logicExpr) eval(f whereFields) (whereValue, error) {
	l, err := e.l.eval(f)
	if err != nil {
		return l, err
	}
	if l.kind != vBool {
		return l, fmt.Errorf("Operator '%s' incompatible with operand types", e.op)
	}
	// Short-circuit like C#: this is what makes `X!=null&&X.ToLower()==…` safe.
	if e.op == "&&" && !l.b {
		return boolVal(false), nil
	}
	if e.op == "||" && l.b {
		return boolVal(true), nil
	}
	r, err := e.r.eval(f)
	if err != nil {
		return r, err
	}
	if r.kind != vBool {
		return r, fmt.Errorf("Operator '%s' incompatible with operand types", e.op)
	}
	return r, nil
}

type cmpExpr struct {
	op   string
	l, r whereExpr
}

func (e cmpExpr) eval(f whereFields) (whereValue, error) {
	l, err := e.l.eval(f)
	if err != nil {
		return l, err
	}
	r, err := e.r.eval(f)
	if err != nil {
		return r, err
	}
	c, comparable, err := compareValues(l, r, e.op)
	if err != nil {
		return whereValue{}, err
	}
	switch e.op {
	case "==":
		return boolVal(comparable && c == 0), nil
	case "!=":
		return boolVal(!comparable || c != 0), nil
	}
	if !comparable {
		return boolVal(false), nil
	}
	switch e.op {
	case ">":
		return boolVal(c > 0), nil
	case "<":
		return boolVal(c < 0), nil
	case ">=":
		return boolVal(c >= 0), nil
	default:
		return boolVal(c <= 0), nil
	}
}

// compareValues orders two values. comparable is false when either side is
// null (null equals only null).
func compareValues(l, r whereValue, op string) (c int, comparable bool, err error) {
	if l.kind == vNull || r.kind == vNull {
		if l.kind == vNull && r.kind == vNull {
			return 0, true, nil
		}
		return 0, false, nil
	}
	switch {
	case (l.kind == vGUID || r.kind == vGUID) && (l.kind == vGUID || l.kind == vString) && (r.kind == vGUID || r.kind == vString):
		return strings.Compare(strings.ToLower(l.s), strings.ToLower(r.s)), true, nil
	case l.kind == vString && r.kind == vString && (l.fold || r.fold):
		return strings.Compare(foldKey(l.s), foldKey(r.s)), true, nil
	case l.kind == vString && r.kind == vString:
		// Ordinal and case-sensitive, as reported for Xero's `==`.
		return strings.Compare(l.s, r.s), true, nil
	case l.kind == vNumber && r.kind == vNumber:
		return l.n.Cmp(r.n), true, nil
	case l.kind == vBool && r.kind == vBool:
		if l.b == r.b {
			return 0, true, nil
		}
		if !l.b {
			return -1, true, nil
		}
		return 1, true, nil
	}
	return 0, false, fmt.Errorf("Operator '%s' incompatible with operand types", op)
}

type methodExpr struct {
	target whereExpr
	name   string
	args   []whereExpr
}

func (e methodExpr) eval(f whereFields) (whereValue, error) {
	t, err := e.target.eval(f)
	if err != nil {
		return t, err
	}
	if t.kind == vNull {
		// What .NET throws when a method is called on a null field.
		return t, fmt.Errorf("Object reference not set to an instance of an object. (%s() on a null value)", e.name)
	}
	if t.kind != vString {
		return t, fmt.Errorf("No applicable method '%s' exists in type", e.name)
	}
	var args []string
	for _, a := range e.args {
		v, err := a.eval(f)
		if err != nil {
			return v, err
		}
		if v.kind != vString {
			return v, fmt.Errorf("No applicable method '%s' exists for these arguments", e.name)
		}
		args = append(args, v.s)
	}
	// On an optimised field the search methods ignore case and accents like
	// `==` (an inference: Xero documents the fields' matching, not each
	// method's). ToLower() and the like return a plain string.
	subject := t.s
	if t.fold {
		subject = foldKey(t.s)
		for i := range args {
			args[i] = foldKey(args[i])
		}
	}
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("No applicable method '%s' exists for %d arguments", e.name, len(args))
		}
		return nil
	}
	switch strings.ToLower(e.name) {
	case "tolower":
		if err := want(0); err != nil {
			return t, err
		}
		return whereValue{kind: vString, s: strings.ToLower(t.s)}, nil
	case "toupper":
		if err := want(0); err != nil {
			return t, err
		}
		return whereValue{kind: vString, s: strings.ToUpper(t.s)}, nil
	case "trim":
		if err := want(0); err != nil {
			return t, err
		}
		return whereValue{kind: vString, s: strings.TrimSpace(t.s)}, nil
	case "contains":
		if err := want(1); err != nil {
			return t, err
		}
		return boolVal(strings.Contains(subject, args[0])), nil
	case "startswith":
		if err := want(1); err != nil {
			return t, err
		}
		return boolVal(strings.HasPrefix(subject, args[0])), nil
	case "endswith":
		if err := want(1); err != nil {
			return t, err
		}
		return boolVal(strings.HasSuffix(subject, args[0])), nil
	}
	return t, fmt.Errorf("No applicable method '%s' exists in type 'String'", e.name)
}
