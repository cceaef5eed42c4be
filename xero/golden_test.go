package xero

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Tests that decode real Xero bodies (testdata/README.md names each one's source), so that the
// client is checked against what Xero sends and not only against what our simulator assumes.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Xero's answer to a backslash-escaped quote in a where literal (Xero-Java#347): a permanent
// 400 the client reads as QueryParseException "Syntax error", never a retry.
func TestGoldenWhereQueryParseException(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "xero-java-347-where-backslash-quote.json")
	err := parseError("GET /Contacts", http.StatusBadRequest, hdr("Content-Type", "application/json; charset=utf-8"), body, false)
	ae, ok := err.(*APIError)
	if !ok || ae.Type != "QueryParseException" || ae.Message != "Syntax error" || ae.Status != 400 {
		t.Fatalf("parsed as %#v", err)
	}
	if Classify(err) != ClassPermanent {
		t.Fatalf("class %v", Classify(err))
	}
}

// Xero's own examples of batch elements (spec, XERO.md §10b), matched as answers to what we
// would have sent: success is read from the status, never from an id or a message.
func TestGoldenBatchElements(t *testing.T) {
	t.Parallel()

	// PUT /Payments 200: a failed payment that is a whole entity, with a non-zero PaymentID
	// and Status AUTHORISED, failed only by HasValidationErrors and its message.
	var pays paymentsEnvelope
	if err := json.Unmarshal(readFixture(t, "openapi-put-payments-200.json"), &pays); err != nil {
		t.Fatal(err)
	}
	sentPay := []Payment{{Invoice: &InvoiceRef{InvoiceID: "c7c37b83-ac95-45ea-88ba-8ad83a5f22fe"}, Account: &AccountRef{Code: "970"}, Amount: MustDecimal("1")}}
	pr, err := matchResults("PUT /Payments", sentPay, pays.Payments, paymentView)
	if err != nil {
		t.Fatal(err)
	}
	if p := pr[0]; p.OK() || p.XeroID != "" || p.Entity.PaymentID != "61ed71fc-01bf-4eb8-8419-8a18789ff45f" ||
		p.Code != CodeValidationError || len(p.ValidationErrors) != 1 || p.ValidationErrors[0] != "Payment amount exceeds the amount outstanding on this document" {
		t.Errorf("failed payment with an id: %+v", p)
	}

	// GET /Invoices/{InvoiceID} 200: HasErrors false, but StatusAttributeString ERROR and
	// "Invoice # must be unique." — failed, although it has an id and no error flag.
	var invs invoicesEnvelope
	if err := json.Unmarshal(readFixture(t, "openapi-get-invoice-200.json"), &invs); err != nil {
		t.Fatal(err)
	}
	if invs.Invoices[0].HasErrors || !invs.Invoices[0].Total.Equal(MustDecimal("148062.76")) {
		t.Fatalf("fixture decoded as %+v", invs.Invoices[0])
	}
	ir, err := matchResults("PUT /Invoices", []Invoice{{InvoiceNumber: "INV-0006"}}, invs.Invoices, invoiceView)
	if err != nil {
		t.Fatal(err)
	}
	if r := ir[0]; r.OK() || r.XeroID != "" || r.Code != CodeInvoiceNumberInUse {
		t.Errorf("ERROR without HasErrors: %+v", r)
	}

	// PUT /CreditNotes 200: saved (an id, StatusAttributeString OK) and still carrying a
	// message. A credit note is read here through the invoice fields it shares.
	var cns struct {
		CreditNotes []struct {
			Invoice
			CreditNoteID string `json:"CreditNoteID"`
		} `json:"CreditNotes"`
	}
	if err := json.Unmarshal(readFixture(t, "openapi-put-creditnotes-200.json"), &cns); err != nil {
		t.Fatal(err)
	}
	cnView := func(inv Invoice) elementView {
		v := invoiceView(inv)
		v.id = cns.CreditNotes[0].CreditNoteID
		return v
	}
	cr, err := matchResults("PUT /CreditNotes", []Invoice{{}}, []Invoice{cns.CreditNotes[0].Invoice}, cnView)
	if err != nil {
		t.Fatal(err)
	}
	if r := cr[0]; !r.OK() || r.XeroID != "f9256f04-5a99-4680-acb9-6b4639cc439a" || len(r.ValidationErrors) != 0 ||
		len(r.Warnings) != 1 || r.Warnings[0] != "An existing Credit Note with the specified CreditNoteID could not be found" {
		t.Errorf("saved element with a message: %+v", r)
	}
}
