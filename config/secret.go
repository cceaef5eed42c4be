package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted is what a Secret shows instead of its value, everywhere.
const redacted = "[redacted]"

// Secret is a configuration value that must never reach a log line, an error
// message, a status page or a core dump printed by fmt. Every rendering of it
// (fmt verbs including %#v, String, GoString, text, JSON, slog) gives
// "[redacted]", also when it is empty, so output does not even hint at a
// secret's length. Reveal is the one way to the value; call it only where the
// value is handed to the thing that needs it (a driver, an HTTP request).
type Secret string

// Reveal returns the secret's real value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", so %#v of a struct holding a Secret is safe.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb, not only those that
// consult String (%v %s %q %x), prints "[redacted]": without it %d or %X on
// the underlying string would fall through to fmt's own rendering paths.
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// MarshalText returns "[redacted]"; encoders that use it (TOML, slog's text
// handler, JSON map keys) never see the value.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns the JSON string "[redacted]".
func (Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// LogValue implements slog.LogValuer: a Secret logged as an attribute is
// "[redacted]" whatever the handler.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
