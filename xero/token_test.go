package xero

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const raw = "eyJhbGciOiJSUzI1NiJ9.super-secret-token"
	set := TokenSet{AccessToken: NewSecret(raw), RefreshToken: NewSecret(raw + "-refresh"), Expiry: time.Now(), Scope: "offline_access"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, set.AccessToken), fmt.Sprintf(verb, set), fmt.Sprintf(verb, &set))
	}
	outs = append(outs, set.String(), set.AccessToken.String())
	// Types holding secrets in unexported fields redact themselves.
	c, _ := New(Config{ClientID: "id", ClientSecret: "super-secret-client"})
	outs = append(outs, fmt.Sprintf("%v %+v %#v", c, c, c))
	j, _ := json.Marshal(set)
	outs = append(outs, string(j))
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "token", set.AccessToken, "set", set, "ptr", &set)
	log.Info("y", slog.Any("secret", set.RefreshToken))
	outs = append(outs, buf.String())
	var tb bytes.Buffer
	slog.New(slog.NewTextHandler(&tb, nil)).Info("z", "set", set)
	outs = append(outs, tb.String())
	for _, o := range outs {
		if strings.Contains(o, "super-secret") || strings.Contains(o, "73757065") /* hex of "supe" */ {
			t.Fatalf("secret leaked: %s", o)
		}
	}
	if set.AccessToken.Reveal() != raw {
		t.Fatal("Reveal lost the value")
	}
}

func TestTokenSetFromUsesOurClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := (&oauth2.Token{AccessToken: "a", RefreshToken: "r", ExpiresIn: 1800}).WithExtra(map[string]any{"scope": "offline_access accounting.contacts"})
	ts := TokenSetFrom(tok, now)
	if !ts.Expiry.Equal(now.Add(30*time.Minute)) || ts.Scope != "offline_access accounting.contacts" {
		t.Fatalf("got %v", ts)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
