package xero

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate budgets (XERO.md §2). Xero limits each tenant to 5 calls in flight, a minute budget
// and a day budget (5,000, or 1,000 on the Starter tier, so never hard-coded), and the app to
// a minute budget across all tenants. The windows are fixed, not rolling, and reset at a
// different moment per tenant, which we cannot see. What we can see is the remaining count on
// every response (X-MinLimit-Remaining, X-DayLimit-Remaining, X-AppMinLimit-Remaining).
//
// So each window is tracked as (remaining, estimated start): the start is the first moment we
// saw a count belonging to the current window, which is never earlier than the true start, so
// start+span is never earlier than the true reset. Before a call, if remaining minus the calls
// already in flight is zero, we wait until that estimated reset instead of provoking a 429.
// While the budget is unknown (at start, and after an estimated window ends) only one call is
// in flight, so no more than one call is ever sent on a guess.
//
// A header can be missing altogether: a recorded 2020 GET /Organisation carries
// X-DayLimit-Remaining and X-MinLimit-Remaining but no X-AppMinLimit-Remaining (XERO.md §10b;
// XeroAPI/xero-python tests/accounting/api/cassettes/test_get_organisations.yaml), although
// Xero staff said in 2023 that all three come on every response (xero-node#634). A missing
// header says nothing about that budget, not that it is exhausted: when an answer arrives
// without it, that window stops holding calls back (it is "unreported") and the others keep
// pacing by what they know, so one absent header never throttles us to one call at a time.
// A 429 still calibrates the window, and the header's return makes it a counted window again.
// A wait longer than Config.MaxBudgetWait (the day window) is returned as a predicted
// *RateLimitError so the outbox can park the row instead of holding a goroutine for hours.

const (
	minuteSpan = time.Minute
	daySpan    = 24 * time.Hour
	// pollInterval bounds each real-time sleep while waiting for a window to reset, so the
	// wait re-reads Config.Now: a test's scaled clock then works without a separate timer
	// abstraction, and the cost in production is a few wakeups a second while throttled.
	pollInterval = 100 * time.Millisecond
	// dayProbe bounds how long an organisation whose day budget we believe spent waits
	// before one call asks Xero, when we only estimated the day's reset (window.wait).
	dayProbe = 10 * time.Minute
)

// window is one fixed rate window as far as we can infer it.
//
// Responses can arrive out of order, and by any distance: one slow response can be overtaken
// by many quick ones on the other four slots. So a higher count than the one we hold is only
// taken as "a new window began" when the call was sent after we saw the lower count (then it
// was admitted after it, and within one window counts only fall). Any other higher count is
// stale and ignored. After the estimated window ends, we know nothing: one probe call is
// sent, and the first count from a call sent after the end sets the new estimate.
type window struct {
	span      time.Duration
	remaining int       // last known remaining calls; -1 when unknown
	start     time.Time // estimated start of the current window (never before the true start)
	seenAt    time.Time // when the count in remaining was observed
	endedAt   time.Time // end of the last estimate that expired
	inflight  int       // calls reserved against this window and not yet answered
	// unreported: the last answer did not carry this window's header, so while the count is
	// unknown we have nothing to probe for and do not serialise calls on its account.
	unreported bool
	// exact: the reset is known, from a 429's Retry-After, not estimated from our first sight
	// of the window (which can be up to a whole span late).
	exact bool
	// limit is the highest count seen plus the call that reported it: the window's size as
	// far as we know (a Starter organisation's day is 1,000, not 5,000); 0 when unknown.
	limit int
	// slack: the count was restored from a save (budgetstate.go), which took off up to
	// this many calls that may never have been made. Until the first answer, a count up
	// to remaining+slack is that answer correcting the save, not a new window.
	slack int
}

func newWindow(span time.Duration) window { return window{span: span, remaining: -1} }

func (w *window) resetAt() time.Time {
	if w.remaining < 0 {
		return time.Time{}
	}
	return w.start.Add(w.span)
}

// expire forgets the count once the estimated window is over.
func (w *window) expire(now time.Time) {
	if w.remaining >= 0 && !now.Before(w.start.Add(w.span)) {
		w.endedAt = w.start.Add(w.span)
		w.remaining = -1
	}
}

