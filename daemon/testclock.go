package daemon

import (
	"net"
	"net/url"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/simclock"
)

// testClock is the clock of a run against the Xero simulator that covers a simulated day in
// minutes (simclock.Env, set by internal/harness). Unset, it is the wall. It is refused
// unless every Xero URL is on loopback: a daemon pacing a real organisation by a clock 96
// times as fast would spend a day's budget in a quarter of an hour, so the variable left set
// by mistake on a real host must stop the daemon, not speed it up.
func testClock(cfg *config.Config, env map[string]string) (simclock.Clock, error) {
	v, ok := env[simclock.Env]
	if !ok || v == "" {
		return simclock.Clock{}, nil
	}
	bad := func(msg string) error {
		return &config.Errors{{Key: simclock.Env, Var: simclock.Env, Msg: msg}}
	}
	c, err := simclock.Parse(v)
	if err != nil {
		return simclock.Clock{}, bad(err.Error())
	}
	for _, u := range []string{cfg.Xero.APIURL, cfg.Xero.IdentityURL, cfg.Xero.LoginURL} {
		if !loopbackURL(u) {
			return simclock.Clock{}, bad("a test clock is only for the Xero simulator on loopback, and xero URLs point at " + u + "; unset it")
		}
	}
	return c, nil
}

// loopbackURL reports whether u's host is a loopback address or localhost.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	if p.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(p.Hostname())
	return ip != nil && ip.IsLoopback()
}
