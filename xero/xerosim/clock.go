package xerosim

import (
	"math"
	"sync"
	"time"
)

// simClock turns a real clock into the simulator's clock. Simulated time
// starts at the real time the Sim was created and runs TimeScale times as
// fast, plus whatever Advance added. Scaling lets a test run "60 calls a
// minute" or "a key expires after 6 minutes" in a second of real time;
// Advance lets it jump over 30-minute token lifetimes or 60-day refresh
// expiry without waiting at all.
type simClock struct {
	mu        sync.Mutex
	real      func() time.Time
	scale     float64
	realStart time.Time
	offset    time.Duration
	shared    bool // clients read this clock too: Retry-After in simulated seconds
}

func newSimClock(real func() time.Time, scale float64) *simClock {
	if real == nil {
		real = time.Now
	}
	if scale <= 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		scale = 1
	}
	return &simClock{real: real, scale: scale, realStart: real()}
}

// Now is the simulated time, in UTC.
func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := c.real().Sub(c.realStart)
	scaled := time.Duration(float64(elapsed) * c.scale)
	return c.realStart.Add(scaled).Add(c.offset).UTC()
}

// Advance moves simulated time forward by d.
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// reference is the real instant the clock started, the simulated time then
// (with what Advance added), and the scale.
func (c *simClock) reference() (real, sim time.Time, scale float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.realStart, c.realStart.Add(c.offset), c.scale
}

// retryAfterSeconds converts a simulated wait into whole seconds for a
// Retry-After header: real seconds, or simulated ones when the clients share
// the clock; rounded up, so a client that waits exactly that long never
// arrives early, and at least 1, because Retry-After: 0 invites a busy loop.
func (c *simClock) retryAfterSeconds(simWait time.Duration) int {
	scale := c.scale
	if c.shared {
		scale = 1
	}
	secs := math.Ceil(simWait.Seconds() / scale)
	if secs < 1 {
		return 1
	}
	return int(secs)
}
