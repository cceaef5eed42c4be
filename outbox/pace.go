package outbox

import (
	"fmt"
	"time"
)

// Pacing by the day budget (SPEC §2 "Xero's budget is spent as if it were scarce"; issue #12).
// Xero gives an organisation a day of calls (5,000; 1,000 on Starter), and a day spent by
// noon leaves the afternoon's invoices waiting until tomorrow. The lane therefore spends live
// calls from a token bucket that refills at what the day can sustain: the calls left over
// the time left until the day resets. A quiet organisation's bucket is always full, so its
// invoices go at once; a busy one's runs dry, and while the lane waits for the next token
// rows pile up and go in fuller batches (up to 50 a call). The rate is recomputed from
// Xero's own count on every decision, so overspending slows it and a new day restores it.
//
// Backfill (source 'backfill') uses what live traffic leaves: it is claimed only while the
// day has more left than the live share of it (LiveShare of the day's size, for the part of
// the day still to come) plus a bucket's worth, and then at full speed, in full batches. A
// backfill cycle is not charged to the live bucket, except for the live rows it carried.
//
// Why a lane waits on budget: the first word of its reason (status, /healthz), and the
// label of xerosync_xero_budget_waiting (/metrics).
const (
	WaitPacing       = "day_pacing"    // live rows wait for the day's pace
	WaitLivePaced    = "live_paced"    // live rows wait for the pace while backfill goes on
	WaitBackfillHeld = "backfill_held" // backfill waits: what is left is the live share
	WaitDaySpent     = "day_spent"     // the day is spent: waiting for its reset, probing
	WaitMinuteSpent  = "minute_spent"  // calls wait in the client for the minute's reset
	WaitRateLimited  = "rate_limited"  // calls wait out a 429's Retry-After
)

// pacer holds the bucket; decide is pure over its input, and is table-tested without
// PostgreSQL or Xero.
type pacer struct {
	tokens float64
	last   time.Time // of the last decision; zero before the first
	lastR  int       // the day's remaining count then, to charge what was spent since
	probed time.Time // the last call let through on a nearly spent day
}

// paceInput is what the pacing decision reads: Xero's day count as the client knows it
// (xero.BudgetSnapshot), and the live share.
type paceInput struct {
	now          time.Time
	dayRemaining int       // -1: unknown
	dayResetAt   time.Time // the estimated (never early) end of the day window
	dayLimit     int       // the day's size as seen; 0: unknown
	inFlight     int
	liveShare    float64
	// noBackfill: the lane's last claim that could take backfill found none, so a wait is
	// for live pacing alone and is reported as that (backfill is still asked for, in case a
	// backfill was queued since).
	noBackfill bool
}

// paceDecision says what the lane does now.
type paceDecision struct {
	// wait > 0: claim nothing (unless backfill is set: then claim backfill, and wait this
	// long if there was none), then decide again.
	wait     time.Duration
	batches  int    // how many batches' worth of rows to claim
	live     bool   // live rows may be claimed
	backfill bool   // backfill rows may be claimed (after the live ones)
	reason   string // why the lane waits, for status; "" when it does not wait on budget
}

const (
	maxClaimBatches = 4 // a cycle's rows: at most this many batches
	dayFloorMin     = 5 // the bucket aims to keep at least this much of the day, for probes
	// dayProbeEvery: on a nearly spent day one batch goes this often. Our reset is an
	// estimate that can be late; an answer from a new day carries its new count.
	dayProbeEvery = 10 * time.Minute
	minPaceWait   = 100 * time.Millisecond
	maxPaceWait   = time.Minute // decide again at least this often (a new count may have come)
)

// burst is the bucket's size: a tenth of what is left, so that a burst never spends the
// rest of a day, yet an organisation with most of its day left is not paced at all in
// practice (500 calls of 5,000 take over 8 minutes at Xero's 60 a minute).
func burst(remaining int) float64 {
	return max(1, float64(remaining)/10)
}

