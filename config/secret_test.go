package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/internal/secret"
)

const canary = "hunter2-canary"

// secretConfig is a Config with every secret set to something holding the
// canary.
func secretConfig() *Config {
	cfg := defaults()
	cfg.Database.URL = secret.New("postgres://u:" + canary + "@db/x")
	cfg.Xero.ClientSecret = secret.New(canary)
	cfg.Token.Key = secret.New(canary)
	return cfg
}

func TestSecretRedacted(t *testing.T) {
	t.Parallel()
	s := secret.New(canary)
	cfg := secretConfig()
	render := map[string]func() (string, error){
		"%v":              func() (string, error) { return fmt.Sprintf("%v", s), nil },
		"%s":              func() (string, error) { return fmt.Sprintf("%s", s), nil },
		"%q":              func() (string, error) { return fmt.Sprintf("%q", s), nil },
		"%x":              func() (string, error) { return fmt.Sprintf("%x", s), nil },
		"%X":              func() (string, error) { return fmt.Sprintf("%X", s), nil },
		"%d":              func() (string, error) { return fmt.Sprintf("%d", s), nil },
		"%+v":             func() (string, error) { return fmt.Sprintf("%+v", s), nil },
		"%#v":             func() (string, error) { return fmt.Sprintf("%#v", s), nil },
		"String":          func() (string, error) { return s.String(), nil },
		"GoString":        func() (string, error) { return s.GoString(), nil },
		"Sprint":          func() (string, error) { return fmt.Sprint(s), nil },
		"config %v":       func() (string, error) { return fmt.Sprintf("%v", cfg), nil },
		"config %+v":      func() (string, error) { return fmt.Sprintf("%+v", cfg), nil },
		"config %#v":      func() (string, error) { return fmt.Sprintf("%#v", cfg), nil },
		"config value %v": func() (string, error) { return fmt.Sprintf("%v", *cfg), nil },
		"MarshalText": func() (string, error) {
			b, err := s.MarshalText()
			return string(b), err
		},
		"json": func() (string, error) {
			b, err := json.Marshal(s)
			return string(b), err
		},
		"json config": func() (string, error) {
			b, err := json.Marshal(cfg)
			return string(b), err
		},
		"slog text": func() (string, error) {
			return logWith(func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }, s, cfg), nil
		},
		"slog json": func() (string, error) {
			return logWith(func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }, s, cfg), nil
		},
	}
	for name, f := range render {
		got, err := f()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Contains(got, canary) {
			t.Errorf("%s leaks the secret: %s", name, got)
		}
		if !strings.Contains(got, redacted) {
			t.Errorf("%s = %s, want it to say %s", name, got, redacted)
		}
	}
	if got := s.Reveal(); got != canary {
		t.Errorf("Reveal = %q, want %q", got, canary)
	}
	if got, want := fmt.Sprintf("%q", s), `"[redacted]"`; got != want {
		t.Errorf("%%q = %s, want %s", got, want)
	}
	if got, want := fmt.Sprintf("%v", Secret{}), redacted; got != want {
		t.Errorf("empty secret = %q, want %q", got, want)
	}
}

// logWith logs the secret and the config every way slog offers.
func logWith(newHandler func(*bytes.Buffer) slog.Handler, s Secret, cfg *Config) string {
	var buf bytes.Buffer
	log := slog.New(newHandler(&buf))
	log.Info("secret", "secret", s, slog.Any("any", s), "config", cfg, "database", cfg.Database)
	log.With("secret", s).Info("with")
	log.Info("group", slog.Group("g", "secret", s))
	return buf.String()
}
