package outbox

import (
	"testing"
	"time"
)

// Backoff doubles from 1 s to a 5-minute cap, each wait within ±20 %, and Xero's
// Retry-After, when longer, wins (plus at most a tenth of it).
func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{0, 0, 800 * time.Millisecond, 1200 * time.Millisecond},
		{1, 0, 800 * time.Millisecond, 1200 * time.Millisecond},
		{2, 0, 1600 * time.Millisecond, 2400 * time.Millisecond},
		{5, 0, 12800 * time.Millisecond, 19200 * time.Millisecond},
		{9, 0, 204800 * time.Millisecond, 307200 * time.Millisecond}, // 256 s
		{10, 0, 4 * time.Minute, 6 * time.Minute},                    // 512 s: the cap
		{30, 0, 4 * time.Minute, 6 * time.Minute},
		{1, 60 * time.Second, 60 * time.Second, 66 * time.Second},
		{10, time.Second, 4 * time.Minute, 6 * time.Minute}, // shorter than ours: ours
	}
	for _, tt := range tests {
		for range 200 {
			if d := backoff(tt.attempt, tt.retryAfter); d < tt.lo || d > tt.hi {
				t.Fatalf("backoff(%d, %v) = %v, want within [%v, %v]", tt.attempt, tt.retryAfter, d, tt.lo, tt.hi)
			}
		}
	}
}
