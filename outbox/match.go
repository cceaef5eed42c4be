package outbox

import (
	"fmt"
	"strings"

	"github.com/softbooq/xerosync/xero"
)

// Matching what Xero holds against what we sent. A record found in Xero by a number or a
// name is not proof that it is ours: accountants type into Xero too (LESSONS, "what our own
// product taught us" 2). These functions are pure and table-tested.

// matchInvoice returns the first of cands (invoices our app created, with our number) that
// is the invoice we sent.
func matchInvoice(cands []xero.Invoice, want xero.Invoice) (xero.Invoice, bool) {
	for _, c := range cands {
		if invoiceDifference(c, want) == "" {
			return c, true
		}
	}
	return xero.Invoice{}, false
}

// invoiceDifference says how found differs from want, the invoice we sent, or "" when it is
// the same invoice: ACCREC, not deleted, the same number, contact, currency, dates, line
// amount types, and the same lines (description, quantity, unit amount, discount, and the
// account and tax codes when want has them: a row whose mapping is missing is compared
// without them). Lines and their types are what Xero computes the total from, so the
// totals agree when the lines do.
func invoiceDifference(found, want xero.Invoice) string {
	switch {
	case found.Type != "" && found.Type != "ACCREC":
		return fmt.Sprintf("it is of type %s, not a sales invoice", found.Type)
	case strings.EqualFold(found.Status, "DELETED"):
		return "it is deleted"
	case strings.TrimSpace(found.InvoiceNumber) != strings.TrimSpace(want.InvoiceNumber):
		return fmt.Sprintf("its number is %q, ours %q", found.InvoiceNumber, want.InvoiceNumber)
	case contactOf(found) == "" || !strings.EqualFold(contactOf(found), contactOf(want)):
		return fmt.Sprintf("its contact is %s, ours %s", orNone(contactOf(found)), orNone(contactOf(want)))
	case !strings.EqualFold(found.CurrencyCode, want.CurrencyCode):
		return fmt.Sprintf("its currency is %s, ours %s", orNone(found.CurrencyCode), orNone(want.CurrencyCode))
	case !want.Date.IsZero() && found.Date != want.Date:
		return fmt.Sprintf("its date is %s, ours %s", found.Date, want.Date)
	case found.LineAmountTypes != "" && !strings.EqualFold(found.LineAmountTypes, want.LineAmountTypes):
		return fmt.Sprintf("its amounts are %s, ours %s", found.LineAmountTypes, want.LineAmountTypes)
	case len(found.LineItems) != len(want.LineItems):
		return fmt.Sprintf("it has %d lines, ours %d", len(found.LineItems), len(want.LineItems))
	}
	for i, w := range want.LineItems {
		if d := lineDifference(found.LineItems[i], w); d != "" {
			return fmt.Sprintf("line %d %s", i+1, d)
		}
	}
	return ""
}

func lineDifference(f, w xero.LineItem) string {
	switch {
	case strings.TrimSpace(f.Description) != strings.TrimSpace(w.Description):
		return "has another description"
	case !decimalEqual(f.Quantity, w.Quantity, "1"):
		return fmt.Sprintf("has quantity %s, ours %s", f.Quantity, w.Quantity)
	case !decimalEqual(f.UnitAmount, w.UnitAmount, "0"):
		return fmt.Sprintf("has unit amount %s, ours %s", f.UnitAmount, w.UnitAmount)
	case !decimalEqual(f.DiscountRate, w.DiscountRate, "0"):
		return fmt.Sprintf("has discount %s, ours %s", orNone(f.DiscountRate.String()), orNone(w.DiscountRate.String()))
	case w.AccountCode != "" && !strings.EqualFold(f.AccountCode, w.AccountCode):
		return fmt.Sprintf("has account %s, ours %s", orNone(f.AccountCode), w.AccountCode)
	case w.TaxType != "" && f.TaxType != "" && !strings.EqualFold(f.TaxType, w.TaxType):
		return fmt.Sprintf("has tax type %s, ours %s", f.TaxType, w.TaxType)
	case !strings.EqualFold(f.ItemCode, w.ItemCode):
		return fmt.Sprintf("has item %s, ours %s", orNone(f.ItemCode), orNone(w.ItemCode))
	}
	return ""
}

// decimalEqual compares two amounts, an absent one counting as def (Xero's default: a
// quantity of 1, no discount).
func decimalEqual(a, b xero.Decimal, def string) bool {
	if a.IsZero() {
		a = xero.MustDecimal(def)
	}
	if b.IsZero() {
		b = xero.MustDecimal(def)
	}
	return a.Equal(b)
}

func contactOf(inv xero.Invoice) string {
	if inv.Contact == nil {
		return ""
	}
	return inv.Contact.ContactID
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// unlinkedPayments returns the payments of found that can still be ours: not deleted, and not
// linked (their id in linked, any case) to a Softbooq payment already. Two equal payments of
// one invoice are two payments, and each Xero payment reconciles one row.
func unlinkedPayments(found []xero.Payment, linked []string) []xero.Payment {
	known := make(map[string]bool, len(linked))
	for _, id := range linked {
		known[strings.ToLower(id)] = true
	}
	var out []xero.Payment
	for _, f := range found {
		if !known[strings.ToLower(f.PaymentID)] && f.Status != "DELETED" {
			out = append(out, f)
		}
	}
	return out
}

// matchPayment finds the payment a lost request made: same amount, date and reference (found
// are the payments of its invoice).
func matchPayment(found []xero.Payment, want xero.Payment) int {
	for i, f := range found {
		if f.Amount.Equal(want.Amount) && f.Date == want.Date && strings.TrimSpace(f.Reference) == strings.TrimSpace(want.Reference) {
			return i
		}
	}
	return -1
}

// matchPayments matches the payments we sent of one invoice, in order, with found, the
// invoice's unlinked payments in Xero: the result holds for each of want the index in found
// of its match, or -1. A found payment matches one of want at most: two equal payments sent
// are two payments, and one Xero payment is proof of one of them only.
func matchPayments(found []xero.Payment, want []xero.Payment) []int {
	left := make([]int, len(found)) // indexes into found of those still unmatched
	for i := range left {
		left[i] = i
	}
	out := make([]int, len(want))
	for i, w := range want {
		out[i] = -1
		cands := make([]xero.Payment, len(left))
		for j, k := range left {
			cands[j] = found[k]
		}
		if j := matchPayment(cands, w); j >= 0 {
			out[i] = left[j]
			left = append(left[:j], left[j+1:]...)
		}
	}
	return out
}
