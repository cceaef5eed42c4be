package outbox

import (
	"slices"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

func TestInvoiceDifference(t *testing.T) {
	t.Parallel()
	const ours, theirs = "6f0c9d7e-1111-4a3b-9c1d-000000000001", "6f0c9d7e-2222-4a3b-9c1d-000000000002"
	sent := func() xero.Invoice {
		return xero.Invoice{Type: "ACCREC", InvoiceNumber: "INV-1", Contact: &xero.ContactRef{ContactID: ours},
			CurrencyCode: "NZD", LineAmountTypes: "Exclusive", Date: mustDate(t, "2026-11-02"),
			LineItems: []xero.LineItem{{Description: "Consulting", Quantity: xero.MustDecimal("2.0000"), UnitAmount: xero.MustDecimal("100.0000"),
				AccountCode: "200", TaxType: "OUTPUT2"}}}
	}
	for _, tc := range []struct {
		name  string
		found func(*xero.Invoice)
		want  func(*xero.Invoice) // what we compare with; nil: what we sent
		diff  string              // "" : the same invoice
	}{
		{name: "same, as Xero echoes it (upper-case ids, trailing zeros, the contact's name)", found: func(x *xero.Invoice) {
			x.Contact = &xero.ContactRef{ContactID: strings.ToUpper(ours), Name: "Ada"}
			x.Status, x.InvoiceID = "AUTHORISED", theirs
			x.LineItems[0].Quantity, x.LineItems[0].UnitAmount = xero.MustDecimal("2"), xero.MustDecimal("100.00")
		}},
		{name: "voided since: still ours", found: func(x *xero.Invoice) { x.Status = "VOIDED" }},
		{name: "another contact", found: func(x *xero.Invoice) { x.Contact.ContactID = theirs }, diff: "its contact is " + theirs},
		{name: "no contact", found: func(x *xero.Invoice) { x.Contact = nil }, diff: "its contact is none"},
		{name: "another currency", found: func(x *xero.Invoice) { x.CurrencyCode = "AUD" }, diff: "its currency is AUD"},
		{name: "another date", found: func(x *xero.Invoice) { x.Date = mustDate(t, "2026-11-03") }, diff: "its date is 2026-11-03"},
		{name: "a bill", found: func(x *xero.Invoice) { x.Type = "ACCPAY" }, diff: "type ACCPAY"},
		{name: "deleted", found: func(x *xero.Invoice) { x.Status = "DELETED" }, diff: "deleted"},
		{name: "inclusive amounts", found: func(x *xero.Invoice) { x.LineAmountTypes = "Inclusive" }, diff: "its amounts are Inclusive"},
		{name: "a line more", found: func(x *xero.Invoice) { x.LineItems = append(x.LineItems, x.LineItems[0]) }, diff: "it has 2 lines, ours 1"},
		{name: "another quantity", found: func(x *xero.Invoice) { x.LineItems[0].Quantity = xero.MustDecimal("3") }, diff: "line 1 has quantity 3"},
		{name: "another price", found: func(x *xero.Invoice) { x.LineItems[0].UnitAmount = xero.MustDecimal("99.99") }, diff: "line 1 has unit amount 99.99"},
		{name: "a discount", found: func(x *xero.Invoice) { x.LineItems[0].DiscountRate = xero.MustDecimal("10") }, diff: "line 1 has discount 10"},
		{name: "another description", found: func(x *xero.Invoice) { x.LineItems[0].Description = "Bookkeeping" }, diff: "line 1 has another description"},
		{name: "another account", found: func(x *xero.Invoice) { x.LineItems[0].AccountCode = "400" }, diff: "line 1 has account 400"},
		{name: "another tax type", found: func(x *xero.Invoice) { x.LineItems[0].TaxType = "NONE" }, diff: "line 1 has tax type NONE"},
		{name: "an item code", found: func(x *xero.Invoice) { x.LineItems[0].ItemCode = "W-1" }, diff: "line 1 has item W-1"},
		{name: "unmapped row: codes not compared", found: func(x *xero.Invoice) { x.LineItems[0].AccountCode = "400" },
			want: func(w *xero.Invoice) { w.LineItems[0].AccountCode, w.LineItems[0].TaxType = "", "" }},
		{name: "quantity 1 left out by Xero", found: func(x *xero.Invoice) { x.LineItems[0].Quantity = xero.Decimal{} },
			want: func(w *xero.Invoice) { w.LineItems[0].Quantity = xero.MustDecimal("1.0000") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found, want := sent(), sent()
			tc.found(&found)
			if tc.want != nil {
				tc.want(&want)
			}
			got := invoiceDifference(found, want)
			if tc.diff == "" && got != "" || tc.diff != "" && !strings.Contains(got, tc.diff) {
				t.Errorf("invoiceDifference = %q, want %q", got, tc.diff)
			}
			if _, ok := matchInvoice([]xero.Invoice{found}, want); ok != (tc.diff == "") {
				t.Errorf("matchInvoice = %v", ok)
			}
		})
	}
}

func mustDate(t *testing.T, s string) xero.Date {
	t.Helper()
	d, err := xero.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMatchPayment(t *testing.T) {
	t.Parallel()
	pay := func(id, amount, date, ref string) xero.Payment {
		return xero.Payment{PaymentID: id, Amount: xero.MustDecimal(amount), Date: mustDate(t, date), Reference: ref}
	}
	sent := pay("", "100.25", "2026-02-10", "first")
	for _, tc := range []struct {
		name  string
		found []xero.Payment
		want  int
	}{
		{name: "none found", want: -1},
		{name: "the same", found: []xero.Payment{pay("x1", "100.25", "2026-02-10", "first")}, want: 0},
		{name: "trailing zeros and spaces are the same", found: []xero.Payment{pay("x1", "100.2500", "2026-02-10", " first ")}, want: 0},
		{name: "another amount", found: []xero.Payment{pay("x1", "100.26", "2026-02-10", "first")}, want: -1},
		{name: "another date", found: []xero.Payment{pay("x1", "100.25", "2026-02-11", "first")}, want: -1},
		{name: "another reference", found: []xero.Payment{pay("x1", "100.25", "2026-02-10", "second")}, want: -1},
		{name: "no reference is not ours", found: []xero.Payment{pay("x1", "100.25", "2026-02-10", "")}, want: -1},
		{name: "the first that matches", found: []xero.Payment{pay("x1", "1", "2026-02-10", "first"),
			pay("x2", "100.25", "2026-02-10", "first"), pay("x3", "100.25", "2026-02-10", "first")}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := matchPayment(tc.found, sent); got != tc.want {
				t.Errorf("matchPayment = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestMatchPayments(t *testing.T) {
	t.Parallel()
	pay := func(id, amount string) xero.Payment {
		return xero.Payment{PaymentID: id, Amount: xero.MustDecimal(amount), Date: mustDate(t, "2026-02-10")}
	}
	for _, tc := range []struct {
		name        string
		found, sent []xero.Payment
		want        []int
	}{
		{name: "nothing sent", found: []xero.Payment{pay("x1", "10")}, want: []int{}},
		{name: "nothing found", sent: []xero.Payment{pay("", "10")}, want: []int{-1}},
		{name: "one each", found: []xero.Payment{pay("x1", "20"), pay("x2", "10")}, sent: []xero.Payment{pay("", "10"), pay("", "20")}, want: []int{1, 0}},
		{name: "two equal payments sent, one in Xero: one matched, one sent again",
			found: []xero.Payment{pay("x1", "10")}, sent: []xero.Payment{pay("", "10"), pay("", "10")}, want: []int{0, -1}},
		{name: "two equal payments sent, both in Xero", found: []xero.Payment{pay("x1", "10"), pay("x2", "10")},
			sent: []xero.Payment{pay("", "10"), pay("", "10")}, want: []int{0, 1}},
		{name: "a gap between", found: []xero.Payment{pay("x1", "10"), pay("x2", "30"), pay("x3", "10")},
			sent: []xero.Payment{pay("", "10"), pay("", "20"), pay("", "10")}, want: []int{0, -1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := matchPayments(tc.found, tc.sent); !slices.Equal(got, tc.want) {
				t.Errorf("matchPayments = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnlinkedPayments(t *testing.T) {
	t.Parallel()
	found := []xero.Payment{{PaymentID: "AAA"}, {PaymentID: "bbb", Status: "DELETED"}, {PaymentID: "ccc"}, {PaymentID: "ddd", Status: "AUTHORISED"}}
	var ids []string
	for _, p := range unlinkedPayments(found, []string{"aaa", "CCC"}) {
		ids = append(ids, p.PaymentID)
	}
	if !slices.Equal(ids, []string{"ddd"}) {
		t.Errorf("unlinked %q, want [ddd]: linked ones (any case) and deleted ones dropped", ids)
	}
	if got := unlinkedPayments(nil, nil); len(got) != 0 {
		t.Errorf("%v", got)
	}
}
