package xero

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Invoice mirrors Xero's Invoice with the fields xerosync sends (SPEC §1) and reads back.
// Totals are read-only: Xero computes them, we never send them.
type Invoice struct {
	InvoiceID       string      `json:"InvoiceID,omitempty"`
	Type            string      `json:"Type,omitempty"` // ACCREC
	Contact         *ContactRef `json:"Contact,omitempty"`
	InvoiceNumber   string      `json:"InvoiceNumber,omitempty"`
	Reference       string      `json:"Reference,omitempty"`
	Date            Date        `json:"Date,omitzero"`
	DueDate         Date        `json:"DueDate,omitzero"`
	CurrencyCode    string      `json:"CurrencyCode,omitempty"`
	CurrencyRate    Decimal     `json:"CurrencyRate,omitzero"`
	LineAmountTypes string      `json:"LineAmountTypes,omitempty"` // Exclusive, Inclusive, NoTax
	Status          string      `json:"Status,omitempty"`          // AUTHORISED, VOIDED, PAID, …
	LineItems       []LineItem  `json:"LineItems,omitempty"`

	SubTotal       Decimal   `json:"SubTotal,omitzero"`
	TotalTax       Decimal   `json:"TotalTax,omitzero"`
	Total          Decimal   `json:"Total,omitzero"`
	AmountDue      Decimal   `json:"AmountDue,omitzero"`
	AmountPaid     Decimal   `json:"AmountPaid,omitzero"`
	Payments       []Payment `json:"Payments,omitempty"`
	UpdatedDateUTC Time      `json:"UpdatedDateUTC,omitzero"`

	HasErrors             bool              `json:"HasErrors,omitempty"`
	StatusAttributeString string            `json:"StatusAttributeString,omitempty"`
	ValidationErrors      []ValidationError `json:"ValidationErrors,omitempty"`
}

// LineItem mirrors Xero's LineItem.
type LineItem struct {
	LineItemID   string  `json:"LineItemID,omitempty"`
	Description  string  `json:"Description,omitempty"`
	Quantity     Decimal `json:"Quantity,omitzero"`
	UnitAmount   Decimal `json:"UnitAmount,omitzero"`
	ItemCode     string  `json:"ItemCode,omitempty"`
	AccountCode  string  `json:"AccountCode,omitempty"`
	TaxType      string  `json:"TaxType,omitempty"`
	TaxAmount    Decimal `json:"TaxAmount,omitzero"`
	LineAmount   Decimal `json:"LineAmount,omitzero"`
	DiscountRate Decimal `json:"DiscountRate,omitzero"`
	// ValidationErrors: line-level messages, which some responses carry (XERO.md §8).
	ValidationErrors []ValidationError `json:"ValidationErrors,omitempty"`
}

type invoicesEnvelope struct {
	Invoices []Invoice `json:"Invoices"`
}

func (e invoicesEnvelope) elements() []Invoice { return e.Invoices }

func invoiceView(inv Invoice) elementView {
	msgs := messages(inv.ValidationErrors)
	for _, li := range inv.LineItems {
		msgs = append(msgs, messages(li.ValidationErrors)...)
	}
	return elementView{
		id:     inv.InvoiceID,
		key:    inv.InvoiceNumber,
		failed: inv.HasErrors || strings.EqualFold(inv.StatusAttributeString, "ERROR"),
		status: inv.StatusAttributeString,
		msgs:   msgs,
	}
}

// CreateInvoicesParams are the arguments of CreateInvoices.
type CreateInvoicesParams struct {
	Invoices       []Invoice // up to MaxBatch, each with an InvoiceNumber
	IdempotencyKey string    // required; bound to this exact batch
}

// CreateInvoices creates invoices with PUT /Invoices (scope accounting.transactions, or
// accounting.invoices for granular apps). PUT only creates, so an InvoiceNumber that already
// exists is rejected instead of overwriting that invoice (XERO.md §5). unitdp=4 is sent when
// a UnitAmount has more than 2 decimal places; more than 4 is refused, because Xero would
// round it.
func (o *Org) CreateInvoices(ctx context.Context, p CreateInvoicesParams) ([]ElementResult[Invoice], error) {
	const op = "PUT /Invoices"
	if err := checkBatch(op, len(p.Invoices)); err != nil {
		return nil, err
	}
	q := batchQuery()
	dp := 0
	for i, inv := range p.Invoices {
		if err := CheckInvoice(inv); err != nil {
			return nil, fmt.Errorf("%s: element %d: %w", op, i, err)
		}
		for _, li := range inv.LineItems {
			dp = max(dp, significantScale(li.UnitAmount))
		}
	}
	if dp > 2 {
		q.Set("unitdp", "4")
	}
	return writeBatch(ctx, o, call{
		method: http.MethodPut, url: o.c.apiBase + "/Invoices", op: op, query: q,
		body: invoicesEnvelope{Invoices: p.Invoices}, key: p.IdempotencyKey, tenant: o.tenantID,
	}, p.Invoices, invoicesEnvelope.elements, invoiceView)
}

// CheckInvoice reports what CreateInvoices refuses in inv alone (the whole batch with it), so
// that a caller can fail that one invoice instead.
func CheckInvoice(inv Invoice) error {
	if inv.InvoiceID != "" {
		return fmt.Errorf("has an InvoiceID: %w", ErrInvalidRequest)
	}
	if strings.TrimSpace(inv.InvoiceNumber) == "" {
		// Without a number Xero auto-numbers, and a lost response could not be reconciled.
		return fmt.Errorf("has no InvoiceNumber: %w", ErrInvalidRequest)
	}
	if inv.Contact == nil || inv.Contact.ContactID == "" {
		return fmt.Errorf("has no Contact.ContactID: %w", ErrInvalidRequest)
	}
	if err := checkInvoiceNumber(inv.InvoiceNumber); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(inv.Reference); n > maxReference {
		return fmt.Errorf("invoice Reference is %d characters, over Xero's limit of %d: %w", n, maxReference, ErrInvalidRequest)
	}
	for j, li := range inv.LineItems {
		if significantScale(li.UnitAmount) > 4 {
			return fmt.Errorf("line %d: UnitAmount %s has more than 4 decimal places, which Xero would round: %w", j+1, li.UnitAmount, ErrInvalidRequest)
		}
		if n := utf8.RuneCountInString(li.Description); n > maxDescription {
			return fmt.Errorf("line %d: Description is %d characters, over Xero's limit of %d: %w", j+1, n, maxDescription, ErrInvalidRequest)
		}
		if n := len(li.Quantity.String()); n > maxQuantityChars {
			return fmt.Errorf("line %d: Quantity %s is %d characters, over Xero's limit of %d: %w", j+1, li.Quantity, n, maxQuantityChars, ErrInvalidRequest)
		}
		if amt := lineAmount(li); amt.Cmp(maxLineAmount) > 0 {
			return fmt.Errorf("line %d: LineAmount %s (quantity × unit amount less discount) is over Xero's limit of 9,999,999,999.99: %w",
				j+1, amt.FloatString(2), ErrInvalidRequest)
		}
	}
	return nil
}

// Xero's documented field limits (XERO.md §10b, from Xero's Invoices documentation; the spec
// gives InvoiceNumber's "max length = 255"). A record over one is refused before sending, so
// that it fails alone with a message naming the field instead of failing its whole batch;
// the message Xero itself would give was not found.
const (
	maxInvoiceNumber = 255
	maxReference     = 255
	maxDescription   = 4000
	maxQuantityChars = 13 // characters of the Quantity as sent
)

// maxLineAmount is 9,999,999,999.99; a line over it in absolute value is refused. A line is
// compared after rounding to cents, as Xero stores it.
var maxLineAmount = big.NewRat(999_999_999_999, 100)

// checkInvoiceNumber applies Xero's rule for InvoiceNumber: at most 255 printable ASCII
// characters (XERO.md §10b).
func checkInvoiceNumber(n string) error {
	for i, r := range n {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("invoice InvoiceNumber %q has %q at byte %d; Xero takes printable ASCII only: %w", Clip(n, 40), r, i, ErrInvalidRequest)
		}
	}
	// ASCII from here: bytes are characters.
	if len(n) > maxInvoiceNumber {
		return fmt.Errorf("invoice InvoiceNumber is %d characters, over Xero's limit of %d: %w", len(n), maxInvoiceNumber, ErrInvalidRequest)
	}
	return nil
}

// lineAmount is |Quantity × UnitAmount less the discount|, rounded to cents: what Xero
// computes as the line's LineAmount (spec LineItem.LineAmount). An unset Quantity counts
// as 1, as Xero defaults it.
func lineAmount(li LineItem) *big.Rat {
	q := li.Quantity.rat()
	if li.Quantity.IsZero() {
		q.SetInt64(1)
	}
	a := new(big.Rat).Mul(q, li.UnitAmount.rat())
	if !li.DiscountRate.IsZero() {
		keep := new(big.Rat).Sub(big.NewRat(100, 1), li.DiscountRate.rat())
		a.Mul(a, keep).Quo(a, big.NewRat(100, 1))
	}
	a.Abs(a)
	// Round half up to cents.
	cents := new(big.Rat).Mul(a, big.NewRat(100, 1))
	n := new(big.Int).Quo(new(big.Int).Add(new(big.Int).Mul(cents.Num(), big.NewInt(2)), cents.Denom()), new(big.Int).Mul(cents.Denom(), big.NewInt(2)))
	return new(big.Rat).SetFrac(n, big.NewInt(100))
}

// significantScale is the number of decimal places that carry a non-zero digit: "12.3400"
// needs 2, so it does not force unitdp=4.
func significantScale(d Decimal) int {
	_, frac, ok := strings.Cut(d.String(), ".")
	if !ok {
		return 0
	}
	return len(strings.TrimRight(frac, "0"))
}

// VoidInvoicesParams are the arguments of VoidInvoices.
type VoidInvoicesParams struct {
	InvoiceIDs     []string // up to MaxBatch
	IdempotencyKey string
}

// VoidInvoices sets invoices to VOIDED with POST /Invoices, elements {InvoiceID, Status}
// (scope accounting.transactions or accounting.invoices). Xero refuses to void an invoice
// with payments allocated; that comes back as a failed element.
func (o *Org) VoidInvoices(ctx context.Context, p VoidInvoicesParams) ([]ElementResult[Invoice], error) {
	const op = "POST /Invoices"
	if err := checkBatch(op, len(p.InvoiceIDs)); err != nil {
		return nil, err
	}
	sent := make([]Invoice, len(p.InvoiceIDs))
	for i, id := range p.InvoiceIDs {
		if !isGUID(id) {
			return nil, fmt.Errorf("%s: element %d: %q is not an InvoiceID: %w", op, i, Clip(id, 40), ErrInvalidRequest)
		}
		sent[i] = Invoice{InvoiceID: id, Status: "VOIDED"}
	}
	// Cross-check by InvoiceID here: the request carries no number.
	byID := func(inv Invoice) elementView {
		v := invoiceView(inv)
		v.key = inv.InvoiceID
		return v
	}
	return writeBatch(ctx, o, call{
		method: http.MethodPost, url: o.c.apiBase + "/Invoices", op: op, query: batchQuery(),
		body: invoicesEnvelope{Invoices: sent}, key: p.IdempotencyKey, tenant: o.tenantID,
	}, sent, invoicesEnvelope.elements, byID)
}

