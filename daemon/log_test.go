package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/lmittmann/tint"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/secret"
)

func TestLogger(t *testing.T) {
	t.Parallel()
	secret := secret.New("hunter2")
	tests := []struct {
		name  string
		env   map[string]string
		cfg   config.LogConfig
		check func(t *testing.T, out string)
	}{
		{"text", nil, config.LogConfig{Format: "text"}, func(t *testing.T, out string) {
			if !strings.HasPrefix(out, "20") || strings.Contains(out, "\x1b[") {
				t.Errorf("want a timestamp and no colour off a terminal: %q", out)
			}
		}},
		{"journald", map[string]string{"JOURNAL_STREAM": "8:1234"}, config.LogConfig{Format: "text"}, func(t *testing.T, out string) {
			if !strings.HasPrefix(out, "INF ") {
				t.Errorf("want no timestamp under journald: %q", out)
			}
		}},
		{"json", nil, config.LogConfig{Format: "json"}, func(t *testing.T, out string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil || m["msg"] != "hello" || m["err"] != "boom" {
				t.Errorf("want a JSON record: %q (%v)", out, err)
			}
		}},
		{"level", nil, config.LogConfig{Format: "text", Level: slog.LevelWarn}, func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("info logged at level warn: %q", out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			newLogger(&buf, tc.env, tc.cfg).Info("hello", "secret", secret, tint.Err(errors.New("boom")))
			out := buf.String()
			if strings.Contains(out, "hunter2") {
				t.Errorf("secret logged: %q", out)
			}
			tc.check(t, out)
		})
	}
}
