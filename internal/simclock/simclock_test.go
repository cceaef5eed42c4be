package simclock

import (
	"strings"
	"testing"
	"time"
)

func TestParseRoundTrip(t *testing.T) {
	real := time.Date(2026, 12, 3, 17, 0, 0, 123456789, time.UTC)
	want := Clock{Scale: 96, Real: real, Sim: real.Add(13 * time.Hour)}
	got, err := Parse(want.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Scale != want.Scale || !got.Real.Equal(want.Real) || !got.Sim.Equal(want.Sim) {
		t.Fatalf("Parse(%q) = %+v, want %+v", want.String(), got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "scale= is missing"},
		{"scale=96 real=2026-12-03T17:00:00Z", "sim= is missing"},
		{"scale=0.5 real=2026-12-03T17:00:00Z sim=2026-12-03T17:00:00Z", "scale: 0.5 is not"},
		{"scale=x real=2026-12-03T17:00:00Z sim=2026-12-03T17:00:00Z", "scale: strconv"},
		{"scale=2 real=yesterday sim=2026-12-03T17:00:00Z", "real: parsing time"},
		{"scale=2 scale=3", `"scale=3"`},
		{"scale=2 speed=3", `unknown part "speed"`},
		{"96", `"96": want`},
	} {
		if _, err := Parse(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestScaled(t *testing.T) {
	c := Clock{Scale: 60, Real: time.Now().Add(-time.Second), Sim: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if got := c.Now().Sub(c.Sim); got < time.Minute || got > 2*time.Minute {
		t.Errorf("a wall second later the clock moved %s, want about a minute", got)
	}
	if got := c.Wall(time.Minute); got != time.Second {
		t.Errorf("Wall(1m) = %s at 60x", got)
	}
	var wall Clock
	if got := wall.Wall(time.Minute); got != time.Minute {
		t.Errorf("the zero clock's Wall(1m) = %s", got)
	}
	if d := time.Since(wall.Now()); d < 0 || d > time.Second {
		t.Errorf("the zero clock is %s off the wall", d)
	}
}