// FindInvoicesByNumber reads the invoices whose InvoiceNumber is one of numbers, for
// reconciling an unknown outcome (XERO.md §3). It uses InvoiceNumbers=…, which is comma
// separated, so a number that itself holds a comma is looked up with a where filter, and one
// with a quote or a backslash (which neither a list item nor a where literal can carry
// intact) with searchTerm.
// Only exact matches are returned. Scope accounting.transactions(.read) or
// accounting.invoices(.read).
func (o *Org) FindInvoicesByNumber(ctx context.Context, numbers []string) ([]Invoice, error) {
	return o.findInvoicesByNumber(ctx, numbers, nil)
}

// FindOwnInvoicesByNumber is FindInvoicesByNumber restricted to the invoices our app
// created (createdByMyApp=true): Xero's own word on whose an invoice is, since a number
// can be held by an invoice an accountant typed in Xero (LESSONS, "a record found in Xero
// is not proof that it is ours").
func (o *Org) FindOwnInvoicesByNumber(ctx context.Context, numbers []string) ([]Invoice, error) {
	return o.findInvoicesByNumber(ctx, numbers, url.Values{"createdByMyApp": {"true"}})
}

// FindInvoicesByID reads the invoices with the given InvoiceIDs, with their payments
// (Invoice.Payments, read-only in the spec), in one call per 50: GET /Invoices?IDs=…
// ("Filter by a comma-separated list of InvoicesIDs", spec getInvoices). Reconciling a batch
// of voids or payments whose outcome is unknown reads their invoices this way, instead of a
// call each. Unknown ids are skipped. Scope accounting.transactions(.read) or
// accounting.invoices(.read).
func (o *Org) FindInvoicesByID(ctx context.Context, ids []string) ([]Invoice, error) {
	want := map[string]bool{}
	var list []string
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if !isGUID(id) || want[id] {
			continue
		}
		want[id] = true
		list = append(list, id)
	}
	var out []Invoice
	for _, chunk := range chunkList(list) {
		invs, err := listPages(ctx, o, "/Invoices", url.Values{"IDs": {strings.Join(chunk, ",")}}, invoicesEnvelope.elements)
		if err != nil {
			return nil, err
		}
		for _, inv := range invs {
			if want[strings.ToLower(inv.InvoiceID)] {
				out = append(out, inv)
			}
		}
	}
	return out, nil
}

func (o *Org) findInvoicesByNumber(ctx context.Context, numbers []string, filter url.Values) ([]Invoice, error) {
	want := map[string]bool{}
	var plain []string
	var queriesToRun []url.Values
	for _, n := range numbers {
		if n == "" || want[n] {
			continue
		}
		want[n] = true
		switch {
		case !strings.ContainsAny(n, `,"`):
			plain = append(plain, n)
		case WhereLiteralOK(n):
			// A comma would split the InvoiceNumbers list.
			w, err := WhereEquals("InvoiceNumber", n)
			if err != nil {
				return nil, fmt.Errorf("find invoices by number: %w", err)
			}
			queriesToRun = append(queriesToRun, url.Values{"where": {w}})
		default:
			// Neither a list item nor a where literal (see where.go): searchTerm covers
			// InvoiceNumber (spec getInvoices), and only exact matches are kept below.
			queriesToRun = append(queriesToRun, url.Values{"searchTerm": {n}})
		}
	}
	// Up to a batch's worth of numbers a call, each URL well under common limits: a batch of
	// unknown outcomes is reconciled in one read.
	for _, chunk := range chunkList(plain) {
		queriesToRun = append(queriesToRun, url.Values{"InvoiceNumbers": {strings.Join(chunk, ",")}})
	}
	for _, q := range queriesToRun {
		for k, v := range filter {
			q[k] = v
		}
	}
	var out []Invoice
	seen := map[string]bool{}
	for _, q := range queriesToRun {
		invs, err := listPages(ctx, o, "/Invoices", q, invoicesEnvelope.elements)
		if err != nil {
			return nil, err
		}
		for _, inv := range invs {
			id := strings.ToLower(inv.InvoiceID)
			if want[inv.InvoiceNumber] && !seen[id] {
				seen[id] = true
				out = append(out, inv)
			}
		}
	}
	return out, nil
}
