package outbox

import (
	"slices"
	"testing"
	"time"
)

// dayModel runs the pacing decision over a simulated day for one organisation: records
// arrive evenly, the lane decides (pacer.decide), claims what it may and sends it in batches
// of 50, one call each, every call counted against the day's limit. Every killEvery the
// process is killed: the pacer starts empty and the restored count is short by the unsaved
// allowance (xero.DefaultUnsavedCalls) and goes on with the bucket saved a second before, as
// after a real kill -9 (budget.go). It is a model of the
// decision, not of the dispatcher: contacts' look-ups and the minute limit are left out.
type dayModel struct {
	records   int
	dayLimit  int
	killEvery time.Duration
}

type dayResult struct {
	delays      []time.Duration // commit to call, per record
	calls       int
	minLeft     int
	unsentAtEnd int
}

func (m dayModel) run() dayResult {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	reset := t0.Add(24 * time.Hour)
	gap := 24 * time.Hour / time.Duration(m.records)
	var arrivals []time.Time // of records not yet sent
	next := 0
	remaining := m.dayLimit
	res := dayResult{minLeft: remaining}
	var p pacer
	lastKill := t0
	known := remaining // what the process knows: the restored count after a kill
	for now := t0; now.Before(reset); {
		for next < m.records && !t0.Add(time.Duration(next)*gap).After(now) {
			arrivals = append(arrivals, t0.Add(time.Duration(next)*gap))
			next++
		}
		if m.killEvery > 0 && now.Sub(lastKill) >= m.killEvery {
			// The new process restores the bucket saved a second ago, and a count short by
			// the unsaved allowance.
			lastKill = now
			p.last, p.lastR = now.Add(-time.Second), known
			known = max(remaining-10, 0)
		}
		d := p.decide(paceInput{now: now, dayRemaining: known, dayLimit: m.dayLimit, dayResetAt: reset, liveShare: 0.2})
		if !d.live || len(arrivals) == 0 {
			step := max(d.wait, time.Second)
			if len(arrivals) == 0 && next < m.records {
				step = min(step, t0.Add(time.Duration(next)*gap).Sub(now))
			}
			now = now.Add(max(step, time.Millisecond))
			continue
		}
		n := min(len(arrivals), d.batches*50)
		calls := (n + 49) / 50
		for _, a := range arrivals[:n] {
			res.delays = append(res.delays, now.Sub(a))
		}
		arrivals = arrivals[n:]
		remaining -= calls
		known = remaining
		res.calls += calls
		res.minLeft = min(res.minLeft, remaining)
		p.settle(known, 1)
		now = now.Add(200 * time.Millisecond) // a call's round trip
	}
	res.unsentAtEnd = len(arrivals) + m.records - next
	return res
}

func pct(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// Issue #12's day: a quiet organisation (200 records) and a busy one on Starter (20,000
// records, 1,000 calls a day), each killed every hour. The quiet one's records go at once;
// the busy one's all go the same day, in fuller batches, without spending the day.
func TestPaceSimulatedDay(t *testing.T) {
	t.Parallel()
	quiet := dayModel{records: 200, dayLimit: 5000, killEvery: time.Hour}.run()
	busy := dayModel{records: 20_000, dayLimit: 1000, killEvery: time.Hour}.run()
	t.Logf("quiet: %d calls, delay p50 %s p99 %s max %s", quiet.calls, pct(quiet.delays, .5), pct(quiet.delays, .99), pct(quiet.delays, 1))
	t.Logf("busy: %d calls (%.1f records a call), delay p50 %s p99 %s, %d left at least, %d unsent at the day's end",
		busy.calls, 20000/float64(busy.calls), pct(busy.delays, .5).Round(time.Second), pct(busy.delays, .99).Round(time.Second), busy.minLeft, busy.unsentAtEnd)
	if d := pct(quiet.delays, 1); d > 2*time.Second {
		t.Errorf("a quiet record waited %s", d)
	}
	// Records committed in the day's last minutes wait for the next call, after the reset.
	if busy.minLeft <= 0 || busy.unsentAtEnd > 30 {
		t.Errorf("busy day: %d left at least, %d records unsent", busy.minLeft, busy.unsentAtEnd)
	}
}
