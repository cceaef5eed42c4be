package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// The redaction tests of the users (config's TestSecretRedacted, xero's TestSecretNeverPrints)
// stay with them; this one checks the type on its own, with the methods only tokens use.
func TestValueRedactedAndCompared(t *testing.T) {
	t.Parallel()
	const raw = "super-secret-value"
	v := New(raw)
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, struct{ S Value }{v}))
	}
	j, _ := json.Marshal(map[string]any{"v": v, "m": map[Value]int{v: 1}})
	outs = append(outs, string(j), v.String(), v.GoString())
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("y", "v", v)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, "super") || strings.Contains(o, "7375706572") /* hex of "super" */ {
			t.Fatalf("secret leaked: %s", o)
		}
	}
	if v.Reveal() != raw || v.IsZero() || !New("").IsZero() {
		t.Error("Reveal or IsZero")
	}
	if !v.Equal(New(raw)) || v.Equal(New(raw+"x")) || v.Equal(Value{}) {
		t.Error("Equal")
	}
}
