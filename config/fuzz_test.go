package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoad feeds Load arbitrary TOML and an arbitrary value for several
// variables (and as the name of one) and checks what Load promises: no
// panic; a valid Config or an *Errors, never both or neither; every problem
// named; one line per problem; the client secret never quoted.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(""), "")
	f.Add([]byte("[database]\nurl = \"postgres://u:p@h/d\"\n"), "127.0.0.1:1")
	f.Add([]byte("[xero]\nscopes = [\"offline_access\", 1]\n[[log]]\nlevel = 1\n"), "offline_access x")
	f.Add([]byte("[http.addr]\nx = 1\n\"a.b\" = { c = [ { d = 1 } ] }\n"), "a\nb")
	f.Add([]byte("database = 5\n[token]\nkey_file = \"/k\"\n"), "/k")
	f.Add([]byte("[xero]\nclient_secret = \"s\"\nclient_secret_file = \"/k\"\n"), "host=h password='x")
	f.Fuzz(func(t *testing.T, data []byte, envValue string) {
		fsys := files{
			testPath: string(data),
			"/k":     envValue,
			"/s":     canary + "\n",
		}
		env := map[string]string{
			"XEROSYNC_DATABASE_URL":            envValue,
			"XEROSYNC_HTTP_ADDR":               envValue,
			"XEROSYNC_XERO_SCOPES":             envValue,
			"XEROSYNC_XERO_API_URL":            envValue,
			"XEROSYNC_TOKEN_KEY_FILE":          envValue,
			"XEROSYNC_XERO_CLIENT_SECRET_FILE": "/s",
			"XEROSYNC_" + envValue:             envValue,
		}
		cfg, err := Load(LoadParams{Path: testPath, Env: env, ReadFile: fsys.read})
		if err == nil {
			if cfg == nil {
				t.Fatal("Load returned neither a Config nor an error")
			}
			if cfg.Xero.ClientSecret.Reveal() != canary {
				t.Fatalf("client secret = %q, want the file's", cfg.Xero.ClientSecret.Reveal())
			}
			_ = cfg.Database.RedactedURL()
			return
		}
		if cfg != nil {
			t.Fatal("Load returned a Config with an error")
		}
		var errs *Errors
		if !errors.As(err, &errs) || len(*errs) == 0 {
			t.Fatalf("Load error = %v (%T), want a non-empty *Errors", err, err)
		}
		for _, e := range *errs {
			if e.Key == "" {
				t.Errorf("problem without a key: %#v", e)
			}
		}
		text := err.Error()
		if n := strings.Count(text, "\n") + 1; n != len(*errs) {
			t.Errorf("Error() has %d lines for %d problems:\n%s", n, len(*errs), text)
		}
		if strings.Contains(text, canary) && !strings.Contains(string(data), canary) && !strings.Contains(envValue, canary) {
			t.Errorf("error quotes the client secret:\n%s", text)
		}
	})
}
