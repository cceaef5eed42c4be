package xero

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Payment mirrors Xero's Payment with the fields xerosync sends (SPEC §1) and reads back.
type Payment struct {
	PaymentID      string      `json:"PaymentID,omitempty"`
	Invoice        *InvoiceRef `json:"Invoice,omitempty"`
	Account        *AccountRef `json:"Account,omitempty"`
	Date           Date        `json:"Date,omitzero"`
	Amount         Decimal     `json:"Amount,omitzero"`
	CurrencyRate   Decimal     `json:"CurrencyRate,omitzero"`
	Reference      string      `json:"Reference,omitempty"`
	Status         string      `json:"Status,omitempty"`      // AUTHORISED, DELETED
	PaymentType    string      `json:"PaymentType,omitempty"` // ACCRECPAYMENT, …
	UpdatedDateUTC Time        `json:"UpdatedDateUTC,omitzero"`

	HasValidationErrors   bool              `json:"HasValidationErrors,omitempty"`
	StatusAttributeString string            `json:"StatusAttributeString,omitempty"`
	ValidationErrors      []ValidationError `json:"ValidationErrors,omitempty"`
}

// InvoiceRef addresses the invoice a payment is for.
type InvoiceRef struct {
	InvoiceID     string `json:"InvoiceID,omitempty"`
	InvoiceNumber string `json:"InvoiceNumber,omitempty"`
}

// AccountRef addresses the account a payment is paid into, by Code or AccountID.
type AccountRef struct {
	AccountID string `json:"AccountID,omitempty"`
	Code      string `json:"Code,omitempty"`
}

type paymentsEnvelope struct {
	Payments []Payment `json:"Payments"`
}

func (e paymentsEnvelope) elements() []Payment { return e.Payments }

func paymentView(p Payment) elementView {
	key := ""
	if p.Invoice != nil {
		key = p.Invoice.InvoiceID
	}
	return elementView{
		id:     p.PaymentID,
		key:    key,
		failed: p.HasValidationErrors || strings.EqualFold(p.StatusAttributeString, "ERROR"),
		status: p.StatusAttributeString,
		msgs:   messages(p.ValidationErrors),
	}
}

// CheckPayment reports what CreatePayments refuses in pm alone (the whole batch with it), so
// that a caller can fail that one payment instead.
func CheckPayment(pm Payment) error {
	if pm.Invoice == nil || !isGUID(pm.Invoice.InvoiceID) {
		return fmt.Errorf("has no valid Invoice.InvoiceID: %w", ErrInvalidRequest)
	}
	if pm.Account == nil || (pm.Account.Code == "" && pm.Account.AccountID == "") {
		return fmt.Errorf("has no Account: %w", ErrInvalidRequest)
	}
	if pm.Amount.Sign() <= 0 {
		return fmt.Errorf("amount %q must be positive: %w", pm.Amount.String(), ErrInvalidRequest)
	}
	if significantScale(pm.Amount) > 2 {
		// Xero rounds amounts to cents; refusing keeps the books exact.
		return fmt.Errorf("amount %s has more than 2 decimal places: %w", pm.Amount, ErrInvalidRequest)
	}
	return nil
}

// CreatePaymentsParams are the arguments of CreatePayments.
type CreatePaymentsParams struct {
	Payments       []Payment // up to MaxBatch, each with Invoice.InvoiceID and an Account
	IdempotencyKey string
}

// CreatePayments creates payments with PUT /Payments (scope accounting.transactions, or
// accounting.payments for granular apps). Payments have no unique key in Xero, so an unknown
// outcome is reconciled with FindPaymentsByInvoice matching amount, date and reference.
func (o *Org) CreatePayments(ctx context.Context, p CreatePaymentsParams) ([]ElementResult[Payment], error) {
	const op = "PUT /Payments"
	if err := checkBatch(op, len(p.Payments)); err != nil {
		return nil, err
	}
	for i, pm := range p.Payments {
		if err := CheckPayment(pm); err != nil {
			return nil, fmt.Errorf("%s: element %d: %w", op, i, err)
		}
	}
	return writeBatch(ctx, o, call{
		method: http.MethodPut, url: o.c.apiBase + "/Payments", op: op, query: batchQuery(),
		body: paymentsEnvelope{Payments: p.Payments}, key: p.IdempotencyKey, tenant: o.tenantID,
	}, p.Payments, paymentsEnvelope.elements, paymentView)
}

// FindPaymentsByInvoice lists the payments against one invoice, with
// where=Invoice.InvoiceID==Guid("…") (scope accounting.transactions(.read) or
// accounting.payments(.read)).
func (o *Org) FindPaymentsByInvoice(ctx context.Context, invoiceID string) ([]Payment, error) {
	where, err := WhereGUID("Invoice.InvoiceID", invoiceID)
	if err != nil {
		return nil, err
	}
	all, err := listPages(ctx, o, "/Payments", url.Values{"where": {where}}, paymentsEnvelope.elements)
	if err != nil {
		return nil, err
	}
	// Defensive: keep only what the filter asked for. Paging has already stopped on the
	// unfiltered page size, so a filtered-out element cannot end the listing early.
	return slices.DeleteFunc(all, func(p Payment) bool {
		return p.Invoice == nil || !strings.EqualFold(p.Invoice.InvoiceID, invoiceID)
	}), nil
}