// decide refills and charges the bucket and says what to do now.
func (p *pacer) decide(in paceInput) paceDecision {
	r := in.dayRemaining - in.inFlight
	if in.dayRemaining < 0 || in.dayResetAt.IsZero() {
		// Nothing known yet (a first call, or the window ended): one batch, whichever rows
		// are ready (live first); the limiter sends one probe and the next decision knows.
		p.last = time.Time{}
		return paceDecision{batches: 1, live: true, backfill: true}
	}
	left := max(in.dayResetAt.Sub(in.now), time.Minute)
	// Calls a second the rest of the day sustains, keeping a floor (1 %) for probes: our
	// reset is an estimate, and only a call made after Xero's true reset shows its new day.
	dayFloor := max(dayFloorMin, in.dayLimit/100)
	rate := float64(max(r-dayFloor, 0)) / left.Seconds()
	c := burst(r)
	switch {
	case p.last.IsZero():
		// A lane with no saved bucket (a new organisation, or a day unknown until now)
		// starts full. A restarted lane goes on with the bucket its predecessor saved
		// (budget.go): a full one at every restart would spend a tenth of a busy Starter
		// day on small batches each time, an empty one would make a burst crawl.
		p.tokens = c
	default:
		if spent := p.lastR - in.dayRemaining; spent > 0 {
			p.tokens -= float64(spent)
		} else if spent < 0 {
			p.tokens = c // a new day
		}
		p.tokens += in.now.Sub(p.last).Seconds() * rate
	}
	p.tokens = min(max(p.tokens, -c), c)
	p.last, p.lastR = in.now, in.dayRemaining

	if r <= dayFloor {
		reason := fmt.Sprintf(WaitDaySpent+": %d calls left; the day resets by %s, probed every %s", max(r, 0),
			in.dayResetAt.UTC().Format(time.RFC3339), dayProbeEvery)
		if probe := p.probed.Add(dayProbeEvery); !in.now.Before(probe) {
			// One batch: it goes if calls are left, and its answer shows a new day if one
			// began; if none are left the limiter probes or parks it (xero/ratelimit.go).
			p.probed = in.now
			return paceDecision{batches: 1, live: true, reason: reason}
		} else {
			return paceDecision{wait: min(probe.Sub(in.now), in.dayResetAt.Sub(in.now), maxPaceWait), reason: reason}
		}
	}
	dayLimit := max(in.dayLimit, in.dayRemaining)
	frac := min(left.Hours()/24, 1)
	reserve := in.liveShare * float64(dayLimit) * frac
	backfill := float64(r) > reserve+c
	if p.tokens >= 1 {
		n := maxClaimBatches
		reason := ""
		if !backfill {
			n = min(n, int(p.tokens))
			reason = fmt.Sprintf(WaitBackfillHeld+": %d calls left, within the live share (%.0f) kept for live rows until %s",
				r, reserve+c, in.dayResetAt.UTC().Format(time.RFC3339))
		}
		return paceDecision{batches: n, live: true, backfill: backfill, reason: reason}
	}
	wait := time.Duration((1 - p.tokens) / rate * float64(time.Second))
	wait = min(max(wait, minPaceWait), maxPaceWait)
	pacing := fmt.Sprintf(WaitPacing+": %d calls left until %s, about one call every %s",
		r, in.dayResetAt.UTC().Format(time.RFC3339), (time.Duration(float64(time.Second) / rate)).Round(time.Second))
	if backfill {
		// Backfill goes on above the live reserve while live rows wait for their bucket:
		// live traffic's pace is what the whole day sustains, and backfill spends only
		// what that pace will not need. wait is for when backfill has nothing ready.
		reason := WaitLivePaced + ": live rows paced by the day budget; backfill uses the rest"
		if in.noBackfill {
			reason = pacing
		}
		return paceDecision{wait: wait, batches: maxClaimBatches, backfill: true, reason: reason}
	}
	return paceDecision{wait: wait, reason: pacing}
}

// settle charges the bucket for a cycle: dayRemaining is the count after it, and liveFrac
// the share of its rows that were live (backfill is paid from the rest of the day, not from
// the bucket).
func (p *pacer) settle(dayRemaining int, liveFrac float64) {
	if p.last.IsZero() || dayRemaining < 0 {
		return
	}
	if spent := p.lastR - dayRemaining; spent > 0 {
		p.tokens -= float64(spent) * liveFrac
	}
	p.lastR = dayRemaining
}
