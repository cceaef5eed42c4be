package xerosim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestInspection(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Seen Ltd", "ContactNumber": "S-1"})
	e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{invoiceBody(cid, "S-INV")}}, withKey("inspect-key")).mustOK(t)

	var put *xerosim.RecordedRequest
	reqs := e.sim.Requests()
	for i := range reqs {
		if reqs[i].Method == http.MethodPut && reqs[i].Endpoint == "/api.xro/2.0/Invoices" {
			put = &reqs[i]
		}
	}
	if put == nil {
		t.Fatal("PUT /Invoices not in the log")
	}
	if put.IdempotencyKey != "inspect-key" || put.Header.Get("Idempotency-Key") != "inspect-key" || put.Query != "summarizeErrors=false" ||
		put.TenantID != e.tenant || put.Status != 200 || !strings.Contains(string(put.Body), `"InvoiceNumber":"S-INV"`) {
		t.Errorf("recorded request: %+v", put)
	}
	if e.sim.Calls(http.MethodPut, "/api.xro/2.0/Invoices", 200) != 1 || e.sim.Calls(http.MethodPost, "/connect/token", 200) != 1 {
		t.Errorf("calls: %+v", e.sim.Stats().Calls)
	}
	inv := e.sim.Invoices(e.tenant)[0]
	if inv.Total != "46.00" || inv.AmountDue != "46.00" || inv.LineItems[0].UnitAmount != "20.0000" || inv.ContactID != cid {
		t.Errorf("invoice view: %+v", inv)
	}
	if e.sim.ContactCreations(e.tenant, "S-1") != 1 || e.sim.InvoiceCreations(e.tenant, "S-INV") != 1 {
		t.Error("creation counters")
	}
	// Created is when it was made (a benchmark's delay), and an update keeps it.
	created := e.sim.Now()
	if c := e.sim.Contacts(e.tenant)[0]; !c.Created.Equal(created) || !inv.Created.Equal(created) {
		t.Errorf("created at %s: contact %s, invoice %s", created, c.Created, inv.Created)
	}
	e.clock.Advance(time.Minute)
	e.call(http.MethodPost, "Contacts", map[string]any{"Contacts": []any{map[string]any{"ContactID": cid, "Name": "Seen Ltd (renamed)"}}}).mustOK(t)
	if c := e.sim.Contacts(e.tenant)[0]; !c.Created.Equal(created) || !c.UpdatedDateUTC.After(created) {
		t.Errorf("after an update: created %s, updated %s; want created %s", c.Created, c.UpdatedDateUTC, created)
	}

	e.sim.FailNext(xerosim.Endpoint("", "/api.xro/2.0/Organisation"), xerosim.FaultOffline)
	e.call(http.MethodGet, "Organisation", nil)
	r := e.call(http.MethodGet, "/_sim/state", nil).mustOK(t)
	var st xerosim.SimState
	if err := json.Unmarshal(r.Body, &st); err != nil {
		t.Fatalf("state: %v", err)
	}
	if len(st.Orgs) != 1 || len(st.Orgs[0].Invoices) != 1 || st.Orgs[0].InvoiceCreations["S-INV"] != 1 || len(st.Connections) != 1 || st.Stats.Requests == 0 ||
		st.Stats.Faults[xerosim.FaultOffline] != 1 {
		t.Errorf("state: %s", r.Body)
	}
	if r := e.call(http.MethodGet, "/nowhere", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.Status)
	}
	if r := e.call(http.MethodDelete, "Invoices", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("unsupported method: %d", r.Status)
	}
}
