// Package secret holds the one redacting type of xerosync: a credential (a database URL, the
// Xero client secret, the token key, an OAuth token) that must never reach a log line, an
// error message, a status page or anything printed by fmt. It imports nothing of ours, so
// config and xero can both use it (each names it Secret).
//
// Value is a struct, not a string type: a string(v) conversion would bypass Reveal silently,
// and encoding/json writes a string-kinded map key as is, without asking MarshalText.
package secret

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Redacted is what a Value shows instead of its value, everywhere.
const Redacted = "[redacted]"

// Value is a secret. Every rendering of it (fmt verbs including %#v and %x, String,
// GoString, text, JSON, slog) gives "[redacted]", also when it is empty, so output does not
// even hint at a secret's length. Reveal is the one way to the value; call it only where the
// value is handed to the thing that needs it (a driver, an HTTP request, the seal).
type Value struct{ v string }

// New wraps s.
func New(s string) Value { return Value{v: s} }

// Reveal returns the secret's real value.
func (v Value) Reveal() string { return v.v }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v.v == "" }

// Equal compares in constant time, so that comparing a token does not leak how much of it
// matched.
func (v Value) Equal(o Value) bool {
	return subtle.ConstantTimeCompare([]byte(v.v), []byte(o.v)) == 1
}

// String returns "[redacted]".
func (Value) String() string { return Redacted }

// GoString returns "[redacted]", so %#v of a struct holding a Value is safe.
func (Value) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb, not only those that consult String
// (%v %s %q %x), prints "[redacted]": without it %d or %X on the underlying string would
// fall through to fmt's own rendering paths.
func (Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(Redacted))
		return
	}
	_, _ = io.WriteString(f, Redacted)
}

// MarshalText returns "[redacted]"; encoders that use it (TOML, slog's text handler, JSON
// map keys) never see the value.
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON returns the JSON string "[redacted]".
func (Value) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// LogValue implements slog.LogValuer: a Value logged as an attribute is "[redacted]"
// whatever the handler.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }
