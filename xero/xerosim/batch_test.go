package xerosim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero/xerosim"
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

// ElementShapes produce the element shapes seen from Xero (XERO.md §10b):
// failed elements with a made-up or all-zero id, without their error flag or
// without a status, and saved elements that carry a message.
func TestElementShapes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Shapes Ltd"})
	bad := func(n string) map[string]any {
		b := invoiceBody(cid, n)
		b["LineItems"] = []any{map[string]any{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "999"}}
		return b
	}
	tests := []struct {
		shapes xerosim.ElementShapes
		check  func(t *testing.T, good, failed map[string]any)
	}{
		{xerosim.ElementShapes{FailedID: xerosim.FailedIDGenerated, FailedWithoutFlag: true, SavedWarning: "Heads up"},
			func(t *testing.T, good, failed map[string]any) {
				if id, _ := failed["InvoiceID"].(string); len(id) != 36 || id == zero || failed["HasErrors"] != false || failed["StatusAttributeString"] != "ERROR" {
					t.Errorf("failed: %v", failed)
				}
				if good["StatusAttributeString"] != "OK" || !slices.Equal(validationMessages(good), []string{"Heads up"}) || good["InvoiceID"] == "" {
					t.Errorf("saved: %v", good)
				}
			}},
		{xerosim.ElementShapes{FailedID: xerosim.FailedIDZero, FailedWithoutStatus: true},
			func(t *testing.T, good, failed map[string]any) {
				if _, ok := failed["StatusAttributeString"]; ok || failed["InvoiceID"] != zero || failed["HasErrors"] != true {
					t.Errorf("failed: %v", failed)
				}
				if len(validationMessages(good)) != 0 {
					t.Errorf("saved: %v", good)
				}
			}},
	}
	for i, tt := range tests {
		e.sim.SetElementShapes(tt.shapes)
		n := strings.Repeat("S", i+1)
		r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{invoiceBody(cid, n+"-1"), bad(n + "-2")}}).mustOK(t)
		items := r.items(t, "Invoices")
		tt.check(t, items[0], items[1])
	}
	// The shapes apply to contacts and payments, by their own fields.
	e.sim.SetElementShapes(xerosim.ElementShapes{FailedID: xerosim.FailedIDZero, FailedWithoutFlag: true})
	cs := e.call(http.MethodPut, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{map[string]any{"Name": "shapes ltd"}}}).mustOK(t).items(t, "Contacts")
	if cs[0]["ContactID"] != zero || cs[0]["HasValidationErrors"] != false || cs[0]["StatusAttributeString"] != "ERROR" {
		t.Errorf("contact: %v", cs[0])
	}
	e.sim.SetElementShapes(xerosim.ElementShapes{})
	cs = e.call(http.MethodPut, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{map[string]any{"Name": "shapes ltd"}}}).mustOK(t).items(t, "Contacts")
	if _, ok := cs[0]["ContactID"]; ok || cs[0]["HasValidationErrors"] != true {
		t.Errorf("default shape: %v", cs[0])
	}
}

const zero = "00000000-0000-0000-0000-000000000000"
