package xerosim

import (
	"cmp"
	"hash/fnv"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits are Xero's rate limits (XERO.md §2). Zero fields take the
// defaults.
type Limits struct {
	Concurrent int // calls in flight per tenant; default 5
	PerMinute  int // per tenant; default 60
	// PerDay is per tenant; default 5,000. It applies to every
	// organisation without its own OrgConfig.DayLimit (Xero's Starter tier
	// has 1,000 since 2 March 2026, XERO.md §2).
	PerDay       int
	AppPerMinute int // across all tenants of one app; default 10,000
	// OmitHeaders names X-*Limit-Remaining headers to leave off every response. Xero's
	// headers are not always all there: a recorded 2020 GET /Organisation carries
	// X-DayLimit-Remaining and X-MinLimit-Remaining but no X-AppMinLimit-Remaining
	// (XERO.md §10b; XeroAPI/xero-python
	// tests/accounting/api/cassettes/test_get_organisations.yaml), although Xero staff said
	// in 2023 that all three come on every response (xero-node#634). The limits are still
	// enforced; only the header is missing.
	OmitHeaders []string
}

func (l Limits) withDefaults() Limits {
	l.Concurrent = cmp.Or(l.Concurrent, 5)
	l.PerMinute = cmp.Or(l.PerMinute, 60)
	l.PerDay = cmp.Or(l.PerDay, 5000)
	l.AppPerMinute = cmp.Or(l.AppPerMinute, 10000)
	return l
}

// ProblemWords is the wording of the X-Rate-Limit-Problem header. Only
// "minute" is confirmed from a live response; the others are what SDKs
// assume (XERO.md §2), so they are settings.
type ProblemWords struct {
	Minute     string
	Day        string
	AppMinute  string
	Concurrent string
}

func (p ProblemWords) withDefaults() ProblemWords {
	p.Minute = cmp.Or(p.Minute, "minute")
	p.Day = cmp.Or(p.Day, "day")
	p.AppMinute = cmp.Or(p.AppMinute, "appminute")
	p.Concurrent = cmp.Or(p.Concurrent, "concurrent")
	return p
}

// limiter counts calls in fixed windows (not rolling), each tenant's and
// app's windows offset by a hash of its id, because Xero's windows "reset at
// different times for each tenant" (XERO.md §2). Windows are computed from
// the simulated clock on each call, so the limiter needs no goroutine.
type limiter struct {
	limits   Limits
	problems ProblemWords

	mu       sync.Mutex
	tenants  map[[2]string]*tenantUsage // (client, tenant)
	apps     map[string]*window         // client
	peak     map[string]int             // tenant → highest in-flight count seen
	rejected map[string]int             // problem word → 429s served
}

type tenantUsage struct {
	inFlight int
	minute   window
	day      window
}

// window is one fixed window's count.
type window struct {
	start time.Time
	count int
}

func newLimiter(l Limits, p ProblemWords) *limiter {
	return &limiter{
		limits: l, problems: p,
		tenants:  map[[2]string]*tenantUsage{},
		apps:     map[string]*window{},
		peak:     map[string]int{},
		rejected: map[string]int{},
	}
}

// windowStart is the start of the fixed window of length size that
// contains now, shifted by an offset derived from id.
func windowStart(now time.Time, size time.Duration, id string) time.Time {
	h := fnv.New64a()
	h.Write([]byte(id))
	offset := time.Duration(h.Sum64() % uint64(size))
	return now.Add(-offset).Truncate(size).Add(offset)
}

func (w *window) roll(now time.Time, size time.Duration, id string) {
	if start := windowStart(now, size, id); !start.Equal(w.start) {
		w.start, w.count = start, 0
	}
}

// admission is the limiter's answer: either a 429 response, or headers to
// add and a release func to call when the call completes.
type admission struct {
	res     *response
	headers http.Header
	release func()
}

// admit counts a tenant call against the concurrent, day, minute and
// app-minute limits. Calls refused with 429 are not counted: "a 429 means
// nothing ran" (XERO.md §3).
func (l *limiter) admit(clientID, tenantID string, perDay int, now time.Time, clock *simClock) admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := [2]string{clientID, tenantID}
	u := l.tenants[key]
	if u == nil {
		u = &tenantUsage{}
		l.tenants[key] = u
	}
	app := l.app(clientID, now)
	u.minute.roll(now, time.Minute, tenantID)
	u.day.roll(now, 24*time.Hour, tenantID)

	headers := func() http.Header {
		h := http.Header{}
		h.Set("X-DayLimit-Remaining", strconv.Itoa(max(0, perDay-u.day.count)))
		h.Set("X-MinLimit-Remaining", strconv.Itoa(max(0, l.limits.PerMinute-u.minute.count)))
		h.Set("X-AppMinLimit-Remaining", strconv.Itoa(max(0, l.limits.AppPerMinute-app.count)))
		return l.omit(h)
	}
	switch {
	case u.inFlight >= l.limits.Concurrent:
		// No Retry-After for the concurrent limit (XERO.md §0 row 5).
		return admission{res: l.tooMany(headers(), l.problems.Concurrent, 0, clock)}
	case u.day.count >= perDay:
		return admission{res: l.tooMany(headers(), l.problems.Day, u.day.start.Add(24*time.Hour).Sub(now), clock)}
	case u.minute.count >= l.limits.PerMinute:
		return admission{res: l.tooMany(headers(), l.problems.Minute, u.minute.start.Add(time.Minute).Sub(now), clock)}
	case app.count >= l.limits.AppPerMinute:
		// No Retry-After for the app limit either (XERO.md §2).
		return admission{res: l.tooMany(headers(), l.problems.AppMinute, 0, clock)}
	}
	u.day.count++
	u.minute.count++
	app.count++
	u.inFlight++
	if u.inFlight > l.peak[tenantID] {
		l.peak[tenantID] = u.inFlight
	}
	var once sync.Once
	return admission{headers: headers(), release: func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			u.inFlight--
		})
	}}
}

