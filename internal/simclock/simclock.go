// Package simclock is a clock that runs faster than the wall, for runs against the Xero
// simulator that must cover hours of Xero's time in minutes: issue #12's simulated day (a
// busy Starter organisation's day budget over 24 hours, with a kill -9 every hour) cannot
// be run at the real pace in a benchmark. The simulator and every xerosync process of such a
// run read the same clock, so a daemon paces by the simulated day exactly as it would by the
// real one: its budgets, backoffs and token expiries read Now, and its dispatcher's timers
// wait a Scale-th of what Now would (outbox.DispatcherConfig.TimeScale); the tooling waits
// for simulated instants with Wall.
//
// The daemon takes it from the environment variable Env, which the test tooling sets; it is
// refused unless Xero is the simulator on loopback (daemon: testClock). It is never set in
// production, where the clock is the wall's.
package simclock

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Env is the environment variable that carries a Clock to a xerosync process
// (XEROSYNC_TEST_* is left to the test tooling by config).
const Env = "XEROSYNC_TEST_CLOCK"

// Clock maps the wall to simulated time: at the wall's instant Real it was Sim, and it runs
// Scale times as fast. The zero Clock is the wall itself.
type Clock struct {
	Scale float64
	Real  time.Time
	Sim   time.Time
}

// Now is the simulated time.
func (c Clock) Now() time.Time {
	if c.Scale == 0 {
		return time.Now()
	}
	return c.Sim.Add(time.Duration(float64(time.Since(c.Real)) * c.Scale))
}

// Wall is how long a wait of d on this clock lasts on the wall.
func (c Clock) Wall(d time.Duration) time.Duration {
	if c.Scale == 0 {
		return d
	}
	return time.Duration(float64(d) / c.Scale)
}

// String is the clock as Env carries it, e.g. "scale=96 real=2026-12-03T17:00:00.1Z
// sim=2026-12-04T06:00:00Z", read back by Parse.
func (c Clock) String() string {
	return fmt.Sprintf("scale=%s real=%s sim=%s", strconv.FormatFloat(c.Scale, 'g', -1, 64),
		c.Real.UTC().Format(time.RFC3339Nano), c.Sim.UTC().Format(time.RFC3339Nano))
}

// Parse reads a Clock written by String. Its errors say which part is wrong.
func Parse(s string) (Clock, error) {
	var c Clock
	seen := map[string]bool{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || seen[k] {
			return Clock{}, fmt.Errorf("%q: want scale=N real=RFC3339 sim=RFC3339", f)
		}
		seen[k] = true
		var err error
		switch k {
		case "scale":
			c.Scale, err = strconv.ParseFloat(v, 64)
			if err == nil && (c.Scale < 1 || math.IsInf(c.Scale, 0)) {
				err = fmt.Errorf("%s is not a finite number of at least 1", v)
			}
		case "real":
			c.Real, err = time.Parse(time.RFC3339Nano, v)
		case "sim":
			c.Sim, err = time.Parse(time.RFC3339Nano, v)
		default:
			err = fmt.Errorf("unknown part %q (want scale, real and sim)", k)
		}
		if err != nil {
			return Clock{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	for _, k := range []string{"scale", "real", "sim"} {
		if !seen[k] {
			return Clock{}, fmt.Errorf("%s= is missing (want scale=N real=RFC3339 sim=RFC3339)", k)
		}
	}
	return c, nil
}