// observe records a remaining count seen at now in the answer to a call sent at sentAt.
func (w *window) observe(r int, now, sentAt time.Time) {
	w.expire(now)
	w.unreported = false
	switch {
	case w.remaining < 0:
		if sentAt.Before(w.endedAt) {
			return // may belong to the window that just ended
		}
	case r <= w.remaining:
		w.remaining, w.seenAt = r, now
		w.limit = max(w.limit, r+1)
		return
	case !sentAt.After(w.seenAt):
		return // stale: admitted before the lower count we already hold
	case r <= w.remaining+w.slack:
		// The first count after a restore, within what the save took off: the same window,
		// so its start (and the day's reset, which pacing spreads the day over) is kept. Read
		// as a new window, every restart would push the day's estimated reset to the
		// restart, and the pacer would spread the rest of the day over a day too long.
		w.remaining, w.seenAt, w.slack = r, now, 0
		w.limit = max(w.limit, r+1)
		return
	}
	// First count, or a sound rise: a new window began at or before now.
	w.start, w.remaining, w.seenAt, w.exact, w.slack = now, r, now, false, 0
	w.limit = max(w.limit, r+1)
}

// spentUnseen records a call whose answer did not say what is left: it may have been counted.
func (w *window) spentUnseen() {
	if w.remaining > 0 {
		w.remaining--
	}
}

// calibrate records that Xero refused a call and said the window resets after retryAfter:
// the budget is exhausted and the window's end is now known exactly.
func (w *window) calibrate(now time.Time, retryAfter time.Duration) {
	w.remaining, w.seenAt, w.exact = 0, now, true
	w.start = now.Add(retryAfter - w.span)
}

// wait returns how long to wait before one more call fits, or 0.
func (w *window) wait(now time.Time) time.Duration {
	w.expire(now)
	switch {
	case w.remaining < 0 && w.inflight > 0 && !w.unreported:
		// Unknown budget: one probe at a time until a count arrives (or an answer shows
		// that Xero does not send this count at all).
		return pollInterval
	case w.remaining >= 0 && w.remaining-w.inflight <= 0:
		wait := max(w.start.Add(w.span).Sub(now), time.Nanosecond)
		if w.span == daySpan && !w.exact {
			// Our estimate of the day's reset can be up to a day late (it starts at our first
			// sight of the window, maybe just after a restart), so an exhausted day is not
			// waited out: every dayProbe one call goes to ask. If the day is really spent,
			// Xero's 429 says exactly when it resets (calibrate); if not, the count it
			// returns starts a new window.
			if probe := w.seenAt.Add(dayProbe); w.inflight == 0 && !now.Before(probe) {
				return 0
			} else if d := probe.Sub(now); d > 0 && d < wait {
				wait = d
			}
		}
		return wait
	}
	return 0
}

func (w *window) snapshot(now time.Time) (remaining int, resetAt time.Time) {
	w.expire(now)
	return w.remaining, w.resetAt()
}

type tenantBudget struct {
	sem          chan struct{} // the concurrent limit
	minute, day  window
	blockedUntil time.Time // from a 429
	blockedLimit Limit
	unsaved      int // calls admitted since the state last saved (budgetstate.go)
}

// limiter holds the app budget and every tenant's budget.
type limiter struct {
	now           func() time.Time
	maxConcurrent int
	maxWait       time.Duration

	mu         sync.Mutex
	app        window
	appBlocked time.Time
	appStreak  int // consecutive app-minute 429s, for our own backoff (no Retry-After there)
	tenants    map[string]*tenantBudget
	changed    chan struct{} // closed and replaced whenever a budget changes

	// Persistence (budgetstate.go): once a saved state was restored, at most unsavedMax
	// calls per tenant (appUnsavedMax for the app) are admitted beyond what the last save
	// accounted for, so a crash loses track of no more than that.
	unsavedMax    int
	appUnsavedMax int
	appUnsaved    int
	saveWanted    chan struct{} // signalled when a tenant reaches unsavedMax
}

func newLimiter(now func() time.Time, maxConcurrent int, maxWait time.Duration) *limiter {
	return &limiter{
		now:           now,
		maxConcurrent: maxConcurrent,
		maxWait:       maxWait,
		app:           newWindow(minuteSpan),
		tenants:       map[string]*tenantBudget{},
		changed:       make(chan struct{}),
		saveWanted:    make(chan struct{}, 1),
	}
}

func (l *limiter) tenant(id string) *tenantBudget {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tenantLocked(id)
}

func (l *limiter) tenantLocked(id string) *tenantBudget {
	tb := l.tenants[id]
	if tb == nil {
		tb = &tenantBudget{
			sem:    make(chan struct{}, l.maxConcurrent),
			minute: newWindow(minuteSpan),
			day:    newWindow(daySpan),
		}
		l.tenants[id] = tb
	}
	return tb
}

// A reservation is one call's hold on the budgets, from reserve until release: the tenant's
// concurrency slot, and the attempt in flight counted against every budget. net/http may send
// the request more than once (resend); each attempt is a call of its own to Xero.
type reservation struct {
	l  *limiter
	tb *tenantBudget // nil for a tenantless call

	mu       sync.Mutex
	sentAt   time.Time // when the attempt in flight was admitted
	released bool
}

