package xero

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a settable clock; the limiter re-reads it at least every pollInterval.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func budgetHeaders(min, day, app int) http.Header {
	h := http.Header{}
	h.Set("X-MinLimit-Remaining", strconv.Itoa(min))
	h.Set("X-DayLimit-Remaining", strconv.Itoa(day))
	h.Set("X-AppMinLimit-Remaining", strconv.Itoa(app))
	return h
}

// acquireAsync starts acquire and returns a channel that yields its result.
func acquireAsync(l *limiter, tenant string) <-chan error {
	done := make(chan error, 1)
	go func() {
		rel, err := l.acquire(context.Background(), tenant)
		if err == nil {
			rel(nil)
		}
		done <- err
	}()
	return done
}

// mustBlock checks that acquire is still waiting after the limiter has re-read the clock
// three times. The tests run in a synctest bubble, so those polls take no wall time, and
// once every goroutine in it is blocked a call that has not returned is waiting, not slow.
func mustBlock(t *testing.T, done <-chan error) {
	t.Helper()
	time.Sleep(3 * pollInterval)
	synctest.Wait()
	select {
	case err := <-done:
		t.Fatalf("acquire returned (%v) while the budget was exhausted", err)
	default:
	}
}

// mustFinish waits for acquire to return; the bubble's clock runs the limiter's polls
// meanwhile, so 5 s is of that clock, not the wall's.
func mustFinish(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("acquire still blocked")
	}
}

func TestLimiterWaitsForMinuteReset(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := newLimiter(clk.Now, 5, 2*time.Minute)
		rel, err := l.acquire(context.Background(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		rel(budgetHeaders(0, 900, 9000))
		if s := l.snapshot("t1"); s.MinuteRemaining != 0 || s.DayRemaining != 900 || s.AppMinuteRemaining != 9000 || s.MinuteResetAt.IsZero() {
			t.Fatalf("snapshot = %+v", s)
		}
		done := acquireAsync(l, "t1")
		mustBlock(t, done)
		// Another tenant is not affected.
		mustFinish(t, acquireAsync(l, "t2"))
		clk.Advance(30 * time.Second)
		mustBlock(t, done)
		clk.Advance(31 * time.Second)
		mustFinish(t, done)
	})
}

func TestLimiterCountsCallsInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := newLimiter(clk.Now, 5, 2*time.Minute)
		rel, _ := l.acquire(context.Background(), "t")
		rel(budgetHeaders(2, 100, 100))
		a, _ := l.acquire(context.Background(), "t")
		b, _ := l.acquire(context.Background(), "t")
		third := acquireAsync(l, "t") // 2 remaining, 2 in flight: must wait
		mustBlock(t, third)
		a(budgetHeaders(1, 99, 99))
		mustBlock(t, third) // 1 remaining, 1 in flight
		b(budgetHeaders(0, 98, 98))
		mustBlock(t, third)
		clk.Advance(61 * time.Second)
		mustFinish(t, third)
	})
}

func TestLimiterNewWindowDetected(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := newLimiter(clk.Now, 5, 2*time.Minute)
	rel, _ := l.acquire(context.Background(), "t")
	rel(budgetHeaders(3, 100, 100))
	clk.Advance(10 * time.Second)
	rel, _ = l.acquire(context.Background(), "t")
	rel(budgetHeaders(59, 99, 100)) // the window rolled over: trust the new count
	if s := l.snapshot("t"); s.MinuteRemaining != 59 || !s.MinuteResetAt.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("snapshot = %+v", s)
	}
	rel, _ = l.acquire(context.Background(), "t")
	rel(budgetHeaders(60, 98, 100)) // a late answer from before: within slack, keep the minimum
	if s := l.snapshot("t"); s.MinuteRemaining != 59 {
		t.Fatalf("late higher count raised the budget: %+v", s)
	}
}

func TestLimiterDayBudgetIsPredictedRateLimit(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := newLimiter(clk.Now, 5, 2*time.Minute)
	rel, _ := l.acquire(context.Background(), "t")
	rel(budgetHeaders(50, 0, 100))
	_, err := l.acquire(context.Background(), "t")
	var rl *RateLimitError
	// Not the estimated reset, a day away: the day is probed again within dayProbe, since
	// the estimate can be a day late.
	if !errors.As(err, &rl) || rl.Limit != LimitDay || !rl.Predicted || rl.RetryAfter != dayProbe {
		t.Fatalf("got %v", err)
	}
	if Classify(err) != ClassRateLimited {
		t.Fatal("predicted rate limit not classified as rate limited")
	}
	if s := l.snapshot("t"); s.InFlight != 0 {
		t.Fatalf("refused call kept its slot: %+v", s)
	}
}

