package xerosim_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func paymentOrg(o *xerosim.OrgConfig) {
	o.Accounts = append(o.Accounts,
		xerosim.Account{Code: "800", Name: "Clearing", Type: "CURRENT", EnablePaymentsToAccount: true},
		xerosim.Account{Code: "091", Name: "Closed Bank", Type: "BANK", Status: "ARCHIVED"},
	)
	o.PeriodLockDate = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
}

func pay(invoiceID, account, amount, date, ref string) map[string]any {
	p := map[string]any{
		"Invoice": map[string]any{"InvoiceID": invoiceID}, "Account": map[string]any{"Code": account},
		"Amount": amount, "Date": date,
	}
	if ref != "" {
		p["Reference"] = ref
	}
	return p
}

func TestPaymentValidation(t *testing.T) {
	t.Parallel()
	e := setup(t, withOrg(paymentOrg))
	cid := e.addContact(map[string]any{"Name": "Payer"})
	inv := e.addInvoice(invoiceBody(cid, "P-1")) // total 46.00
	draftBody := invoiceBody(cid, "P-2")
	draftBody["Status"] = "DRAFT"
	draft := e.addInvoice(draftBody)
	tests := []struct {
		name    string
		payment map[string]any
		want    string
	}{
		{"more than due", pay(inv, "090", "46.01", "2026-05-02", ""), "Payment amount exceeds the amount outstanding on this document"},
		{"draft invoice", pay(draft, "090", "1.00", "2026-05-02", ""), "Payments can only be made against Authorised documents"},
		{"revenue account", pay(inv, "200", "1.00", "2026-05-02", ""), "Account code '200' is not a valid code for this document."},
		{"archived bank account", pay(inv, "091", "1.00", "2026-05-02", ""), "Account code '091' is not a valid code for this document."},
		{"locked date", pay(inv, "090", "1.00", "2026-03-31", ""), "The document date cannot be before the period lock date, currently set at 31-Mar-2026"},
		{"unknown invoice", pay("00000000-0000-4000-8000-000000000009", "090", "1.00", "2026-05-02", ""), "Invoice could not be found"},
		{"zero amount", pay(inv, "090", "0", "2026-05-02", ""), "Payment amount must be greater than zero."},
	}
	for _, tc := range tests {
		r := e.call(http.MethodPut, "Payments?summarizeErrors=false", map[string]any{"Payments": []any{tc.payment}}).mustOK(t)
		got := r.items(t, "Payments")[0]
		if msgs := validationMessages(got); !slices.Contains(msgs, tc.want) || got["HasValidationErrors"] != true || got["StatusAttributeString"] != "ERROR" {
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, msgs)
		}
	}
	if n := len(e.sim.Payments(e.tenant)); n != 0 {
		t.Errorf("%d failed payments saved", n)
	}
	// An account with payments enabled is accepted.
	r := e.call(http.MethodPut, "Payments?summarizeErrors=false", map[string]any{"Payments": []any{pay(inv, "800", "1.00", "2026-05-02", "")}}).mustOK(t)
	if got := r.items(t, "Payments")[0]; got["HasValidationErrors"] != false {
		t.Errorf("payment to EnablePaymentsToAccount account: %s", r.Body)
	}
}

func TestPaymentsPayInvoice(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Payer"})
	inv := e.addInvoice(invoiceBody(cid, "P-10")) // 46.00
	other := e.addInvoice(invoiceBody(cid, "P-11"))

	// Two payments in one batch apply in order: the second sees the first.
	r := e.call(http.MethodPut, "Payments?summarizeErrors=false", map[string]any{"Payments": []any{
		pay(inv, "090", "20.50", "2026-05-03", "dep-1"),
		pay(inv, "090", "25.51", "2026-05-04", "dep-2"),
		pay(inv, "090", "25.50", "2026-05-05", "dep-3"),
		pay(other, "090", "1", "2026-05-05", "dep-1"),
	}}).mustOK(t)
	items := r.items(t, "Payments")
	if items[0]["HasValidationErrors"] != false || items[1]["HasValidationErrors"] != true || items[2]["HasValidationErrors"] != false {
		t.Fatalf("batch: %s", r.Body)
	}
	p0 := items[0]
	if num(p0["Amount"]) != "20.50" || p0["PaymentType"] != "ACCRECPAYMENT" || p0["Status"] != "AUTHORISED" || p0["Reference"] != "dep-1" || p0["Date"] != "/Date(1777766400000+0000)/" {
		t.Errorf("payment: %v", p0)
	}
	got := e.call(http.MethodGet, "Invoices/"+inv, nil).mustOK(t).items(t, "Invoices")[0]
	if got["Status"] != "PAID" || num(got["AmountDue"]) != "0.00" || num(got["AmountPaid"]) != "46.00" || got["FullyPaidOnDate"] != "/Date(1777939200000+0000)/" {
		t.Errorf("invoice after payments: %v %v %v %v", got["Status"], got["AmountDue"], got["AmountPaid"], got["FullyPaidOnDate"])
	}
	if ps := got["Payments"].([]any); len(ps) != 2 {
		t.Errorf("invoice payments: %v", ps)
	}
	r = e.call(http.MethodPut, "Payments?summarizeErrors=false", map[string]any{"Payments": []any{pay(inv, "090", "1", "2026-05-06", "")}}).mustOK(t)
	if msgs := validationMessages(r.JSON(t)); !slices.Equal(msgs, []string{"Payments can only be made against Authorised documents"}) {
		t.Errorf("payment on a paid invoice: %v", msgs)
	}

	for _, tc := range []struct {
		where string
		want  int
	}{
		{`Invoice.InvoiceID==Guid("` + inv + `")`, 2},
		{`Invoice.InvoiceID==Guid("` + inv + `")&&Reference=="dep-3"`, 1},
		{`Reference=="dep-1"`, 2},
		{`Status=="AUTHORISED"`, 3},
	} {
		r := e.call(http.MethodGet, "Payments?"+url.Values{"where": {tc.where}}.Encode(), nil).mustOK(t)
		if n := len(r.items(t, "Payments")); n != tc.want {
			t.Errorf("where %s: %d payments, want %d", tc.where, n, tc.want)
		}
	}
	if n := e.sim.PaymentCreations(e.tenant, inv, "dep-3"); n != 1 {
		t.Errorf("PaymentCreations = %d", n)
	}

	// Deleting a payment reopens the invoice.
	pid := items[2]["PaymentID"].(string)
	e.call(http.MethodPost, "Payments/"+pid, map[string]any{"Status": "DELETED"}).mustOK(t)
	got = e.call(http.MethodGet, "Invoices/"+inv, nil).mustOK(t).items(t, "Invoices")[0]
	if got["Status"] != "AUTHORISED" || num(got["AmountDue"]) != "25.50" {
		t.Errorf("after deleting a payment: %v %v", got["Status"], got["AmountDue"])
	}
	// POST /Payments takes a single bare payment.
	r = e.call(http.MethodPost, "Payments", pay(inv, "090", "25.50", "2026-05-07", "final")).mustOK(t)
	if n := len(r.items(t, "Payments")); n != 1 {
		t.Errorf("POST /Payments: %s", r.Body)
	}
}