// reserve blocks until a call for tenantID (empty for tenantless calls such as /connections,
// which count only against the app budget) fits every budget, then reserves it.
func (l *limiter) reserve(ctx context.Context, tenantID string) (*reservation, error) {
	var tb *tenantBudget
	if tenantID != "" {
		tb = l.tenant(tenantID)
		select {
		case tb.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	sentAt, err := l.admit(ctx, tb)
	if err != nil {
		if tb != nil {
			<-tb.sem
		}
		return nil, err
	}
	return &reservation{l: l, tb: tb, sentAt: sentAt}, nil
}

// admit waits until one more call fits every budget, then counts it in flight and returns
// when. The caller holds tb's concurrency slot.
func (l *limiter) admit(ctx context.Context, tb *tenantBudget) (time.Time, error) {
	for {
		l.mu.Lock()
		now := l.now()
		wait, limit := l.waitLocked(tb, now)
		if wait <= 0 {
			l.countLocked(tb)
			l.mu.Unlock()
			return now, nil
		}
		changed := l.changed
		l.mu.Unlock()
		if wait > l.maxWait {
			return time.Time{}, &RateLimitError{Limit: limit, RetryAfter: wait, Predicted: true}
		}
		t := time.NewTimer(min(wait, pollInterval))
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// countLocked counts one call in flight against every budget of tb (and the app's).
func (l *limiter) countLocked(tb *tenantBudget) {
	l.app.inflight++
	l.appUnsaved++
	if tb != nil {
		tb.minute.inflight++
		tb.day.inflight++
		tb.unsaved++
	}
}

// release ends the reservation with the headers of the answer to its last attempt (nil when
// none arrived) and frees the concurrency slot. Calls after the first do nothing.
func (r *reservation) release(h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	r.l.finish(r.tb, h, r.sentAt)
	if r.tb != nil {
		<-r.tb.sem
	}
}

// resend admits one more attempt at the reserved call. net/http sends a request again by
// itself when a reused keep-alive connection closes before any answer (a GET, or a write with
// an Idempotency-Key: Client.send). The attempt before got no answer and Xero may have counted
// it (a lost response is a call that ran), so it is finished as spent; the new attempt is a
// call Xero counts too, so it waits for the budget like any call. Unadmitted, it was the 429
// of the torture run (issue #12): the minute's last call lost its answer, and net/http resent
// it at once into the spent minute.
//
// resend cannot stop the attempt: net/http sends it once resend returns. If ctx ends or the
// wait would exceed Config.MaxBudgetWait (a spent day), the attempt is counted all the same
// and the error returned, for the caller to cancel the request.
func (r *reservation) resend(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return nil
	}
	r.l.finish(r.tb, nil, r.sentAt)
	sentAt, err := r.l.admit(ctx, r.tb)
	if err != nil {
		r.l.mu.Lock()
		sentAt = r.l.now()
		r.l.countLocked(r.tb)
		r.l.mu.Unlock()
	}
	r.sentAt = sentAt
	return err
}

// waitLocked returns the longest wait any budget imposes, and which limit imposes it.
func (l *limiter) waitLocked(tb *tenantBudget, now time.Time) (time.Duration, Limit) {
	var wait time.Duration
	var limit Limit
	consider := func(d time.Duration, lim Limit) {
		if d > wait {
			wait, limit = d, lim
		}
	}
	if l.appBlocked.After(now) {
		consider(l.appBlocked.Sub(now), LimitAppMinute)
	}
	consider(l.app.wait(now), LimitAppMinute)
	if l.appUnsavedMax > 0 && l.appUnsaved >= l.appUnsavedMax {
		l.wantSave()
		consider(pollInterval, LimitAppMinute)
	}
	if tb != nil {
		if l.unsavedMax > 0 && tb.unsaved >= l.unsavedMax {
			// Not a budget: the saved state must catch up first (budgetstate.go).
			l.wantSave()
			consider(pollInterval, LimitMinute)
		}
		if tb.blockedUntil.After(now) {
			consider(tb.blockedUntil.Sub(now), tb.blockedLimit)
		}
		consider(tb.minute.wait(now), LimitMinute)
		consider(tb.day.wait(now), LimitDay)
	}
	return wait, limit
}

// report records what a response said of this window's budget: the count in header name, or,
// when the answer or that header is missing, the call taken off what is left (and, for a
// missing header, the window marked unreported). It returns the count, or -1 without one.
func (w *window) report(h http.Header, name string, now, sentAt time.Time) int {
	if h != nil {
		if r, ok := headerInt(h, name); ok {
			w.observe(r, now, sentAt)
			return r
		}
		w.unreported = true
	}
	w.spentUnseen()
	return -1
}

// finish releases a reservation and records the budgets a response reported.
func (l *limiter) finish(tb *tenantBudget, h http.Header, sentAt time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.app.inflight--
	if tb != nil {
		tb.minute.inflight--
		tb.day.inflight--
	}
	// No answer (a lost response, a timeout, h nil): Xero may well have counted the call, so
	// it is taken off what we know is left; a later count corrects it. Otherwise a minute with
	// a few lost responses would be overspent by as many (a 429 in the torture run).
	if r := l.app.report(h, "X-AppMinLimit-Remaining", now, sentAt); r > 0 {
		l.appStreak = 0
	}
	if tb != nil {
		tb.minute.report(h, "X-MinLimit-Remaining", now, sentAt)
		tb.day.report(h, "X-DayLimit-Remaining", now, sentAt)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// hit records a 429 (or legacy rate 503) and fills in RetryAfter where Xero gave none: the
// app-minute limit never carries Retry-After, so we use the estimated window reset, or our
// own doubling backoff when we have no estimate.
func (l *limiter) hit(tenantID string, rl *RateLimitError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var tb *tenantBudget
	if tenantID != "" {
		tb = l.tenantLocked(tenantID)
	}
	switch rl.Limit {
	case LimitAppMinute:
		if rl.RetryAfter <= 0 {
			if reset := l.app.resetAt(); reset.After(now) {
				rl.RetryAfter = reset.Sub(now)
				l.app.remaining = 0
			} else {
				rl.RetryAfter = min(time.Second<<min(l.appStreak, 6), minuteSpan)
			}
		} else {
			l.app.calibrate(now, rl.RetryAfter)
		}
		l.appStreak++
		l.appBlocked = now.Add(rl.RetryAfter)
		return
	case LimitDay, LimitMinute:
	case LimitConcurrent:
		if rl.RetryAfter <= 0 {
			rl.RetryAfter = time.Second
		}
	default:
		// Unknown or missing X-Rate-Limit-Problem: assume the minute limit, the common one.
		rl.Limit = LimitMinute
	}
	if tb == nil {
		if rl.RetryAfter <= 0 {
			rl.RetryAfter = minuteSpan
		}
		l.appBlocked = now.Add(rl.RetryAfter)
		return
	}
	if rl.Limit != LimitConcurrent {
		w := &tb.minute
		if rl.Limit == LimitDay {
			w = &tb.day
		}
		if rl.RetryAfter <= 0 {
			if reset := w.resetAt(); reset.After(now) {
				rl.RetryAfter = reset.Sub(now)
			} else {
				rl.RetryAfter = w.span
			}
		}
		w.calibrate(now, rl.RetryAfter)
	}
	if until := now.Add(rl.RetryAfter); until.After(tb.blockedUntil) {
		tb.blockedUntil, tb.blockedLimit = until, rl.Limit
	}
}

// BudgetSnapshot is what we know of one tenant's budgets, for metrics and `status`.
// Remaining counts are -1 when unknown (no call yet, or the window is over).
type BudgetSnapshot struct {
	MinuteRemaining    int
	MinuteResetAt      time.Time // estimate; zero when unknown
	DayRemaining       int
	DayResetAt         time.Time
	DayLimit           int // the day's size as far as seen; 0 when unknown
	AppMinuteRemaining int
	AppMinuteResetAt   time.Time
	InFlight           int
	BlockedUntil       time.Time // after a 429
	BlockedLimit       Limit
}

func (l *limiter) snapshot(tenantID string) BudgetSnapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var s BudgetSnapshot
	s.AppMinuteRemaining, s.AppMinuteResetAt = l.app.snapshot(now)
	s.MinuteRemaining, s.DayRemaining = -1, -1
	tb := l.tenants[tenantID]
	if tb == nil {
		return s
	}
	s.MinuteRemaining, s.MinuteResetAt = tb.minute.snapshot(now)
	s.DayRemaining, s.DayResetAt = tb.day.snapshot(now)
	s.DayLimit = tb.day.limit
	s.InFlight = len(tb.sem)
	if tb.blockedUntil.After(now) {
		s.BlockedUntil, s.BlockedLimit = tb.blockedUntil, tb.blockedLimit
	}
	if l.appBlocked.After(now) && l.appBlocked.After(s.BlockedUntil) {
		s.BlockedUntil, s.BlockedLimit = l.appBlocked, LimitAppMinute
	}
	return s
}

func headerInt(h http.Header, name string) (int, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
