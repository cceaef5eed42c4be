package outbox

// Mapping Softbooq payloads to Xero elements, without PostgreSQL.

import (
	"errors"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

const (
	xeroContact = "9a000000-0000-4000-8000-000000000001"
	xeroInvoice = "9b000000-0000-4000-8000-000000000001"
)

func ptr(s string) *string { return &s }

func testMappings() *mappings {
	return &mappings{
		accounts: map[string]string{"consulting": "200", "hardware": "210"},
		taxes:    map[string]string{"GST15": "OUTPUT2"},
		payments: map[string]string{"cash": "090", "card": "091"},
	}
}

// rowCode is the SPEC code of a rowError, or "" for none.
func rowCode(err error) xero.ErrorCode {
	var re *rowError
	if errors.As(err, &re) {
		return re.code
	}
	return ""
}

func TestContactElement(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		p         ContactPayload
		contactID string
		check     func(t *testing.T, c xero.Contact)
	}{
		{name: "create: no ContactID, the customer id as ContactNumber", p: ContactPayload{CustomerID: cu1, ContactFields: fields("One", "one@x")},
			check: func(t *testing.T, c xero.Contact) {
				if c.ContactID != "" || c.ContactNumber != cu1 || c.ContactStatus != "ACTIVE" || c.Name != "One" || c.EmailAddress != "one@x" {
					t.Errorf("%+v", c)
				}
			}},
		{name: "update carries the Xero id", p: ContactPayload{CustomerID: cu1, ContactFields: fields("One", "")}, contactID: xeroContact,
			check: func(t *testing.T, c xero.Contact) {
				if c.ContactID != xeroContact {
					t.Errorf("ContactID %q", c.ContactID)
				}
			}},
		{name: "archived", p: ContactPayload{CustomerID: cu1, ContactFields: ContactFields{Name: "One", Archived: true}},
			check: func(t *testing.T, c xero.Contact) {
				if c.ContactStatus != "ARCHIVED" {
					t.Errorf("status %q", c.ContactStatus)
				}
			}},
		{name: "name and email trimmed", p: ContactPayload{CustomerID: cu1, ContactFields: ContactFields{Name: "  One ", Email: " one@x\t"}},
			check: func(t *testing.T, c xero.Contact) {
				if c.Name != "One" || c.EmailAddress != "one@x" {
					t.Errorf("name %q email %q", c.Name, c.EmailAddress)
				}
			}},
		{name: "empty fields are sent, so clearing clears", p: ContactPayload{CustomerID: cu1, ContactFields: ContactFields{Name: "One"}},
			check: func(t *testing.T, c xero.Contact) {
				if len(c.Phones) != 1 || c.Phones[0].PhoneType != "DEFAULT" || c.Phones[0].PhoneNumber != "" ||
					len(c.Addresses) != 1 || c.Addresses[0].AddressType != "STREET" {
					t.Errorf("phones %+v addresses %+v", c.Phones, c.Addresses)
				}
			}},
		{name: "address and the rest", p: ContactPayload{CustomerID: cu1, ContactFields: ContactFields{Name: "One", FirstName: "O", LastName: "Ne",
			Phone: "+64 1", TaxNumber: "123", AddressLine1: "1 St", AddressLine2: "Flat 2", City: "Akl", Region: "AUK", PostalCode: "1010", CountryCode: "NZ"}},
			check: func(t *testing.T, c xero.Contact) {
				a := c.Addresses[0]
				if c.FirstName != "O" || c.LastName != "Ne" || c.TaxNumber != "123" || c.Phones[0].PhoneNumber != "+64 1" ||
					a.AddressLine1 != "1 St" || a.AddressLine2 != "Flat 2" || a.City != "Akl" || a.Region != "AUK" || a.PostalCode != "1010" || a.Country != "NZ" {
					t.Errorf("%+v", c)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, contactElement(tc.p, tc.contactID))
		})
	}
}

