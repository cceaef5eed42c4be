package xerosim_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func header(t *testing.T, r *result, name string) int {
	t.Helper()
	v := r.Header.Get(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s = %q: %v", name, v, err)
	}
	return n
}

func TestMinuteLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i := 1; i <= 60; i++ {
		r := e.call(http.MethodGet, "Organisation", nil).mustOK(t)
		if got := header(t, r, "X-MinLimit-Remaining"); got != 60-i {
			t.Fatalf("call %d: X-MinLimit-Remaining = %d", i, got)
		}
		if got := header(t, r, "X-DayLimit-Remaining"); got != 5000-i {
			t.Fatalf("call %d: X-DayLimit-Remaining = %d", i, got)
		}
		if got := header(t, r, "X-AppMinLimit-Remaining"); got != 10000-i {
			t.Fatalf("call %d: X-AppMinLimit-Remaining = %d", i, got)
		}
	}
	r := e.call(http.MethodGet, "Organisation", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "minute" {
		t.Fatalf("61st call: %d %v", r.Status, r.Header)
	}
	wait := header(t, r, "Retry-After")
	if wait < 1 || wait > 60 {
		t.Fatalf("Retry-After = %d", wait)
	}
	// A 429 is not counted, so the day budget did not move.
	if got := header(t, r, "X-DayLimit-Remaining"); got != 4940 {
		t.Errorf("X-DayLimit-Remaining on 429 = %d", got)
	}
	e.sim.Advance(time.Duration(wait-1) * time.Second)
	if r := e.call(http.MethodGet, "Organisation", nil); r.Status != http.StatusTooManyRequests && wait > 1 {
		t.Fatalf("before Retry-After elapsed: %d", r.Status)
	}
	e.sim.Advance(time.Second)
	r = e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	if got := header(t, r, "X-MinLimit-Remaining"); got != 59 {
		t.Errorf("new window: X-MinLimit-Remaining = %d", got)
	}
	if st := e.sim.Stats(); st.RateLimited["minute"] < 1 || st.TooManyRequests < 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestDayLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) {
		c.Limits = xerosim.Limits{PerDay: 3, PerMinute: 100}
	}))
	for range 3 {
		e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	}
	r := e.call(http.MethodGet, "Organisation", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "day" {
		t.Fatalf("4th call: %d %v", r.Status, r.Header)
	}
	if wait := header(t, r, "Retry-After"); wait < 1 || wait > 86400 {
		t.Errorf("Retry-After = %d", wait)
	}
	e.sim.Advance(24 * time.Hour)
	_, fresh, _ := e.refresh(e.tokens.Refresh)
	e.call(http.MethodGet, "Organisation", nil, withToken(fresh.Access)).mustOK(t)
}

func TestAppMinuteLimitHasNoRetryAfter(t *testing.T) {
	t.Parallel()
	second := xerosim.DefaultOrg("Beta Ltd")
	second.OrganisationID = "0b7f5a2c-3d4e-4f60-8a1b-2c3d4e5f6a7b"
	e := setup(t, withOrgs(second), withConfig(func(c *xerosim.Config) {
		c.Limits = xerosim.Limits{AppPerMinute: 3}
		c.Problems = xerosim.ProblemWords{AppMinute: "AppMinute"}
	}))
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	e.call(http.MethodGet, "Organisation", nil, withTenant(second.OrganisationID)).mustOK(t)
	e.call(http.MethodGet, "/connections", nil).mustOK(t)
	r := e.call(http.MethodGet, "Organisation", nil, withTenant(second.OrganisationID))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "AppMinute" {
		t.Fatalf("app limit: %d %v", r.Status, r.Header)
	}
	if ra := r.Header.Get("Retry-After"); ra != "" {
		t.Errorf("app-minute 429 has Retry-After %q", ra)
	}
	if r := e.call(http.MethodGet, "/connections", nil); r.Status != http.StatusTooManyRequests {
		t.Errorf("tenantless call over the app limit: %d", r.Status)
	}
}

func TestTenantlessCallsCountOnlyAgainstApp(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) { c.Limits = xerosim.Limits{PerMinute: 2} }))
	for range 3 {
		r := e.call(http.MethodGet, "/connections", nil).mustOK(t)
		if r.Header.Get("X-MinLimit-Remaining") != "" || r.Header.Get("X-DayLimit-Remaining") != "" || r.Header.Get("X-AppMinLimit-Remaining") == "" {
			t.Fatalf("tenantless headers: %v", r.Header)
		}
	}
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
}

func TestConcurrentLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) {
		c.Limits = xerosim.Limits{Concurrent: 1}
		c.Faults = xerosim.Faults{Latency: 400 * time.Millisecond}
	}))
	e.sim.FailNext(xerosim.AnyRequest, xerosim.FaultLatency)
	synctest.Test(t, func(t *testing.T) {
		e := e.inProcess(t)
		var wg sync.WaitGroup
		var slow *result
		wg.Go(func() { slow = e.call(http.MethodGet, "Organisation", nil) })
		synctest.Wait() // the slow call is in its latency, in the tenant's one concurrent slot
		r := e.call(http.MethodGet, "Organisation", nil)
		wg.Wait()
		if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "concurrent" || r.Header.Get("Retry-After") != "" {
			t.Fatalf("second concurrent call: %d %v", r.Status, r.Header)
		}
		slow.mustOK(t)
	})
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	if got := e.sim.Stats().PeakConcurrency[e.tenant]; got != 1 {
		t.Errorf("peak concurrency %d", got)
	}
}

// TestScaledClock runs minute windows at 60× so a simulated minute passes
// in a real second, and checks Retry-After comes back in real seconds.
func TestScaledClock(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) {
		c.TimeScale = 60
		c.Limits = xerosim.Limits{PerMinute: 2, PerDay: 3}
	}))
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	r := e.call(http.MethodGet, "Organisation", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("minute limit at 60×: %d Retry-After=%q", r.Status, r.Header.Get("Retry-After"))
	}
	e.clock.Advance(time.Second) // one real second = one simulated minute
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	r = e.call(http.MethodGet, "Organisation", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "day" {
		t.Fatalf("day limit: %d %v", r.Status, r.Header)
	}
	if wait := header(t, r, "Retry-After"); wait < 1 || wait > 1440 {
		t.Errorf("day Retry-After at 60× = %d real seconds", wait)
	}
	// Tokens expire in simulated time too: 30 simulated minutes = 30 s.
	e.clock.Advance(31 * time.Second)
	if r := e.call(http.MethodGet, "Organisation", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("token after 31 real seconds at 60×: %d", r.Status)
	}
}

// TestWindowsResetPerTenant checks windows are fixed and offset per tenant:
// two tenants exhausted at the same instant are told to wait different
// times.
func TestWindowsResetPerTenant(t *testing.T) {
	t.Parallel()
	second := xerosim.DefaultOrg("Beta Ltd")
	second.OrganisationID = "0b7f5a2c-3d4e-4f60-8a1b-2c3d4e5f6a7b"
	e := setup(t, withOrgs(second), withConfig(func(c *xerosim.Config) { c.Limits = xerosim.Limits{PerMinute: 1} }))
	waits := map[string]int{}
	for _, tenant := range []string{e.tenant, second.OrganisationID} {
		e.call(http.MethodGet, "Organisation", nil, withTenant(tenant)).mustOK(t)
		r := e.call(http.MethodGet, "Organisation", nil, withTenant(tenant))
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("tenant %s: %d", tenant, r.Status)
		}
		waits[tenant] = header(t, r, "Retry-After")
	}
	if waits[e.tenant] == waits[second.OrganisationID] {
		t.Errorf("both tenants' windows reset together: %v", waits)
	}
	// A window is fixed, not rolling: the wait shrinks as time passes.
	e.sim.Advance(time.Second)
	r := e.call(http.MethodGet, "Organisation", nil, withTenant(second.OrganisationID))
	if r.Status == http.StatusTooManyRequests {
		if got := header(t, r, "Retry-After"); got != waits[second.OrganisationID]-1 {
			t.Errorf("fixed window: Retry-After %d then %d after 1s", waits[second.OrganisationID], got)
		}
	}
}

func TestRateLimitBeforeIdempotency(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) { c.Limits = xerosim.Limits{PerMinute: 2} }))
	cid := e.addContact(map[string]any{"Name": "Rita"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-RL")}}
	e.call(http.MethodPut, "Invoices", body, withKey("k-rl")).mustOK(t)
	r := e.call(http.MethodPut, "Invoices", body, withKey("k-rl"))
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("replay over the limit: %d", r.Status)
	}
	if st := e.sim.Stats(); st.Replays != 0 {
		t.Errorf("a 429 must not be a replay: %+v", st)
	}
	e.sim.Advance(time.Minute)
	e.call(http.MethodPut, "Invoices", body, withKey("k-rl")).mustOK(t)
	if st := e.sim.Stats(); st.Replays != 1 {
		t.Errorf("replays = %d", st.Replays)
	}
}

