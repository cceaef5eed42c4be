package xerosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// jsonRaw is one undecoded JSON value.
type jsonRaw = json.RawMessage

// obj is one element of a request body, kept undecoded so the simulator can
// tell "field omitted" (keep the stored value, as Xero's POST does) from
// "field sent empty" (clear it), and so numbers stay exact text.
//
// Keys are looked up exactly first, then without regard to case: Xero's
// .NET deserialiser matches property names case-insensitively, so a client
// sending "name" gets the same result it would from Xero.
type obj map[string]jsonRaw

func decodeObj(b []byte) (obj, error) {
	var o obj
	if err := unmarshalNumber(b, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if o == nil {
		return nil, fmt.Errorf("%w: expected a JSON object", errBadBody)
	}
	return o, nil
}

func unmarshalNumber(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("unexpected data after JSON value")
	}
	return nil
}

// raw returns the field's JSON, treating null as absent.
func (o obj) raw(name string) (jsonRaw, bool) {
	v, ok := o[name]
	if !ok {
		for k, kv := range o {
			if strings.EqualFold(k, name) {
				v, ok = kv, true
				break
			}
		}
	}
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil, false
	}
	return v, true
}

func (o obj) has(name string) bool {
	_, ok := o.raw(name)
	return ok
}

// str reads a string field. A JSON number or bool is accepted and converted
// the way a lenient .NET deserialiser does ("AccountCode": 200 is "200").
func (o obj) str(name string) (string, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, true, nil
	}
	t := strings.TrimSpace(string(v))
	if t == "true" || t == "false" || (len(t) > 0 && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))) {
		return t, true, nil
	}
	return "", true, fmt.Errorf("%s must be a string", name)
}

// strOr is str for fields where a type error can be folded into "absent".
func (o obj) strOr(name string) string {
	s, _, _ := o.str(name)
	return s
}

// decimal reads a number field, as a JSON number or numeric string, exactly.
func (o obj) decimal(name string) (dec, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return dec{}, false, nil
	}
	t := strings.TrimSpace(string(v))
	if strings.HasPrefix(t, `"`) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return dec{}, true, fmt.Errorf("%s must be a number", name)
		}
		t = s
	}
	d, err := parseDec(t)
	if err != nil {
		return dec{}, true, fmt.Errorf("%s must be a number", name)
	}
	return d, true, nil
}

// date reads a date field in any form parseRequestDate accepts. The error
// is the validation message the client sees, so it names the field and
// the form Xero asks for rather than wrapping the parse error.
func (o obj) date(name string) (time.Time, bool, error) {
	v, ok, err := o.str(name)
	if err != nil || !ok {
		return time.Time{}, ok, err
	}
	d, err := parseRequestDate(v)
	if err != nil {
		return time.Time{}, true, fmt.Errorf("%s must be a valid date (YYYY-MM-DD).", name)
	}
	return d, true, nil
}

func (o obj) boolean(name string) (bool, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(strings.Trim(strings.TrimSpace(string(v)), `"`)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, true, fmt.Errorf("%s must be true or false", name)
}

// child reads a nested object field such as Contact or Invoice.
func (o obj) child(name string) (obj, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false, nil
	}
	c, err := decodeObj(v)
	if err != nil {
		return nil, true, fmt.Errorf("%s must be an object", name)
	}
	return c, true, nil
}

// children reads an array-of-objects field such as LineItems.
func (o obj) children(name string) ([]obj, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false, nil
	}
	var items []jsonRaw
	if err := unmarshalNumber(v, &items); err != nil {
		return nil, true, fmt.Errorf("%s must be an array", name)
	}
	out := make([]obj, 0, len(items))
	for _, it := range items {
		c, err := decodeObj(it)
		if err != nil {
			return nil, true, fmt.Errorf("%s must be an array of objects", name)
		}
		out = append(out, c)
	}
	return out, true, nil
}

// echo returns the element as sent with Xero's error fields added, which is
// how Xero reports a failed element ("the element as sent, echoed with Xero
// fields", XERO.md §8).
func (o obj) echo(errs []string, hasErrorsField string) map[string]any {
	m := make(map[string]any, len(o)+3)
	for k, v := range o {
		m[k] = v
	}
	ves := make([]validationError, 0, len(errs))
	for _, e := range errs {
		ves = append(ves, validationError{Message: e})
	}
	m[hasErrorsField] = true
	m["StatusAttributeString"] = "ERROR"
	m["ValidationErrors"] = ves
	return m
}

// withNumbers returns a copy of o in which the named fields, if sent as
// numeric strings, are JSON numbers. Xero echoes a failed element after its
// deserialiser has read it into typed properties, so "Amount":"10" comes
// back as 10; echoing the raw string would show a shape Xero never returns.
func (o obj) withNumbers(fields ...string) obj {
	cp := maps.Clone(o)
	for k, v := range cp {
		for _, f := range fields {
			if !strings.EqualFold(k, f) {
				continue
			}
			var s string
			if json.Unmarshal(v, &s) == nil {
				if d, err := parseDec(s); err == nil {
					cp[k] = jsonRaw(d.rat().FloatString(max(d.Places(), 0)))
				}
			}
		}
	}
	return cp
}

// withNumbersIn applies withNumbers to each object of an array field, such
// as LineItems.
func (o obj) withNumbersIn(array string, fields ...string) obj {
	items, ok, err := o.children(array)
	if !ok || err != nil {
		return o
	}
	out := make([]obj, 0, len(items))
	for _, it := range items {
		out = append(out, it.withNumbers(fields...))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return o
	}
	cp := o.withNumbers()
	for k := range cp {
		if strings.EqualFold(k, array) {
			cp[k] = b
		}
	}
	return cp
}
