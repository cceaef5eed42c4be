package daemon

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// periodically runs the leader's housekeeping (retention, idle tokens): first after its
// delay, then every interval, and never after the leadership ends.
func TestPeriodically(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		var at []time.Duration
		done := make(chan struct{})
		go func() {
			periodically(ctx, time.Minute, time.Hour, func(context.Context) { at = append(at, time.Since(start)) })
			close(done)
		}()
		time.Sleep(3*time.Hour + 2*time.Minute)
		cancel()
		<-done
		want := []time.Duration{time.Minute, time.Hour + time.Minute, 2*time.Hour + time.Minute, 3*time.Hour + time.Minute}
		if len(at) != len(want) {
			t.Fatalf("ran at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("ran at %v, want %v", at, want)
			}
		}
	})
}
