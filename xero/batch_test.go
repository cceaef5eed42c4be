package xero

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// matchResults decides each element from its status (XERO.md §10b), never from its id or
// from the mere presence of a message.
func TestMatchResultsByStatus(t *testing.T) {
	t.Parallel()
	const made = "5b1f0f4e-6c57-4f0a-9e8b-2d1c3b4a5f60" // an id Xero made up for a failed element
	msg := []ValidationError{{Message: "Invoice # must be unique."}}
	warn := []ValidationError{{Message: "Some warning"}}
	tests := []struct {
		name    string
		got     Invoice
		ok      bool
		id      string
		errs    []string
		warns   []string
		unknown bool
	}{
		{name: "saved", got: Invoice{InvoiceID: made, StatusAttributeString: "OK"}, ok: true, id: made},
		{name: "saved without a status", got: Invoice{InvoiceID: made}, ok: true, id: made},
		{name: "saved with a message", got: Invoice{InvoiceID: made, StatusAttributeString: "OK", ValidationErrors: warn}, ok: true, id: made, warns: []string{"Some warning"}},
		{name: "saved with WARNING", got: Invoice{InvoiceID: made, StatusAttributeString: "WARNING", ValidationErrors: warn}, ok: true, id: made, warns: []string{"Some warning"}},
		{name: "failed with a made-up id", got: Invoice{InvoiceID: made, HasErrors: true, StatusAttributeString: "ERROR", ValidationErrors: msg}, errs: []string{"Invoice # must be unique."}},
		{name: "failed with an all-zero id", got: Invoice{InvoiceID: zeroGUID, HasErrors: true, ValidationErrors: msg}, errs: []string{"Invoice # must be unique."}},
		{name: "ERROR without HasErrors", got: Invoice{InvoiceID: made, StatusAttributeString: "ERROR", ValidationErrors: msg}, errs: []string{"Invoice # must be unique."}},
		{name: "HasErrors without a message", got: Invoice{InvoiceID: made, HasErrors: true}, errs: []string{"Xero marked the element as failed without a message"}},
		{name: "line-level message on a failed element", got: Invoice{HasErrors: true, LineItems: []LineItem{{ValidationErrors: msg}}}, errs: []string{"Invoice # must be unique."}},
		{name: "messages without any status", got: Invoice{InvoiceID: made, ValidationErrors: msg}, unknown: true},
		{name: "saved without an id", got: Invoice{StatusAttributeString: "OK"}, unknown: true},
		{name: "saved with an all-zero id", got: Invoice{InvoiceID: zeroGUID, StatusAttributeString: "OK"}, unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := matchResults("PUT /Invoices", []Invoice{{}}, []Invoice{tt.got}, invoiceView)
			if tt.unknown {
				if !errors.Is(err, ErrOutcomeUnknown) {
					t.Fatalf("got %+v, %v; want ErrOutcomeUnknown", res, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.OK() != tt.ok || r.XeroID != tt.id || !slices.Equal(r.ValidationErrors, tt.errs) || !slices.Equal(r.Warnings, tt.warns) {
				t.Errorf("got ok=%v id=%q errors=%q warnings=%q code=%q", r.OK(), r.XeroID, r.ValidationErrors, r.Warnings, r.Code)
			}
		})
	}
}

func TestChunkList(t *testing.T) {
	t.Parallel()
	var items []string
	for i := range 120 {
		items = append(items, fmt.Sprintf("INV-%03d", i))
	}
	chunks := chunkList(items)
	if len(chunks) != 3 || len(chunks[0]) != 50 || len(chunks[2]) != 20 {
		t.Fatalf("120 short numbers cut into %d lists", len(chunks))
	}
	long := []string{strings.Repeat("a", 3000), strings.Repeat("b", 3000), "c"}
	if chunks := chunkList(long); len(chunks) != 2 || len(chunks[1]) != 2 {
		t.Fatalf("long numbers cut into %v lists", len(chunks))
	}
	if chunkList(nil) != nil {
		t.Fatal("no items, a list")
	}
}
