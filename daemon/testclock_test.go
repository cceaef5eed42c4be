package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/simclock"
)

func TestTestClock(t *testing.T) {
	t.Parallel()
	sim := func(api string) *config.Config {
		cfg := &config.Config{}
		cfg.Xero.APIURL, cfg.Xero.IdentityURL, cfg.Xero.LoginURL = api, "http://127.0.0.1:9000", "http://localhost:9000"
		return cfg
	}
	const good = "scale=96 real=2026-12-03T17:00:00Z sim=2026-12-04T06:00:00Z"
	for _, tc := range []struct {
		name, api, env string
		scale          float64
		err            string // "" for none
	}{
		{name: "unset", api: "https://api.xero.com"},
		{name: "simulator", api: "http://127.0.0.1:9000", env: good, scale: 96},
		{name: "simulator on ::1", api: "http://[::1]:9000", env: good, scale: 96},
		{name: "real Xero", api: "https://api.xero.com", env: good, err: "only for the Xero simulator on loopback, and xero URLs point at https://api.xero.com"},
		{name: "a host by name", api: "http://sim.internal:9000", env: good, err: "point at http://sim.internal:9000"},
		{name: "unreadable", api: "http://127.0.0.1:9000", env: "scale=fast", err: "scale: strconv.ParseFloat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.env != "" {
				env[simclock.Env] = tc.env
			}
			c, err := testClock(sim(tc.api), env)
			if tc.err == "" {
				if err != nil || c.Scale != tc.scale {
					t.Fatalf("testClock = %+v, %v; want scale %v", c, err, tc.scale)
				}
				return
			}
			// A configuration problem: exit 2, naming the variable.
			var cerrs *config.Errors
			if !errors.As(err, &cerrs) || (*cerrs)[0].Key != simclock.Env || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("testClock error = %v, want a config error naming %s with %q", err, simclock.Env, tc.err)
			}
		})
	}
}