func TestInvoiceElement(t *testing.T) {
	t.Parallel()
	base := func() InvoicePayload {
		return InvoicePayload{InvoiceID: in1, CustomerID: cu1, Number: "INV-1", Status: "issued", Currency: "NZD ",
			IssueDate: ptr("2026-02-01"), DueDate: ptr("2026-03-01"), AmountsTax: "exclusive",
			Lines: []InvoiceLine{
				{Position: 2, Description: "box", Quantity: "1", UnitPrice: "50", RevenueCategory: "hardware", DiscountRate: "0"},
				{Position: 1, Description: "work", Quantity: "1.5000", UnitPrice: "100.1250", RevenueCategory: "consulting", TaxComponent: ptr("GST15"), DiscountRate: "10", ItemCode: ptr("W1")},
			}}
	}
	for _, tc := range []struct {
		name   string
		change func(p *InvoicePayload)
		m      *mappings // nil: testMappings()
		code   xero.ErrorCode
		msg    string // in the error
		check  func(t *testing.T, inv xero.Invoice)
	}{
		{name: "a sales invoice, authorised, lines by position", check: func(t *testing.T, inv xero.Invoice) {
			if inv.Type != "ACCREC" || inv.Status != "AUTHORISED" || inv.Contact.ContactID != xeroContact || inv.InvoiceNumber != "INV-1" ||
				inv.CurrencyCode != "NZD" || inv.LineAmountTypes != "Exclusive" || inv.Date.String() != "2026-02-01" || inv.DueDate.String() != "2026-03-01" {
				t.Errorf("%+v", inv)
			}
			if len(inv.LineItems) != 2 || inv.LineItems[0].Description != "work" || inv.LineItems[1].Description != "box" {
				t.Fatalf("lines %+v", inv.LineItems)
			}
			w, b := inv.LineItems[0], inv.LineItems[1]
			if w.AccountCode != "200" || w.TaxType != "OUTPUT2" || w.ItemCode != "W1" || !w.Quantity.Equal(xero.MustDecimal("1.5")) ||
				!w.UnitAmount.Equal(xero.MustDecimal("100.125")) || !w.DiscountRate.Equal(xero.MustDecimal("10")) {
				t.Errorf("line 1 %+v", w)
			}
			if b.AccountCode != "210" || b.TaxType != "NONE" || !b.DiscountRate.IsZero() {
				t.Errorf("line 2 (no tax component: NONE; zero discount: not sent) %+v", b)
			}
		}},
		{name: "inclusive", change: func(p *InvoicePayload) { p.AmountsTax = "inclusive" },
			check: func(t *testing.T, inv xero.Invoice) {
				if inv.LineAmountTypes != "Inclusive" {
					t.Error(inv.LineAmountTypes)
				}
			}},
		{name: "no tax", change: func(p *InvoicePayload) { p.AmountsTax = "no_tax" },
			check: func(t *testing.T, inv xero.Invoice) {
				if inv.LineAmountTypes != "NoTax" {
					t.Error(inv.LineAmountTypes)
				}
			}},
		{name: "reference and no dates", change: func(p *InvoicePayload) { p.Reference, p.IssueDate, p.DueDate = ptr("PO 7"), nil, nil },
			check: func(t *testing.T, inv xero.Invoice) {
				if inv.Reference != "PO 7" || !inv.Date.IsZero() || !inv.DueDate.IsZero() {
					t.Errorf("%+v", inv)
				}
			}},
		{name: "no lines", change: func(p *InvoicePayload) { p.Lines = nil },
			check: func(t *testing.T, inv xero.Invoice) {
				if len(inv.LineItems) != 0 {
					t.Error(inv.LineItems)
				}
			}},
		{name: "no number", change: func(p *InvoicePayload) { p.Number = " " }, code: xero.CodeValidationError, msg: "has no number"},
		{name: "unknown amounts_tax", change: func(p *InvoicePayload) { p.AmountsTax = "gross" }, code: xero.CodeValidationError, msg: `amounts_tax "gross"`},
		{name: "bad issue date", change: func(p *InvoicePayload) { p.IssueDate = ptr("2026-02-30") }, code: xero.CodeValidationError, msg: "issue date"},
		{name: "bad due date", change: func(p *InvoicePayload) { p.DueDate = ptr("soon") }, code: xero.CodeValidationError, msg: "due date"},
		{name: "unmapped revenue category", change: func(p *InvoicePayload) { p.Lines[0].RevenueCategory = "travel" },
			code: xero.CodeMappingMissing, msg: `line 2: no Xero account code for revenue category "travel"`},
		{name: "unmapped tax component", change: func(p *InvoicePayload) { p.Lines[1].TaxComponent = ptr("GST9") },
			code: xero.CodeMappingMissing, msg: `line 1: no Xero tax type for tax component "GST9"`},
		{name: "bad quantity", change: func(p *InvoicePayload) { p.Lines[1].Quantity = "1,5" }, code: xero.CodeValidationError, msg: "line 1: quantity"},
		{name: "bad unit price", change: func(p *InvoicePayload) { p.Lines[1].UnitPrice = "" }, code: xero.CodeValidationError, msg: "line 1: unit price"},
		{name: "bad discount", change: func(p *InvoicePayload) { p.Lines[1].DiscountRate = "x" }, code: xero.CodeValidationError, msg: "line 1: discount rate"},
		{name: "no mappings at all", m: &mappings{}, code: xero.CodeMappingMissing, msg: "no Xero account code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := base()
			if tc.change != nil {
				tc.change(&p)
			}
			m := tc.m
			if m == nil {
				m = testMappings()
			}
			inv, err := invoiceElement(p, xeroContact, m)
			if rowCode(err) != tc.code || (tc.msg != "" && !strings.Contains(err.Error(), tc.msg)) || (tc.code == "" && err != nil) {
				t.Fatalf("error %v, want %s containing %q", err, tc.code, tc.msg)
			}
			if tc.check != nil {
				tc.check(t, inv)
			}
		})
	}
}