// Limits.OmitHeaders leaves a header off, as a recorded 2020 answer had no
// X-AppMinLimit-Remaining (XERO.md §10b); the limit itself still holds.
func TestOmitRateHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) {
		c.Limits.PerMinute = 2
		c.Limits.OmitHeaders = []string{"X-AppMinLimit-Remaining"}
	}))
	for i := 1; i <= 2; i++ {
		r := e.call(http.MethodGet, "Organisation", nil).mustOK(t)
		if v, ok := r.Header[http.CanonicalHeaderKey("X-AppMinLimit-Remaining")]; ok {
			t.Fatalf("call %d: X-AppMinLimit-Remaining %q sent", i, v)
		}
		if got := header(t, r, "X-MinLimit-Remaining"); got != 2-i {
			t.Fatalf("call %d: X-MinLimit-Remaining = %d", i, got)
		}
		header(t, r, "X-DayLimit-Remaining")
	}
	r := e.call(http.MethodGet, "Organisation", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-AppMinLimit-Remaining") != "" {
		t.Fatalf("over the limit: %d %v", r.Status, r.Header)
	}
}

// TestOrgDayLimit: an organisation on Xero's Starter tier has its own day of 1,000 calls
// (XERO.md §2); the others keep Config.Limits'. Headers and the 429 say the organisation's.
func TestOrgDayLimit(t *testing.T) {
	t.Parallel()
	starter := xerosim.DefaultOrg("Starter Ltd")
	starter.OrganisationID = "5f0c6f3a-9d1e-4b7a-8c2d-3e4f5a6b7c8d"
	starter.Class, starter.DayLimit = "STARTER", 2
	e := setup(t, withOrgs(starter), withConfig(func(c *xerosim.Config) { c.Limits = xerosim.Limits{PerDay: 10} }))
	if got := header(t, e.call(http.MethodGet, "Organisation", nil, withTenant(starter.OrganisationID)).mustOK(t), "X-DayLimit-Remaining"); got != 1 {
		t.Errorf("starter's first call: X-DayLimit-Remaining %d, want 1", got)
	}
	if got := header(t, e.call(http.MethodGet, "Organisation", nil).mustOK(t), "X-DayLimit-Remaining"); got != 9 {
		t.Errorf("the other organisation's first call: X-DayLimit-Remaining %d, want 9", got)
	}
	e.call(http.MethodGet, "Organisation", nil, withTenant(starter.OrganisationID)).mustOK(t)
	r := e.call(http.MethodGet, "Organisation", nil, withTenant(starter.OrganisationID))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "day" {
		t.Fatalf("starter's third call: %d %v", r.Status, r.Header)
	}
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
}

// TestClientsShareClock: when the clients run on the simulated clock (a simulated day's
// run), Retry-After is in simulated seconds; Clock gives the reference they compute it from,
// and DayWindowStart the organisation's day, which Advance can reach.
func TestClientsShareClock(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) {
		c.TimeScale, c.ClientsShareClock = 60, true
		c.Limits = xerosim.Limits{PerMinute: 1}
	}))
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	r := e.call(http.MethodGet, "Organisation", nil)
	if wait := header(t, r, "Retry-After"); r.Status != http.StatusTooManyRequests || wait < 2 || wait > 60 {
		t.Fatalf("minute limit at 60× with a shared clock: %d Retry-After=%d, want simulated seconds", r.Status, wait)
	}
	real, sim, scale := e.sim.Clock()
	if scale != 60 || !sim.Equal(real) {
		t.Errorf("Clock() = %s, %s, %v before any Advance", real, sim, scale)
	}
	now := e.sim.Now()
	start := e.sim.DayWindowStart(e.tenant)
	if start.After(now) || now.Sub(start) >= 24*time.Hour {
		t.Fatalf("DayWindowStart %s is not the day window around %s", start, now)
	}
	e.sim.Advance(start.Add(24 * time.Hour).Sub(now))
	if got := e.sim.DayWindowStart(e.tenant); !got.Equal(e.sim.Now()) {
		t.Errorf("after advancing to the next day: window starts %s, now %s", got, e.sim.Now())
	}
	if _, sim2, _ := e.sim.Clock(); !sim2.Equal(sim.Add(start.Add(24 * time.Hour).Sub(now))) {
		t.Errorf("Clock()'s sim after Advance = %s", sim2)
	}
}