func TestLimiterConcurrency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(time.Now, 5, time.Minute)
		first, _ := l.acquire(context.Background(), "t")
		first(budgetHeaders(50, 1000, 1000))
		var rels []release
		for range 5 {
			r, err := l.acquire(context.Background(), "t")
			if err != nil {
				t.Fatal(err)
			}
			rels = append(rels, r)
		}
		sixth := acquireAsync(l, "t")
		mustBlock(t, sixth)
		if s := l.snapshot("t"); s.InFlight != 5 {
			t.Fatalf("in flight = %d", s.InFlight)
		}
		rels[0](nil)
		rels[0](nil) // a second call is a no-op, not a double release
		mustFinish(t, sixth)
		for _, r := range rels[1:] {
			r(nil)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 5 {
			r, _ := l.acquire(context.Background(), "t")
			defer r(nil)
		}
		if _, err := l.acquire(ctx, "t"); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled acquire: %v", err)
		}
	})
}

// A slow answer overtaken by many quick ones carries a higher count; it must not be taken
// for a new window (the bug this guards against let 64 calls into a 60-call window).
func TestLimiterStaleAnswerIsNotANewWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := newLimiter(clk.Now, 5, 2*time.Minute)
		rel, _ := l.acquire(context.Background(), "t")
		rel(budgetHeaders(50, 1000, 1000))
		clk.Advance(time.Second)
		slow, _ := l.acquire(context.Background(), "t") // admitted at 49, answered last
		for i := range 40 {
			clk.Advance(100 * time.Millisecond)
			r, err := l.acquire(context.Background(), "t")
			if err != nil {
				t.Fatal(err)
			}
			r(budgetHeaders(48-i, 1000, 1000))
		}
		clk.Advance(100 * time.Millisecond)
		slow(budgetHeaders(49, 1000, 1000))
		if s := l.snapshot("t"); s.MinuteRemaining != 9 {
			t.Fatalf("remaining = %d, want 9", s.MinuteRemaining)
		}
		// Once the estimate ends, answers to calls sent before the end are ignored, and only one
		// probe is in flight until a fresh count arrives.
		clk.Advance(2 * time.Minute)
		probe, _ := l.acquire(context.Background(), "t")
		second := acquireAsync(l, "t")
		mustBlock(t, second)
		probe(budgetHeaders(59, 999, 1000))
		mustFinish(t, second)
		// 59 from the probe, less the second call, released without an answer (spent).
		if s := l.snapshot("t"); s.MinuteRemaining != 58 {
			t.Fatalf("after probe: %+v", s)
		}
	})
}

func TestLimiterHit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := newLimiter(clk.Now, 5, 2*time.Minute)

		// App minute: no Retry-After from Xero, so our doubling backoff.
		rl := &RateLimitError{Limit: LimitAppMinute}
		l.hit("t", rl)
		if rl.RetryAfter != time.Second {
			t.Fatalf("first app backoff = %s", rl.RetryAfter)
		}
		rl2 := &RateLimitError{Limit: LimitAppMinute}
		l.hit("t", rl2)
		if rl2.RetryAfter != 2*time.Second {
			t.Fatalf("second app backoff = %s, want the first doubled", rl2.RetryAfter)
		}
		if s := l.snapshot("t"); s.BlockedLimit != LimitAppMinute || s.BlockedUntil.IsZero() {
			t.Fatalf("snapshot = %+v", s)
		}

		// Minute with Retry-After: calls wait for it.
		rl3 := &RateLimitError{Limit: LimitMinute, RetryAfter: 20 * time.Second}
		l.hit("u", rl3)
		done := acquireAsync(l, "u")
		mustBlock(t, done)
		clk.Advance(21 * time.Second)
		mustFinish(t, done)

		// Unknown problem header: treated as the minute limit with an estimated wait.
		rl4 := &RateLimitError{}
		l.hit("v", rl4)
		if rl4.Limit != LimitMinute || rl4.RetryAfter != time.Minute {
			t.Fatalf("unknown limit → %+v", rl4)
		}
	})
}

