package xerosim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestBatchWithSummarizeErrorsFalse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Batch Ltd"})
	bad := invoiceBody(cid, "B-2")
	bad["LineItems"] = []any{map[string]any{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "999"}}
	r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{
		invoiceBody(cid, "B-1"), bad, invoiceBody(cid, "B-3"),
	}})
	if r.Status != http.StatusOK {
		t.Fatalf("summarizeErrors=false must answer 200, got %d", r.Status)
	}
	items := r.items(t, "Invoices")
	if len(items) != 3 {
		t.Fatalf("want 3 elements in request order, got %d", len(items))
	}
	for i, want := range []bool{false, true, false} {
		if items[i]["HasErrors"] != want {
			t.Errorf("element %d HasErrors = %v", i, items[i]["HasErrors"])
		}
	}
	if items[0]["InvoiceNumber"] != "B-1" || items[2]["InvoiceNumber"] != "B-3" || items[1]["InvoiceNumber"] != "B-2" {
		t.Errorf("order: %v %v %v", items[0]["InvoiceNumber"], items[1]["InvoiceNumber"], items[2]["InvoiceNumber"])
	}
	if items[1]["StatusAttributeString"] != "ERROR" || !slices.Equal(validationMessages(items[1]), []string{"Account code '999' is not a valid code for this document."}) {
		t.Errorf("failed element: %v", items[1])
	}
	var numbers []string
	for _, inv := range e.sim.Invoices(e.tenant) {
		numbers = append(numbers, inv.InvoiceNumber)
	}
	if !slices.Equal(numbers, []string{"B-1", "B-3"}) {
		t.Errorf("saved: %v", numbers)
	}

	// Contacts and payments report per element with HasValidationErrors.
	r = e.call(http.MethodPut, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{
		map[string]any{"Name": "New One"}, map[string]any{"Name": "batch ltd"},
	}}).mustOK(t)
	cs := r.items(t, "Contacts")
	if cs[0]["HasValidationErrors"] != false || cs[1]["HasValidationErrors"] != true {
		t.Errorf("contacts batch: %s", r.Body)
	}
}

// TestBatchSummarisedQuirk is Xero's trap (XERO.md §0 row 11): without
// summarizeErrors=false one bad element makes the response a 400, yet the
// good elements are created and their ids are not in the body.
func TestBatchSummarisedQuirk(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Quirk Ltd"})
	bad := invoiceBody(cid, "Q-2")
	bad["CurrencyCode"] = "EUR"
	r := e.call(http.MethodPut, "Invoices", map[string]any{"Invoices": []any{invoiceBody(cid, "Q-1"), bad, invoiceBody(cid, "Q-3")}})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("want 400, got %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if num(m["ErrorNumber"]) != "10" || m["Type"] != "ValidationException" || m["Message"] != "A validation exception occurred" {
		t.Errorf("exception: %s", r.Body)
	}
	elems := m["Elements"].([]any)
	if len(elems) != 1 || !slices.Equal(validationMessages(elems[0]), []string{"Organisation is not subscribed to currency EUR"}) {
		t.Errorf("elements: %v", elems)
	}
	saved := e.sim.Invoices(e.tenant)
	if len(saved) != 2 {
		t.Fatalf("the valid elements must still be created: %d saved", len(saved))
	}
	for _, inv := range saved {
		if strings.Contains(string(r.Body), inv.InvoiceID) {
			t.Errorf("400 body carries the id of created invoice %s", inv.InvoiceNumber)
		}
	}
	// summarizeErrors=true behaves the same.
	r = e.call(http.MethodPut, "Invoices?summarizeErrors=true", map[string]any{"Invoices": []any{bad}})
	if r.Status != http.StatusBadRequest {
		t.Errorf("summarizeErrors=true: %d", r.Status)
	}
	// A batch with no errors is a plain 200 either way.
	e.call(http.MethodPut, "Invoices", map[string]any{"Invoices": []any{invoiceBody(cid, "Q-4")}}).mustOK(t)
}
