package outbox

import (
	"math/rand/v2"
	"time"
)

// Backoff of transient failures (LESSONS 8): River's attempt^4 is harsh early on, so Xero
// gets about 1 s, doubling per attempt, capped at a few minutes, each ±20 % so that rows
// failed together by one outage do not come back together. Xero's Retry-After wins when it
// asks for longer.
const (
	backoffBase   = time.Second
	backoffCap    = 5 * time.Minute
	backoffJitter = 0.2
)

// backoff is the wait after the attempt-th failed attempt (1-based), at least retryAfter.
func backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := backoffCap
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(backoffBase<<(attempt-1), backoffCap)
	}
	d = jitter(d)
	if retryAfter > 0 {
		// Honour Xero's figure, plus a little spread so a lane's rows do not all return in
		// the same millisecond.
		d = max(d, retryAfter+time.Duration(rand.Int64N(int64(retryAfter/10)+1)))
	}
	return d
}

// jitter spreads d uniformly over ±20 %.
func jitter(d time.Duration) time.Duration {
	f := 1 + backoffJitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}
