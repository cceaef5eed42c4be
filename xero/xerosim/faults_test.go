package xerosim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

// TestLostResponseAppliesTheRequest: Xero did the work, the client never
// hears about it, and a retry under the same key gets the stored answer.
func TestLostResponseAppliesTheRequest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Lost Ltd"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "L-1")}}
	e.sim.FailNext(xerosim.Endpoint(http.MethodPut, "/api.xro/2.0/Invoices"), xerosim.FaultLostResponse)
	// net/http's Transport silently retries a request that carries an
	// Idempotency-Key when a reused connection dies, so the client would
	// see the replay, not the loss. A fresh connection shows the loss.
	e.tr.CloseIdleConnections()
	r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("L-1-key"))
	if r.Err == nil {
		t.Fatalf("want a transport error, got %d", r.Status)
	}
	saved := e.sim.Invoices(e.tenant)
	if len(saved) != 1 || saved[0].InvoiceNumber != "L-1" {
		t.Fatalf("the request must be applied: %+v", saved)
	}
	r = e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("L-1-key")).mustOK(t)
	if got := r.items(t, "Invoices")[0]["InvoiceID"]; got != saved[0].InvoiceID {
		t.Errorf("retry answered %v, want the stored invoice %s", got, saved[0].InvoiceID)
	}
	if n := e.sim.InvoiceCreations(e.tenant, "L-1"); n != 1 {
		t.Errorf("created %d times", n)
	}
	reqs := e.sim.Requests()
	if lost := reqs[len(reqs)-2]; lost.Status != 0 || lost.Fault != xerosim.FaultLostResponse {
		t.Errorf("log of the lost call: status %d fault %v", lost.Status, lost.Fault)
	}
}

func TestOfflineFault(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.FailNext(xerosim.Endpoint("", "/api.xro/2.0/*"), xerosim.FaultOffline)
	r := e.call(http.MethodPut, "Contacts", map[string]any{"Name": "Offline"}, withKey("off-1"))
	if r.Status != http.StatusServiceUnavailable || string(r.Body) != "The Organisation is Offline" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("offline: %d %q %q", r.Status, r.Body, r.Header.Get("Content-Type"))
	}
	// Not cached under the key: the retry does the work.
	e.call(http.MethodPut, "Contacts", map[string]any{"Name": "Offline"}, withKey("off-1")).mustOK(t)
	if n := len(e.sim.Contacts(e.tenant)); n != 1 {
		t.Errorf("%d contacts", n)
	}
}

func TestInjected429Burst(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.FailNext(xerosim.AnyRequest, xerosim.Fault429)
	r := e.call(http.MethodGet, "Organisation", nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Rate-Limit-Problem") != "minute" || r.Header.Get("X-MinLimit-Remaining") != "0" {
		t.Fatalf("burst: %d %v", r.Status, r.Header)
	}
	wait := header(t, r, "Retry-After")
	if r := e.call(http.MethodGet, "Organisation", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("rest of the window: %d", r.Status)
	}
	e.sim.Advance(time.Duration(wait) * time.Second)
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	// The log tells the burst's own 429 from the rest of its window's.
	var got []string
	reqs := e.sim.Requests()
	for _, r := range reqs[len(reqs)-3:] {
		got = append(got, fmt.Sprintf("%d %v %q", r.Status, r.Fault, r.RateLimitProblem))
	}
	if want := []string{`429 429_burst "minute"`, `429 none "minute"`, `200 none ""`}; !slices.Equal(got, want) {
		t.Errorf("request log %q, want %q", got, want)
	}
}

// TestScripted429OnConnections: /connections answers a scripted 429 like
// every other endpoint, instead of doing the work and counting a fault.
func TestScripted429OnConnections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.FailNext(xerosim.Endpoint(http.MethodGet, "/connections"), xerosim.Fault429)
	if r := e.call(http.MethodGet, "/connections", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("scripted 429: %d %s", r.Status, r.Body)
	}
	if n := e.sim.Stats().Faults[xerosim.Fault429]; n != 1 {
		t.Errorf("429 faults: %d", n)
	}
	e.call(http.MethodGet, "/connections", nil).mustOK(t)
}

func TestScriptedFaultsFireInOrderOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.FailNext(xerosim.Endpoint(http.MethodGet, "/api.xro/2.0/Invoices"), xerosim.Fault5xx)
	e.sim.FailNext(xerosim.Endpoint(http.MethodGet, "/api.xro/2.0/Invoices"), xerosim.FaultOffline)
	e.call(http.MethodGet, "Contacts", nil).mustOK(t) // not matched
	if r := e.call(http.MethodGet, "invoices", nil); r.Status != http.StatusInternalServerError {
		t.Errorf("first: %d", r.Status)
	}
	if r := e.call(http.MethodGet, "Invoices", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("second: %d", r.Status)
	}
	e.call(http.MethodGet, "Invoices", nil).mustOK(t)
	st := e.sim.Stats()
	if st.Faults[xerosim.Fault5xx] != 1 || st.Faults[xerosim.FaultOffline] != 1 {
		t.Errorf("faults: %v", st.Faults)
	}
	if e.sim.Calls(http.MethodGet, "/api.xro/2.0/Invoices", 500) != 1 || e.sim.Calls("", "/api.xro/2.0/Invoices", 0) != 3 {
		t.Errorf("calls: %+v", st.Calls)
	}
}

func TestSeededRandomFaultsAreReproducible(t *testing.T) {
	t.Parallel()
	run := func() ([]int, map[xerosim.FaultKind]int) {
		e := setup(t, withConfig(func(c *xerosim.Config) {
			c.Seed = 42
			c.Faults = xerosim.Faults{Rate5xx: 0.2, RateOffline503: 0.1, Rate429Burst: 0}
		}))
		var statuses []int
		for range 40 {
			statuses = append(statuses, e.call(http.MethodGet, "Organisation", nil).Status)
		}
		return statuses, e.sim.Stats().Faults
	}
	a, fa := run()
	b, fb := run()
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fa[xerosim.Fault5xx] == 0 || fa[xerosim.FaultOffline] == 0 || fa[xerosim.Fault5xx] != fb[xerosim.Fault5xx] {
		t.Errorf("faults: %v %v", fa, fb)
	}
	if !slices.Contains(a, 200) {
		t.Errorf("no call succeeded: %v", a)
	}
}

func TestSetFaultsAtRuntime(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.SetFaults(xerosim.Faults{Rate5xx: 1})
	if r := e.call(http.MethodGet, "Organisation", nil); r.Status != http.StatusInternalServerError {
		t.Errorf("Rate5xx 1: %d", r.Status)
	}
	// Random faults are for the Accounting API only.
	e.call(http.MethodGet, "/connections", nil).mustOK(t)
	e.sim.ClearFaults()
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
}

func TestLatencyFault(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) { c.Faults = xerosim.Faults{Latency: 150 * time.Millisecond} }))
	e.sim.FailNext(xerosim.AnyRequest, xerosim.FaultLatency)
	start := time.Now()
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("latency fault took %v", d)
	}
}

// TestTimeoutDuringLatencyStillApplies: the client gives up while Xero is
// slow; Xero finishes anyway and the key replays the result.
func TestTimeoutDuringLatencyStillApplies(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) { c.Faults = xerosim.Faults{Latency: 5 * time.Second} }))
	cid := e.addContact(map[string]any{"Name": "Slow Ltd"})
	body, _ := json.Marshal(map[string]any{"Invoices": []any{invoiceBody(cid, "T-1")}})
	e.sim.FailNext(xerosim.Endpoint(http.MethodPut, "/api.xro/2.0/Invoices"), xerosim.FaultLatency)
	// Called in-process under synctest: the handler returns when it has finished with the
	// request, so whether it applied the invoice is known then, and the client's 100 ms are
	// up exactly when they are (see env.inProcess).
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPut, "/api.xro/2.0/Invoices", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.tokens.Access)
		req.Header.Set("Xero-Tenant-Id", e.tenant)
		req.Header.Set("Idempotency-Key", "T-1-key")
		start := time.Now()
		e.sim.ServeHTTP(httptest.NewRecorder(), req)
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("the handler took %s; want it to stop waiting when the client gave up, at 100ms", d)
		}
		if n := e.sim.InvoiceCreations(e.tenant, "T-1"); n != 1 {
			t.Fatalf("the timed-out request was applied %d times, want once", n)
		}
		// The retry is in the bubble too: the key's record was made in it.
		r := e.inProcess(t).call(http.MethodPut, "Invoices", string(body), withKey("T-1-key")).mustOK(t)
		if got := r.items(t, "Invoices")[0]["InvoiceID"]; got != e.sim.Invoices(e.tenant)[0].InvoiceID {
			t.Errorf("retry answered %v", got)
		}
	})
	if n := e.sim.InvoiceCreations(e.tenant, "T-1"); n != 1 {
		t.Errorf("created %d times", n)
	}
}