// lineItem without mappings leaves the codes out: a reconcile compares an unmappable row so.
func TestLineItemWithoutMappings(t *testing.T) {
	t.Parallel()
	li, err := lineItem("INV-1", InvoiceLine{Position: 1, Description: "d", Quantity: "2", UnitPrice: "3", RevenueCategory: "unmapped"}, nil)
	if err != nil || li.AccountCode != "" || li.TaxType != "" || !li.Quantity.Equal(xero.MustDecimal("2")) {
		t.Fatalf("%+v, %v", li, err)
	}
}

func TestPaymentElement(t *testing.T) {
	t.Parallel()
	base := func() PaymentPayload {
		return PaymentPayload{PaymentID: pa1, InvoiceID: in1, Amount: "100.25", PaidOn: "2026-02-10", Method: "cash"}
	}
	for _, tc := range []struct {
		name   string
		change func(p *PaymentPayload)
		code   xero.ErrorCode
		msg    string
		check  func(t *testing.T, pm xero.Payment)
		// checked: whether checkPayment (the client's own refusals) passes it
		checked bool
	}{
		{name: "mapped", checked: true, check: func(t *testing.T, pm xero.Payment) {
			if pm.Invoice.InvoiceID != xeroInvoice || pm.Account.Code != "090" || !pm.Amount.Equal(xero.MustDecimal("100.25")) ||
				pm.Date.String() != "2026-02-10" || pm.Reference != "" {
				t.Errorf("%+v", pm)
			}
		}},
		{name: "reference", change: func(p *PaymentPayload) { p.Reference = ptr("first") }, checked: true,
			check: func(t *testing.T, pm xero.Payment) {
				if pm.Reference != "first" {
					t.Error(pm.Reference)
				}
			}},
		{name: "unmapped method", change: func(p *PaymentPayload) { p.Method = "cheque" }, code: xero.CodeMappingMissing, msg: `payment method "cheque"`},
		{name: "bad amount", change: func(p *PaymentPayload) { p.Amount = "ten" }, code: xero.CodeValidationError, msg: "amount"},
		{name: "bad date", change: func(p *PaymentPayload) { p.PaidOn = "2026-13-01" }, code: xero.CodeValidationError, msg: "date"},
		{name: "zero amount maps, but the client refuses it", change: func(p *PaymentPayload) { p.Amount = "0.00" }},
		{name: "sub-cent amount maps, but the client refuses it", change: func(p *PaymentPayload) { p.Amount = "1.005" }},
		{name: "trailing zeros are not sub-cent", change: func(p *PaymentPayload) { p.Amount = "1.0500" }, checked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := base()
			if tc.change != nil {
				tc.change(&p)
			}
			pm, err := paymentElement(p, xeroInvoice, testMappings())
			if rowCode(err) != tc.code || (tc.msg != "" && !strings.Contains(err.Error(), tc.msg)) || (tc.code == "" && err != nil) {
				t.Fatalf("error %v, want %s containing %q", err, tc.code, tc.msg)
			}
			if tc.check != nil {
				tc.check(t, pm)
			}
			if err == nil {
				if cerr := checkPayment(p, pm); (cerr == nil) != tc.checked || (cerr != nil && rowCode(cerr) != xero.CodeValidationError) {
					t.Errorf("checkPayment: %v, want passing %v", cerr, tc.checked)
				}
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	t.Parallel()
	var p PaymentPayload
	if err := decodePayload(`{"payment_id":"x","amount":"1"}`, &p); err != nil || p.PaymentID != "x" || p.Amount != "1" {
		t.Fatalf("%+v, %v", p, err)
	}
	if err := decodePayload(`{"payment_id":`, &p); rowCode(err) != xero.CodeValidationError {
		t.Fatalf("truncated payload: %v", err)
	}
	// What the enqueuer writes, the dispatcher reads back whole.
	body, _ := ContactUpsert(cu1, fields("One", "one@x"))
	var c ContactPayload
	if err := decodePayload(string(body), &c); err != nil || c.CustomerID != cu1 || c.ContactFields != fields("One", "one@x") {
		t.Fatalf("%+v, %v", c, err)
	}
}
