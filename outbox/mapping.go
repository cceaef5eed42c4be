package outbox

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/softbooq/xerosync/xero"
)

// Mapping from Softbooq payloads to Xero request elements (SPEC §1). Every function here is
// pure: what it needs from the database (the tenant's mappings, the links) is passed in.

// mappings are a tenant's integrations.xero_* rows.
type mappings struct {
	accounts map[string]string // revenue_category → account code
	taxes    map[string]string // tax_component → tax type
	payments map[string]string // payment method → account code
}

// rowError is a failure found before any call to Xero: it fails the row permanently.
type rowError struct {
	code xero.ErrorCode
	msg  string
}

func (e *rowError) Error() string { return string(e.code) + ": " + e.msg }

func mappingMissing(format string, args ...any) *rowError {
	return &rowError{code: xero.CodeMappingMissing, msg: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *rowError {
	return &rowError{code: xero.CodeValidationError, msg: fmt.Sprintf(format, args...)}
}

// contactElement maps a contact upsert. contactID is empty for a create. The mapped fields
// are always sent, empty ones too, so that clearing a field in Softbooq clears it in Xero.
func contactElement(p ContactPayload, contactID string) xero.Contact {
	status := "ACTIVE"
	if p.Archived {
		status = "ARCHIVED"
	}
	return xero.Contact{
		ContactID:     contactID,
		ContactNumber: p.CustomerID,
		ContactStatus: status,
		Name:          strings.TrimSpace(p.Name),
		FirstName:     p.FirstName,
		LastName:      p.LastName,
		EmailAddress:  strings.TrimSpace(p.Email),
		TaxNumber:     p.TaxNumber,
		Phones:        []xero.Phone{{PhoneType: "DEFAULT", PhoneNumber: p.Phone}},
		Addresses: []xero.Address{{
			AddressType: "STREET", AddressLine1: p.AddressLine1, AddressLine2: p.AddressLine2,
			City: p.City, Region: p.Region, PostalCode: p.PostalCode, Country: p.CountryCode,
		}},
	}
}

// lineAmountTypes maps finance.invoices.amounts_tax.
var lineAmountTypes = map[string]string{"exclusive": "Exclusive", "inclusive": "Inclusive", "no_tax": "NoTax"}

// invoiceElement maps an invoice issue. contactID is the customer's Xero contact.
func invoiceElement(p InvoicePayload, contactID string, m *mappings) (xero.Invoice, error) {
	inv := xero.Invoice{
		Type:          "ACCREC",
		Contact:       &xero.ContactRef{ContactID: contactID},
		InvoiceNumber: p.Number,
		CurrencyCode:  strings.TrimSpace(p.Currency),
		Status:        "AUTHORISED",
	}
	if strings.TrimSpace(p.Number) == "" {
		return inv, invalid("invoice %s has no number", p.InvoiceID)
	}
	lat, ok := lineAmountTypes[p.AmountsTax]
	if !ok {
		return inv, invalid("invoice %s: amounts_tax %q is not exclusive, inclusive or no_tax", p.Number, p.AmountsTax)
	}
	inv.LineAmountTypes = lat
	if p.Reference != nil {
		inv.Reference = *p.Reference
	}
	var err error
	if p.IssueDate != nil {
		if inv.Date, err = xero.ParseDate(*p.IssueDate); err != nil {
			return inv, invalid("invoice %s: issue date: %v", p.Number, err)
		}
	}
	if p.DueDate != nil {
		if inv.DueDate, err = xero.ParseDate(*p.DueDate); err != nil {
			return inv, invalid("invoice %s: due date: %v", p.Number, err)
		}
	}
	lines := slices.Clone(p.Lines)
	slices.SortStableFunc(lines, func(a, b InvoiceLine) int { return cmp.Compare(a.Position, b.Position) })
	for _, l := range lines {
		li, err := lineItem(p.Number, l, m)
		if err != nil {
			return inv, err
		}
		inv.LineItems = append(inv.LineItems, li)
	}
	return inv, nil
}

// lineItem maps one line. With m nil, the account and tax codes are left out (a reconcile
// compares an unmappable row without them).
func lineItem(number string, l InvoiceLine, m *mappings) (xero.LineItem, error) {
	li := xero.LineItem{Description: l.Description}
	if l.ItemCode != nil {
		li.ItemCode = *l.ItemCode
	}
	if m != nil {
		if err := mapCodes(number, l, m, &li); err != nil {
			return li, err
		}
	}
	return li, amounts(number, l, &li)
}

// mapCodes sets a line's account and tax codes from the tenant's mappings.
func mapCodes(number string, l InvoiceLine, m *mappings, li *xero.LineItem) error {
	account, ok := m.accounts[l.RevenueCategory]
	if !ok {
		return mappingMissing("invoice %s line %d: no Xero account code for revenue category %q (integrations.xero_account_mappings)",
			number, l.Position, l.RevenueCategory)
	}
	li.AccountCode = account
	li.TaxType = "NONE" // a NULL tax_component is no tax (SPEC §1)
	if l.TaxComponent != nil {
		tax, ok := m.taxes[*l.TaxComponent]
		if !ok {
			return mappingMissing("invoice %s line %d: no Xero tax type for tax component %q (integrations.xero_tax_mappings)",
				number, l.Position, *l.TaxComponent)
		}
		li.TaxType = tax
	}
	return nil
}

// amounts sets a line's quantity, unit amount and discount, exact decimals from the payload.
func amounts(number string, l InvoiceLine, li *xero.LineItem) error {
	var err error
	if li.Quantity, err = xero.ParseDecimal(l.Quantity); err != nil {
		return invalid("invoice %s line %d: quantity: %v", number, l.Position, err)
	}
	if li.UnitAmount, err = xero.ParseDecimal(l.UnitPrice); err != nil {
		return invalid("invoice %s line %d: unit price: %v", number, l.Position, err)
	}
	if l.DiscountRate != "" {
		d, err := xero.ParseDecimal(l.DiscountRate)
		if err != nil {
			return invalid("invoice %s line %d: discount rate: %v", number, l.Position, err)
		}
		if d.Sign() != 0 {
			li.DiscountRate = d // a zero discount is no discount: not sent
		}
	}
	return nil
}

// paymentElement maps a payment. invoiceID is its invoice's Xero id.
func paymentElement(p PaymentPayload, invoiceID string, m *mappings) (xero.Payment, error) {
	pm := xero.Payment{Invoice: &xero.InvoiceRef{InvoiceID: invoiceID}}
	code, ok := m.payments[p.Method]
	if !ok {
		return pm, mappingMissing("payment %s: no Xero account for payment method %q (integrations.xero_payment_accounts)", p.PaymentID, p.Method)
	}
	pm.Account = &xero.AccountRef{Code: code}
	var err error
	if pm.Amount, err = xero.ParseDecimal(p.Amount); err != nil {
		return pm, invalid("payment %s: amount: %v", p.PaymentID, err)
	}
	if pm.Date, err = xero.ParseDate(p.PaidOn); err != nil {
		return pm, invalid("payment %s: date: %v", p.PaymentID, err)
	}
	if p.Reference != nil {
		pm.Reference = *p.Reference
	}
	return pm, nil
}

// decodePayload reads a row's payload into v.
func decodePayload(raw string, v any) error {
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return invalid("unreadable payload: %v", err)
	}
	return nil
}
