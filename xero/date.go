package xero

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Date is a calendar date with no time zone (an invoice's Date, a lock date). Requests carry
// it as "YYYY-MM-DD"; responses carry either the MS-JSON form "/Date(1539129600000+0000)/" or
// "2018-10-10T00:00:00" (XERO.md §9), and both parse.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ErrDateSyntax is returned for a date or timestamp in none of the forms Xero uses.
var ErrDateSyntax = errors.New("invalid date syntax")

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD", "YYYY-MM-DDThh:mm:ss[.fff][zone]" or "/Date(ms[±hhmm])/".
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/Date(") {
		t, err := parseMSDate(s)
		if err != nil {
			return Date{}, err
		}
		// Xero encodes a calendar date as midnight UTC of that date; the offset is a display
		// hint, so the UTC date is the date meant.
		return DateOf(t.UTC()), nil
	}
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return DateOf(t), nil
		}
	}
	return Date{}, fmt.Errorf("parse date %q: %w", Clip(s, 40), ErrDateSyntax)
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String is "YYYY-MM-DD", the request form.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Time returns midnight of d in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.Time(time.UTC).Before(e.Time(time.UTC)) }

// After reports whether d is later than e.
func (d Date) After(e Date) bool { return d.Time(time.UTC).After(e.Time(time.UTC)) }

// MarshalJSON writes "YYYY-MM-DD", or null when unset.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON accepts every form ParseDate does, null and "" (both unset).
func (d *Date) UnmarshalJSON(b []byte) error { return unmarshalJSONString(b, d, ParseDate) }

// Time is an instant from a Xero response (UpdatedDateUTC, a connection's createdDateUtc).
// It parses "/Date(ms[±hhmm])/", RFC 3339 and the zone-less "2019-12-07T18:46:19.5165400",
// which Xero means as UTC.
type Time struct{ time.Time }

// ParseTime parses the forms described on Time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/Date(") {
		return parseMSDate(s)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: %w", Clip(s, 40), ErrDateSyntax)
}

// MarshalJSON writes RFC 3339 (we never send instants to Xero; this is for our own logs).
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// UnmarshalJSON accepts every form ParseTime does, null and "".
func (t *Time) UnmarshalJSON(b []byte) error { return unmarshalJSONString(b, &t.Time, ParseTime) }

var msDateRE = regexp.MustCompile(`^/Date\((-?\d{1,15})([+-]\d{4})?\)/$`)

func parseMSDate(s string) (time.Time, error) {
	m := msDateRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("parse date %q: %w", Clip(s, 40), ErrDateSyntax)
	}
	ms, _ := strconv.ParseInt(m[1], 10, 64) // at most 15 digits: always fits
	// The milliseconds are UTC; the optional offset only says where it was displayed.
	return time.UnixMilli(ms).UTC(), nil
}

// unmarshalJSONString decodes the JSON string b with parse into dst. null and "" leave dst
// unset (zero); a value parse refuses leaves dst unchanged.
func unmarshalJSONString[T any](b []byte, dst *T, parse func(string) (T, error)) error {
	b = bytes.TrimSpace(b)
	var s string
	if string(b) != "null" {
		if err := json.Unmarshal(b, &s); err != nil {
			*dst = *new(T)
			return fmt.Errorf("date: want a JSON string: %w", ErrDateSyntax)
		}
	}
	if s == "" {
		*dst = *new(T)
		return nil
	}
	v, err := parse(s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
