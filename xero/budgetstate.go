package xero

import (
	"time"
)

// Budgets that survive a restart (issue #12). A process that starts knows nothing of the
// minute and day it shares with the process before it: its first call is a probe, and if that
// process had spent the minute, the probe is a 429. So the owner of the store (package
// outbox) saves what the limiter knows every second or so and restores it before the first
// call, and the limiter makes the saved state safe to trust after a kill -9 without a write
// per call: from the first restore on, it admits at most a few calls per tenant
// (DefaultUnsavedCalls) beyond what the last completed save accounted for, and every saved
// count already has those calls, and the calls in flight, taken off. Whatever the process did
// after its last save, Xero's true remaining count is at least the saved one.
//
// The xero package does not know the store (it imports no database driver): SaveBudgets
// hands out the state and a func to call once it is durable, RestoreBudgets takes it back.

// Default bounds on the calls admitted beyond the last save.
const (
	DefaultUnsavedCalls    = 10  // per tenant: two rounds of 5 in flight
	DefaultAppUnsavedCalls = 200 // the app: 2 % of its 10,000 a minute
)

// BudgetState is one organisation's budgets (or the app's, with XeroTenantID ""), as saved
// and restored. Remaining counts are -1 when unknown; a reset is zero when unknown.
type BudgetState struct {
	XeroTenantID    string
	MinuteRemaining int
	MinuteResetAt   time.Time
	DayRemaining    int
	DayResetAt      time.Time
	DayResetExact   bool // the reset came from Xero's Retry-After, not our estimate
	DayLimit        int  // the day's size as far as seen (1,000 on Starter); 0 when unknown
	SavedAt         time.Time
}

// SaveBudgets returns the budgets to save and a func to call once they are durable. Each
// count is what Xero had left at the latest at any moment until the next completed save:
// the count known, less the calls in flight, less the calls that may still be admitted
// before the next save completes.
func (c *Client) SaveBudgets() (states []BudgetState, saved func()) {
	return c.limits.saveState()
}

// RestoreBudgets loads saved budgets into a Client that has made no call yet, and from then
// on bounds the calls admitted beyond the last save (see SaveBudgets): call it only when
// something saves. States whose windows have ended are ignored.
func (c *Client) RestoreBudgets(states []BudgetState) { c.limits.restore(states) }

// BudgetSaveWanted is signalled when calls wait for a save, so the saver need not wait for
// its next tick.
func (c *Client) BudgetSaveWanted() <-chan struct{} { return c.limits.saveWanted }

func (l *limiter) wantSave() {
	select {
	case l.saveWanted <- struct{}{}:
	default:
	}
}

// savedCount is a window's count as saved: conservative by the calls in flight and the calls
// that may be admitted before the next save.
func (w *window) savedCount(now time.Time, allowance int) (int, time.Time) {
	w.expire(now)
	if w.remaining < 0 {
		return -1, time.Time{}
	}
	return max(0, w.remaining-w.inflight-allowance), w.resetAt()
}

// restore loads a saved count. slack is the most the save can have taken off (savedCount:
// the allowance and the calls in flight).
func (w *window) restore(remaining int, resetAt, savedAt time.Time, exact bool, limit, slack int, now time.Time) {
	w.limit = max(w.limit, limit)
	if remaining < 0 || !now.Before(resetAt) {
		return
	}
	w.remaining, w.start, w.seenAt, w.exact, w.slack = remaining, resetAt.Add(-w.span), savedAt, exact, slack
}

func (l *limiter) saveState() ([]BudgetState, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	marks := map[*tenantBudget]int{}
	states := make([]BudgetState, 0, len(l.tenants)+1)
	app := BudgetState{SavedAt: now, DayRemaining: -1}
	app.MinuteRemaining, app.MinuteResetAt = l.app.savedCount(now, l.appUnsavedMax)
	appMark := l.appUnsaved
	states = append(states, app)
	for id, tb := range l.tenants {
		s := BudgetState{XeroTenantID: id, SavedAt: now, DayResetExact: tb.day.exact, DayLimit: tb.day.limit}
		s.MinuteRemaining, s.MinuteResetAt = tb.minute.savedCount(now, l.unsavedMax)
		s.DayRemaining, s.DayResetAt = tb.day.savedCount(now, l.unsavedMax)
		if tb.blockedUntil.After(now) {
			// A 429 without a count we keep (a concurrent one, say) still holds the tenant.
			switch tb.blockedLimit {
			case LimitMinute:
				s.MinuteRemaining, s.MinuteResetAt = 0, later(s.MinuteResetAt, tb.blockedUntil)
			case LimitDay:
				s.DayRemaining, s.DayResetAt = 0, later(s.DayResetAt, tb.blockedUntil)
			}
		}
		marks[tb] = tb.unsaved
		states = append(states, s)
	}
	return states, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		// The calls admitted since this snapshot are the next save's to account for.
		l.appUnsaved -= appMark
		for tb, m := range marks {
			tb.unsaved -= m
		}
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (l *limiter) restore(states []BudgetState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.unsavedMax, l.appUnsavedMax = DefaultUnsavedCalls, DefaultAppUnsavedCalls
	for _, s := range states {
		if s.XeroTenantID == "" {
			l.app.restore(s.MinuteRemaining, s.MinuteResetAt, s.SavedAt, false, 0, l.appUnsavedMax+l.maxConcurrent, now)
			continue
		}
		tb := l.tenantLocked(s.XeroTenantID)
		slack := l.unsavedMax + l.maxConcurrent
		tb.minute.restore(s.MinuteRemaining, s.MinuteResetAt, s.SavedAt, false, 0, slack, now)
		tb.day.restore(s.DayRemaining, s.DayResetAt, s.SavedAt, s.DayResetExact, s.DayLimit, slack, now)
	}
}
