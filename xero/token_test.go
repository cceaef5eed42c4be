package xero

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
	st, _ := NewTokenStore(TokenStoreConfig{DB: (*pgxpool.Pool)(nil), Key: []byte("super-secret-key-0123456789abcde")})
	src := st.Source("t")
	src.cached = NewSecret(raw)
	outs = append(outs, fmt.Sprintf("%v %+v %#v", c, c, c), fmt.Sprintf("%v %+v %#v", st, st, st), fmt.Sprintf("%v %+v %#v", src, src, src))
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
	ts := tokenSetFrom(tok, now)
	if !ts.Expiry.Equal(now.Add(30*time.Minute)) || ts.Scope != "offline_access accounting.contacts" {
		t.Fatalf("got %v", ts)
	}
}
