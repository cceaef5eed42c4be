package outbox

import (
	"strings"
	"testing"
	"time"
)

func TestPaceDecide(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	day := func(remaining, limit int, resetIn time.Duration) paceInput {
		return paceInput{now: t0, dayRemaining: remaining, dayLimit: limit, dayResetAt: t0.Add(resetIn), liveShare: 0.2}
	}
	tests := []struct {
		name   string
		pacer  pacer
		in     paceInput
		want   paceDecision
		reason string // a substring of the reason; "" for none
	}{
		{name: "unknown budget: one batch (the limiter probes)",
			in: paceInput{now: t0, dayRemaining: -1, liveShare: 0.2}, want: paceDecision{batches: 1, live: true, backfill: true}},
		{name: "plentiful: at once, backfill too",
			in: day(4900, 5000, 20*time.Hour), want: paceDecision{batches: 4, live: true, backfill: true}},
		{name: "a first decision has a full bucket even near the live reserve",
			in: day(180, 1000, 20*time.Hour), want: paceDecision{batches: 4, live: true}, reason: "backfill_held"},
		{name: "a restored bucket goes on: refilled for the time since, charged for the unsaved calls",
			pacer: pacer{tokens: 5, last: t0.Add(-time.Minute), lastR: 160},
			in:    day(150, 1000, 20*time.Hour), want: paceDecision{wait: maxPaceWait}, reason: "day_pacing"},
		{name: "below the live reserve: no backfill",
			pacer: pacer{tokens: 5, last: t0, lastR: 150},
			in:    day(150, 1000, 20*time.Hour), want: paceDecision{batches: 4, live: true}, reason: "backfill_held: 150 calls left"},
		{name: "bucket with two tokens: two batches",
			pacer: pacer{tokens: 2.5, last: t0, lastR: 150},
			in:    day(150, 1000, 20*time.Hour), want: paceDecision{batches: 2, live: true}, reason: "backfill_held"},
		{name: "empty bucket, tight day: wait for the next token",
			pacer: pacer{tokens: 0, last: t0, lastR: 150},
			in:    day(150, 1000, 20*time.Hour),
			// 140 calls over 20 h (10 kept for probes): one every 514 s; a token is a whole
			// call away (capped at a minute).
			want: paceDecision{wait: maxPaceWait}, reason: "day_pacing: 150 calls left"},
		{name: "empty bucket, plentiful day: backfill goes on, live waits",
			pacer: pacer{tokens: 0, last: t0, lastR: 4000},
			in:    day(4000, 5000, 2*time.Hour),
			want:  paceDecision{wait: 1823 * time.Millisecond, batches: 4, backfill: true}, reason: "backfill uses the rest"},
		{name: "empty bucket, plentiful day, no backfill queued: the reason is live pacing",
			pacer: pacer{tokens: 0, last: t0, lastR: 4000},
			in:    func() paceInput { in := day(4000, 5000, 2*time.Hour); in.noBackfill = true; return in }(),
			want:  paceDecision{wait: 1823 * time.Millisecond, batches: 4, backfill: true}, reason: "day_pacing: 4000 calls left"},
		{name: "calls spent since the last decision are charged",
			pacer: pacer{tokens: 3, last: t0, lastR: 160},
			in:    day(150, 1000, 20*time.Hour), want: paceDecision{wait: maxPaceWait}, reason: "day_pacing"},
		{name: "a new day refills the bucket",
			pacer: pacer{tokens: -10, last: t0, lastR: 3},
			in:    day(999, 1000, 24*time.Hour), want: paceDecision{batches: 4, live: true, backfill: true}},
		{name: "day nearly spent: one batch to probe",
			pacer: pacer{tokens: 0, last: t0, lastR: 3},
			in:    day(8, 1000, 5*time.Hour), want: paceDecision{batches: 1, live: true}, reason: "day_spent"},
		{name: "day nearly spent, probed lately: wait",
			pacer: pacer{tokens: 0, last: t0, lastR: 3, probed: t0.Add(-9 * time.Minute)},
			in:    day(8, 1000, 5*time.Hour), want: paceDecision{wait: time.Minute}, reason: "probed every 10m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.pacer
			got := p.decide(tt.in)
			reason := got.reason
			got.reason = ""
			// Rates are floats: a wait within a millisecond is the wait.
			if d := got.wait - tt.want.wait; d > -time.Millisecond && d < time.Millisecond {
				got.wait = tt.want.wait
			}
			if got != tt.want {
				t.Errorf("decide = %+v, want %+v", got, tt.want)
			}
			if (tt.reason == "") != (reason == "") || !strings.Contains(reason, tt.reason) {
				t.Errorf("reason %q, want one with %q", reason, tt.reason)
			}
		})
	}
}

// A busy organisation on Starter, paced over a simulated day with rows arriving faster than
// one a call: the day is never spent, and the calls spread over the whole day.
func TestPaceBusyDayIsNeverSpent(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	reset := t0.Add(24 * time.Hour)
	var p pacer
	remaining, calls, lastHourCalls := 1000, 0, 0
	for now := t0; now.Before(reset); {
		d := p.decide(paceInput{now: now, dayRemaining: remaining, dayLimit: 1000, dayResetAt: reset, liveShare: 0.2})
		if !d.live {
			// Backfill only: there is none here.
			now = now.Add(max(d.wait, time.Second))
			continue
		}
		// One call per batch claimed.
		remaining -= d.batches
		calls += d.batches
		if reset.Sub(now) < time.Hour {
			lastHourCalls += d.batches
		}
		p.settle(remaining, 1)
		if remaining <= 0 {
			t.Fatalf("day spent at %s after %d calls", now.Format(time.TimeOnly), calls)
		}
		now = now.Add(time.Second)
	}
	if lastHourCalls == 0 || calls < 800 {
		t.Errorf("%d calls in the day, %d in its last hour: the day was not used evenly", calls, lastHourCalls)
	}
	t.Logf("%d calls, %d in the last hour, %d left", calls, lastHourCalls, remaining)
}

func TestBackfillEstimate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		e           BackfillEstimate
		limit, left int
		wantCalls   int
		wantDur     time.Duration
	}{
		// 600 invoices: 12 calls; 300 contacts: 6 creates + 6 directory refreshes; 300 payments: 6.
		{"fits today: the minute limit", BackfillEstimate{Invoices: 600, Contacts: 300, Payments: 300}, 5000, 5000, 30, 30 * time.Second},
		{"Starter, a day spent: tomorrow's share", BackfillEstimate{Invoices: 600, Contacts: 300, Payments: 300}, 1000, 100, 30, 24 * time.Hour},
		// BenchmarkOnboardingCalls' workload: 282 calls measured.
		{"onboarding", BackfillEstimate{Invoices: 6000, Contacts: 3000, Payments: 2000}, 1000, 1000, 280, 280 * time.Second},
		{"unknown today", BackfillEstimate{Invoices: 50_000}, 1000, -1, 1000, 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := tt.e.Calls(); got != tt.wantCalls {
			t.Errorf("%s: Calls = %d, want %d", tt.name, got, tt.wantCalls)
		}
		if got := tt.e.Duration(tt.limit, tt.left, 0.2); got != tt.wantDur {
			t.Errorf("%s: Duration = %v, want %v", tt.name, got, tt.wantDur)
		}
	}
}