// readHeaderFixture reads the response headers of a recorded Xero call (testdata/README.md).
func readHeaderFixture(t *testing.T, name string) http.Header {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	h := http.Header{}
	for k, vs := range raw {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

// A real 2020 answer without X-AppMinLimit-Remaining (XERO.md §10b): the unknown app budget
// must not hold calls to one at a time; the minute budget it did report still paces them.
func TestLimiterMissingHeaderIsUnknownNotZero(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := newLimiter(clk.Now, 5, 2*time.Minute)
		real := readHeaderFixture(t, "xero-python-get-organisations-2020.headers.json")
		if real.Get("X-AppMinLimit-Remaining") != "" || real.Get("X-MinLimit-Remaining") != "58" {
			t.Fatalf("fixture is not the recorded answer: %v", real)
		}
		rel, err := l.acquire(context.Background(), "t")
		if err != nil {
			t.Fatal(err)
		}
		rel(real)
		if s := l.snapshot("t"); s.AppMinuteRemaining != -1 || s.MinuteRemaining != 58 || s.DayRemaining != 4983 {
			t.Fatalf("snapshot = %+v", s)
		}
		// Five at once (the concurrent limit), each still unanswered.
		var rels []release
		for i := range 5 {
			done := make(chan release, 1)
			go func() {
				r, err := l.acquire(context.Background(), "t")
				if err != nil {
					t.Error(err)
				}
				done <- r
			}()
			select {
			case r := <-done:
				rels = append(rels, r)
			case <-time.After(5 * time.Second):
				t.Fatalf("call %d waited: a missing header throttled the tenant to one call at a time", i+2)
			}
		}
		sixth := acquireAsync(l, "t")
		mustBlock(t, sixth) // the concurrent limit, not the missing header
		h := real.Clone()
		h.Set("X-MinLimit-Remaining", "0")
		for _, r := range rels {
			r(h)
		}
		mustBlock(t, sixth) // the reported minute budget is spent: wait for its reset
		clk.Advance(61 * time.Second)
		mustFinish(t, sixth)

		// Every header missing at once (a proxy's answer, or a Xero that stopped sending them):
		// still not one at a time.
		l2 := newLimiter(clk.Now, 5, 2*time.Minute)
		rel, _ = l2.acquire(context.Background(), "u")
		rel(http.Header{"Content-Type": {"application/json"}})
		a, _ := l2.acquire(context.Background(), "u")
		mustFinish(t, acquireAsync(l2, "u"))
		a(nil)
	})
}

// An exhausted day whose reset we only estimated is probed by one call after dayProbe; a 429
// then gives the exact reset, which is waited for without further probes.
func TestLimiterDayExhaustedIsProbed(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := newLimiter(clk.Now, 5, 2*time.Minute)
	rel, _ := l.acquire(context.Background(), "t")
	rel(budgetHeaders(50, 0, 100))
	clk.Advance(dayProbe)
	rel, err := l.acquire(context.Background(), "t")
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	// Only one probe at a time.
	if _, err := l.acquire(context.Background(), "t"); err == nil {
		t.Fatal("a second call went out beside the probe")
	}
	rel(nil)
	l.hit("t", &RateLimitError{Limit: LimitDay, RetryAfter: 3 * time.Hour})
	clk.Advance(dayProbe)
	_, err = l.acquire(context.Background(), "t")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Hour-dayProbe {
		t.Fatalf("after Xero's Retry-After: got %v", err)
	}
}

