package xerosim_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Rita"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-100")}}
	first := e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("inv-100-a1")).mustOK(t)
	e.sim.Advance(5*time.Minute + 59*time.Second)
	second := e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("inv-100-a1")).mustOK(t)
	if !bytes.Equal(first.Body, second.Body) {
		t.Errorf("replay differs:\n%s\n%s", first.Body, second.Body)
	}
	if n := e.sim.InvoiceCreations(e.tenant, "INV-100"); n != 1 {
		t.Errorf("created %d times", n)
	}
	// The replay still counts against the rate limit (it is checked first)
	// and carries fresh rate headers.
	if first.Header.Get("X-MinLimit-Remaining") == second.Header.Get("X-MinLimit-Remaining") {
		t.Errorf("replay reused rate headers: %s", second.Header.Get("X-MinLimit-Remaining"))
	}
	reqs := e.sim.Requests()
	last := reqs[len(reqs)-1]
	if !last.Replayed || last.IdempotencyKey != "inv-100-a1" || last.Endpoint != "/api.xro/2.0/Invoices" {
		t.Errorf("request log: %+v", last)
	}
	// GET ignores the header.
	e.call(http.MethodGet, "Invoices", nil, withKey("inv-100-a1")).mustOK(t)
}

func TestIdempotencyKeyWithDifferentRequest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Rita"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-200")}}
	e.call(http.MethodPut, "Invoices", body, withKey("K1")).mustOK(t)
	other := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-201")}}
	tests := map[string]func() *result{
		"body":   func() *result { return e.call(http.MethodPut, "Invoices", other, withKey("K1")) },
		"url":    func() *result { return e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("K1")) },
		"method": func() *result { return e.call(http.MethodPost, "Invoices", body, withKey("K1")) },
	}
	for name, do := range tests {
		r := do()
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: want 400, got %d", name, r.Status)
			continue
		}
		if msg := r.JSON(t)["Message"]; msg != "Idempotency Key: K1 is used with a different request." {
			t.Errorf("%s: message %q", name, msg)
		}
	}
	if n := e.sim.InvoiceCreations(e.tenant, "INV-201"); n != 0 {
		t.Errorf("INV-201 created %d times", n)
	}
}

func TestIdempotencyKeyExpiresAfterSixMinutes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Rita"})
	// No InvoiceNumber: a re-run creates a second invoice, which makes the
	// expiry visible.
	inv := invoiceBody(cid, "")
	delete(inv, "InvoiceNumber")
	body := map[string]any{"Invoices": []any{inv}}
	e.call(http.MethodPut, "Invoices", body, withKey("K-exp")).mustOK(t)
	e.sim.Advance(6 * time.Minute)
	_, fresh, _ := e.refresh(e.tokens.Refresh)
	e.tokens = fresh
	e.call(http.MethodPut, "Invoices", body, withKey("K-exp")).mustOK(t)
	if got := len(e.sim.Invoices(e.tenant)); got != 2 {
		t.Errorf("after key expiry: %d invoices, want 2", got)
	}
}

func TestIdempotencyKeyLength(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.call(http.MethodPut, "Contacts", map[string]any{"Name": "A"}, withKey(strings.Repeat("k", 128))).mustOK(t)
	r := e.call(http.MethodPut, "Contacts", map[string]any{"Name": "B"}, withKey(strings.Repeat("k", 129)))
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "Idempotency Key") {
		t.Fatalf("129-char key: %d %s", r.Status, r.Body)
	}
	if len(e.sim.Contacts(e.tenant)) != 1 {
		t.Error("request with an over-long key was applied")
	}
}

func TestIdempotencyCachesErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Rita"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-300")}}
	e.sim.FailNext(xerosim.Endpoint(http.MethodPut, "/api.xro/2.0/Invoices"), xerosim.Fault5xx)
	if r := e.call(http.MethodPut, "Invoices", body, withKey("K-500")); r.Status != http.StatusInternalServerError {
		t.Fatalf("injected 500: %d", r.Status)
	}
	// The error is cached: the same key replays it even though Xero is fine.
	if r := e.call(http.MethodPut, "Invoices", body, withKey("K-500")); r.Status != http.StatusInternalServerError {
		t.Fatalf("replayed 500: %d", r.Status)
	}
	if n := e.sim.InvoiceCreations(e.tenant, "INV-300"); n != 0 {
		t.Fatalf("created %d times behind a 500", n)
	}
	e.call(http.MethodPut, "Invoices", body, withKey("K-500-b")).mustOK(t)
	if n := e.sim.InvoiceCreations(e.tenant, "INV-300"); n != 1 {
		t.Errorf("created %d times", n)
	}
}

func TestIdempotencyConcurrentDuplicateWaits(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) { c.Faults = xerosim.Faults{Latency: 300 * time.Millisecond} }))
	cid := e.addContact(map[string]any{"Name": "Rita"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-400")}}
	e.sim.FailNext(xerosim.Endpoint(http.MethodPut, "/api.xro/2.0/Invoices"), xerosim.FaultLatency)
	synctest.Test(t, func(t *testing.T) {
		e := e.inProcess(t)
		var wg sync.WaitGroup
		var slow *result
		wg.Go(func() { slow = e.call(http.MethodPut, "Invoices", body, withKey("K-conc")) })
		synctest.Wait() // the first call is in its latency, its key in flight
		fast := e.call(http.MethodPut, "Invoices", body, withKey("K-conc"))
		wg.Wait()
		slow.mustOK(t)
		fast.mustOK(t)
		if !bytes.Equal(slow.Body, fast.Body) {
			t.Errorf("duplicate got a different response")
		}
	})
	if n := e.sim.InvoiceCreations(e.tenant, "INV-400"); n != 1 {
		t.Errorf("created %d times", n)
	}
}

func TestIdempotencyKeysArePerApp(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Rita"})
	body := map[string]any{"Invoices": []any{invoiceBody(cid, "INV-500")}}
	e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("shared")).mustOK(t)
	other := e.connect("other-app", "other-secret", allScopes)
	r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", body, withKey("shared"), withToken(other.Access)).mustOK(t)
	if msgs := validationMessages(r.JSON(t)); len(msgs) != 1 || msgs[0] != "Invoice # must be unique." {
		t.Errorf("another app's key must not replay: %v", msgs)
	}
}