// admitApp counts a tenantless call (/connections) against the app limit
// only; such responses carry only X-AppMinLimit-Remaining (XERO.md §1).
func (l *limiter) admitApp(clientID string, now time.Time, clock *simClock) admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	app := l.app(clientID, now)
	h := http.Header{}
	if app.count >= l.limits.AppPerMinute {
		h.Set("X-AppMinLimit-Remaining", "0")
		return admission{res: l.tooMany(l.omit(h), l.problems.AppMinute, 0, clock)}
	}
	app.count++
	h.Set("X-AppMinLimit-Remaining", strconv.Itoa(l.limits.AppPerMinute-app.count))
	return admission{headers: l.omit(h), release: func() {}}
}

func (l *limiter) app(clientID string, now time.Time) *window {
	w := l.apps[clientID]
	if w == nil {
		w = &window{}
		l.apps[clientID] = w
	}
	w.roll(now, time.Minute, "app:"+clientID)
	return w
}

// exhaustMinute serves an injected 429 burst: the tenant's current minute
// window is used up, so this call and the rest of the window get honest
// minute-limit 429s with Retry-After.
func (l *limiter) exhaustMinute(clientID, tenantID string, perDay int, now time.Time, clock *simClock) *response {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.tenants[[2]string{clientID, tenantID}]
	u.minute.roll(now, time.Minute, tenantID)
	u.minute.count = max(u.minute.count, l.limits.PerMinute)
	app := l.app(clientID, now)
	h := http.Header{}
	h.Set("X-DayLimit-Remaining", strconv.Itoa(max(0, perDay-u.day.count)))
	h.Set("X-MinLimit-Remaining", "0")
	h.Set("X-AppMinLimit-Remaining", strconv.Itoa(max(0, l.limits.AppPerMinute-app.count)))
	return l.tooMany(l.omit(h), l.problems.Minute, u.minute.start.Add(time.Minute).Sub(now), clock)
}

// omit removes the headers Limits.OmitHeaders names.
func (l *limiter) omit(h http.Header) http.Header {
	for _, name := range l.limits.OmitHeaders {
		h.Del(name)
	}
	return h
}

// tooMany builds a 429. retryAfter is in simulated time and is sent in the
// clients' seconds (simClock.retryAfterSeconds); zero means the limit has no
// Retry-After. The caller holds l.mu.
func (l *limiter) tooMany(h http.Header, problem string, retryAfter time.Duration, clock *simClock) *response {
	l.rejected[problem]++
	h.Set("X-Rate-Limit-Problem", problem)
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(clock.retryAfterSeconds(retryAfter)))
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Xero-Correlation-Id", newGUID())
	return &response{Status: http.StatusTooManyRequests, Header: h, Body: []byte("Too Many Requests")}
}

func (l *limiter) snapshot() (peak, rejected map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.peak), maps.Clone(l.rejected)
}

// dayWindowStart is the start of the tenant's day window that contains now.
func dayWindowStart(tenantID string, now time.Time) time.Time {
	return windowStart(now, 24*time.Hour, tenantID)
}