// A restored state holds calls back as the saved counts say, and the limiter admits no more
// than unsavedMax calls beyond the last completed save.
func TestLimiterSaveRestore(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := newLimiter(clk.Now, 5, 2*time.Minute)
	l.restore(nil) // turns the bound on
	for range DefaultUnsavedCalls {
		rel, err := l.acquire(context.Background(), "t")
		if err != nil {
			t.Fatal(err)
		}
		rel(budgetHeaders(40, 900, 9000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*pollInterval)
	defer cancel()
	if _, err := l.acquire(ctx, "t"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call admitted beyond the unsaved bound: %v", err)
	}
	select {
	case <-l.saveWanted:
	default:
		t.Fatal("no save asked for")
	}
	states, saved := l.saveState()
	saved()
	var got BudgetState
	for _, s := range states {
		if s.XeroTenantID == "t" {
			got = s
		}
	}
	if got.MinuteRemaining != 40-DefaultUnsavedCalls || got.DayRemaining != 900-DefaultUnsavedCalls || got.DayLimit != 901 {
		t.Fatalf("saved %+v", got)
	}
	if !got.MinuteResetAt.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("minute reset %v", got.MinuteResetAt)
	}
	rel, err := l.acquire(context.Background(), "t")
	if err != nil {
		t.Fatalf("after the save: %v", err)
	}
	rel(nil)

	// A new process with the saved minute spent waits for its reset instead of probing.
	got.MinuteRemaining = 0
	clk.Advance(10 * time.Second)
	l2 := newLimiter(clk.Now, 5, 10*time.Second)
	l2.restore([]BudgetState{got})
	_, err = l2.acquire(context.Background(), "t")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Limit != LimitMinute || rl.RetryAfter != 50*time.Second {
		t.Fatalf("restored spent minute: got %v", err)
	}
	// A window that has ended is not restored.
	clk.Advance(time.Minute)
	l3 := newLimiter(clk.Now, 5, 10*time.Second)
	l3.restore([]BudgetState{got})
	if s := l3.snapshot("t"); s.MinuteRemaining != -1 {
		t.Fatalf("ended window restored: %+v", s)
	}
}

// After a restart the saved count is short by what the save took off (the allowance and the
// calls in flight), so the first answer shows more left: that is the same day corrected, and
// the day's reset stays where it was. Read as a new day, each hourly kill of dayrun's busy
// Starter organisation pushed the estimated reset to the restart, 12 hours past the true one
// by midday, and the pacer spread the rest of the day over far too long.
func TestLimiterRestoredCountCorrected(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	reset := clk.Now().Add(10 * time.Hour)
	l := newLimiter(clk.Now, 5, 48*time.Hour)
	l.restore([]BudgetState{{XeroTenantID: "t", MinuteRemaining: 40, MinuteResetAt: clk.Now().Add(30 * time.Second),
		DayRemaining: 500, DayResetAt: reset, DayLimit: 1000, SavedAt: clk.Now().Add(-time.Second)}})
	call := func(min, day int) BudgetSnapshot {
		t.Helper()
		rel, err := l.acquire(context.Background(), "t")
		if err != nil {
			t.Fatal(err)
		}
		rel(budgetHeaders(min, day, 9000))
		return l.snapshot("t")
	}
	s := call(48, 512)
	if s.DayRemaining != 512 || !s.DayResetAt.Equal(reset) || !s.MinuteResetAt.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("the first answer after a restore: day %d left until %s, minute until %s; want 512 until %s, the minute's reset kept",
			s.DayRemaining, s.DayResetAt, s.MinuteResetAt, reset)
	}
	// Once corrected, a rise is a new window again (the minute here, and a new day).
	clk.Advance(time.Second)
	s = call(59, 990)
	if s.DayRemaining != 990 || !s.DayResetAt.Equal(clk.Now().Add(24*time.Hour)) || !s.MinuteResetAt.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("a new day after the correction: %d left until %s", s.DayRemaining, s.DayResetAt)
	}
	// A rise beyond the save's slack is a new window at once.
	l2 := newLimiter(clk.Now, 5, 48*time.Hour)
	l2.restore([]BudgetState{{XeroTenantID: "t", MinuteRemaining: -1, DayRemaining: 100, DayResetAt: reset, DayLimit: 1000, SavedAt: clk.Now().Add(-time.Second)}})
	rel, err := l2.acquire(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	rel(budgetHeaders(59, 999, 9000))
	if s := l2.snapshot("t"); s.DayRemaining != 999 || !s.DayResetAt.Equal(clk.Now().Add(24*time.Hour)) {
		t.Fatalf("a new day after a restore: %d left until %s", s.DayRemaining, s.DayResetAt)
	}
}

// A call without an answer (lost response, timeout) or without a count may have been counted
// by Xero: it is taken off what is known to be left.
func TestLimiterCallWithoutCountIsSpent(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := newLimiter(clk.Now, 5, 2*time.Minute)
	rel, _ := l.acquire(context.Background(), "t")
	rel(budgetHeaders(10, 100, 1000))
	rel, _ = l.acquire(context.Background(), "t")
	rel(nil)
	rel, _ = l.acquire(context.Background(), "t")
	rel(http.Header{})
	if s := l.snapshot("t"); s.MinuteRemaining != 8 || s.DayRemaining != 98 || s.AppMinuteRemaining != 998 {
		t.Fatalf("got %+v, want 8, 98 and 998 left", s)
	}
}

// A resend is a call of its own: the lost attempt is spent and the new one is in flight, so
// with two calls left in the minute and one resent, nothing more fits until the reset.
func TestReservationResendIsACall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := newLimiter(clk.Now, 5, 2*time.Minute)
		rel, _ := l.acquire(context.Background(), "t")
		rel(budgetHeaders(2, 900, 9000))
		r, err := l.reserve(context.Background(), "t")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.resend(context.Background()); err != nil {
			t.Fatal(err)
		}
		next := acquireAsync(l, "t")
		mustBlock(t, next)
		r.release(nil) // the resend's answer was lost too
		mustBlock(t, next)
		if s := l.snapshot("t"); s.MinuteRemaining != 0 {
			t.Errorf("minute remaining %d, want 0: both attempts spent", s.MinuteRemaining)
		}
		clk.Advance(61 * time.Second)
		mustFinish(t, next)
	})
}

// release ends a call acquired in a test: reservation.release.
type release = func(h http.Header)

// acquire is reserve for tests that need only the release.
func (l *limiter) acquire(ctx context.Context, tenantID string) (release, error) {
	r, err := l.reserve(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return r.release, nil
}
