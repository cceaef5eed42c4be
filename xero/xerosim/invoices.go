package xerosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// invoice is a stored sales invoice or bill (spec schema Invoice).
type invoice struct {
	created         time.Time // simulated; not a Xero field (Invoice.Created)
	id              string
	typ             string // ACCREC or ACCPAY
	number          string
	reference       string
	status          string
	contactID       string
	date            time.Time
	dueDate         time.Time // zero when unset
	lineAmountTypes string
	currency        string
	currencyRate    dec
	url             string
	sentToContact   bool
	lines           []lineItem
	subTotal        dec
	totalTax        dec
	total           dec
	totalDiscount   dec
	discounted      bool
	amountPaid      dec
	paymentIDs      []string
	fullyPaidOn     time.Time
	updated         time.Time
	createdBy       string // client id, for createdByMyApp
}

// amountDue is what is still owed. A voided or deleted invoice owes
// nothing (the spec's VOIDED example shows AmountDue 0.00 beside Total).
func (inv *invoice) amountDue() dec {
	if inv.status == statusVoided || inv.status == statusDeleted {
		return dec{}
	}
	return inv.total.Sub(inv.amountPaid)
}

func (inv *invoice) clone() *invoice {
	cp := *inv
	cp.lines = slices.Clone(inv.lines)
	cp.paymentIDs = slices.Clone(inv.paymentIDs)
	return &cp
}

// lineItem is one invoice line (spec schema LineItem). unitAmount is kept
// at up to 4 decimal places; what a response shows depends on its unitdp.
type lineItem struct {
	id             string
	description    string
	quantity       dec
	unitAmount     dec
	itemCode       string
	accountCode    string
	accountID      string
	taxType        string
	taxAmount      dec
	lineAmount     dec
	discountRate   *dec
	discountAmount *dec
	taxOverride    *dec
	tracking       jsonRaw
}

const (
	statusDraft      = "DRAFT"
	statusSubmitted  = "SUBMITTED"
	statusAuthorised = "AUTHORISED"
	statusPaid       = "PAID"
	statusVoided     = "VOIDED"
	statusDeleted    = "DELETED"
)

// Messages Xero is documented (or reported) to use, XERO.md §5 and §8.
const (
	msgInvoiceNumberNotUnique = "Invoice # must be unique."
	msgHasPayment             = "This document cannot be edited as it has a payment or credit note allocated to it."
	msgInvalidStatusChange    = "Invoice not of valid status for modification"
	msgContactArchived        = "The contact with the specified contact details has been archived. The contact must be un-archived before creating new invoices or credit notes."
)

// Xero's documented field limits (XERO.md §10b, from Xero's Invoices
// documentation): InvoiceNumber printable ASCII and at most 255 characters,
// Reference 255, a line's Description 4,000, its Quantity 13 characters as
// sent, its LineAmount 9,999,999,999.99. The messages Xero gives for breaking
// them were not found; these are plausible wordings that name the field, so a
// client can classify them only as a generic validation error.
const (
	maxInvoiceNumber = 255
	maxReference     = 255
	maxDescription   = 4000
	maxQuantityChars = 13

	msgInvoiceNumberTooLong  = "Invoice number must not be longer than 255 characters."
	msgInvoiceNumberNotASCII = "Invoice number must contain printable ASCII characters only."
	msgReferenceTooLong      = "Reference must not be longer than 255 characters."
	msgDescriptionTooLong    = "Description must not be longer than 4000 characters."
	msgQuantityTooLong       = "Quantity must not be longer than 13 characters."
	msgLineAmountTooLarge    = "Line amount must not be more than 9,999,999,999.99."
)

var maxLineAmount = dec{big.NewRat(999_999_999_999, 100)}

// printableASCII reports whether s holds only characters 0x20 to 0x7E.
func printableASCII(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

func (o *org) invoiceByID(id string) *invoice {
	for _, inv := range o.invoices {
		if sameGUID(inv.id, id) {
			return inv
		}
	}
	return nil
}

// accrecByNumber finds a sales invoice by number. ACCREC numbers are unique
// per organisation (XERO.md §0 row 9); bill numbers are not, so only sales
// invoices can be addressed this way.
func (o *org) accrecByNumber(number string) *invoice {
	if number == "" {
		return nil
	}
	return o.accrec[strings.ToLower(number)]
}

// indexNumber keeps accrec in step with a saved sales invoice whose number
// was oldNumber before the save ("" for a new invoice).
func (o *org) indexNumber(inv *invoice, oldNumber string) {
	if inv.typ != "ACCREC" {
		return
	}
	if old := strings.ToLower(oldNumber); oldNumber != "" && o.accrec[old] == inv {
		delete(o.accrec, old)
	}
	if inv.number != "" {
		o.accrec[strings.ToLower(inv.number)] = inv
	}
}

func (inv *invoice) fields(o *org) whereFields {
	f := map[string]whereValue{
		"InvoiceID":         guidVal(inv.id),
		"InvoiceNumber":     strVal(inv.number),
		"Reference":         strVal(inv.reference),
		"Status":            strVal(inv.status),
		"Type":              strVal(inv.typ),
		"CurrencyCode":      strVal(inv.currency),
		"LineAmountTypes":   strVal(inv.lineAmountTypes),
		"SubTotal":          numVal(inv.subTotal),
		"TotalTax":          numVal(inv.totalTax),
		"Total":             numVal(inv.total),
		"AmountDue":         numVal(inv.amountDue()),
		"AmountPaid":        numVal(inv.amountPaid),
		"Contact.ContactID": guidVal(inv.contactID),
	}
	if c := o.contactByID(inv.contactID); c != nil {
		f["Contact.Name"] = strVal(c.name)
		f["Contact.ContactNumber"] = strVal(c.number)
	}
	return whereFields{"Invoice", f}
}

type lineJSON struct {
	LineItemID       string            `json:"LineItemID"`
	Description      string            `json:"Description,omitempty"`
	Quantity         json.Number       `json:"Quantity"`
	UnitAmount       json.Number       `json:"UnitAmount"`
	ItemCode         string            `json:"ItemCode,omitempty"`
	AccountCode      string            `json:"AccountCode,omitempty"`
	AccountID        string            `json:"AccountID,omitempty"`
	TaxType          string            `json:"TaxType,omitempty"`
	TaxAmount        json.Number       `json:"TaxAmount"`
	LineAmount       json.Number       `json:"LineAmount"`
	DiscountRate     json.Number       `json:"DiscountRate,omitempty"`
	DiscountAmount   json.Number       `json:"DiscountAmount,omitempty"`
	Tracking         jsonRaw           `json:"Tracking"`
	ValidationErrors []validationError `json:"ValidationErrors"`
}

type invoicePaymentJSON struct {
	PaymentID           string      `json:"PaymentID"`
	Date                string      `json:"Date"`
	Amount              json.Number `json:"Amount"`
	Reference           string      `json:"Reference,omitempty"`
	CurrencyRate        json.Number `json:"CurrencyRate"`
	HasAccount          bool        `json:"HasAccount"`
	HasValidationErrors bool        `json:"HasValidationErrors"`
}

type invoiceJSON struct {
	Type                  string               `json:"Type"`
	InvoiceID             string               `json:"InvoiceID"`
	InvoiceNumber         string               `json:"InvoiceNumber"`
	Reference             string               `json:"Reference"`
	Payments              []invoicePaymentJSON `json:"Payments"`
	CreditNotes           []any                `json:"CreditNotes"`
	Prepayments           []any                `json:"Prepayments"`
	Overpayments          []any                `json:"Overpayments"`
	AmountDue             json.Number          `json:"AmountDue"`
	AmountPaid            json.Number          `json:"AmountPaid"`
	AmountCredited        json.Number          `json:"AmountCredited"`
	SentToContact         bool                 `json:"SentToContact"`
	CurrencyRate          json.Number          `json:"CurrencyRate"`
	IsDiscounted          bool                 `json:"IsDiscounted"`
	HasAttachments        bool                 `json:"HasAttachments"`
	HasErrors             bool                 `json:"HasErrors"`
	Contact               contactJSON          `json:"Contact"`
	DateString            string               `json:"DateString"`
	Date                  string               `json:"Date"`
	DueDateString         string               `json:"DueDateString,omitempty"`
	DueDate               string               `json:"DueDate,omitempty"`
	Status                string               `json:"Status"`
	LineAmountTypes       string               `json:"LineAmountTypes"`
	LineItems             []lineJSON           `json:"LineItems"`
	SubTotal              json.Number          `json:"SubTotal"`
	TotalTax              json.Number          `json:"TotalTax"`
	Total                 json.Number          `json:"Total"`
	TotalDiscount         json.Number          `json:"TotalDiscount,omitempty"`
	UpdatedDateUTC        string               `json:"UpdatedDateUTC"`
	UpdatedDateUTCString  string               `json:"UpdatedDateUTCString"`
	CurrencyCode          string               `json:"CurrencyCode"`
	FullyPaidOnDate       string               `json:"FullyPaidOnDate,omitempty"`
	URL                   string               `json:"Url,omitempty"`
	StatusAttributeString string               `json:"StatusAttributeString,omitempty"`
}

func (inv *invoice) json(o *org, unitDP int, statusAttr string) invoiceJSON {
	out := invoiceJSON{
		Type:                  inv.typ,
		InvoiceID:             inv.id,
		InvoiceNumber:         inv.number,
		Reference:             inv.reference,
		Payments:              []invoicePaymentJSON{},
		CreditNotes:           []any{},
		Prepayments:           []any{},
		Overpayments:          []any{},
		AmountDue:             inv.amountDue().Num(2),
		AmountPaid:            inv.amountPaid.Num(2),
		AmountCredited:        decInt(0).Num(2),
		SentToContact:         inv.sentToContact,
		CurrencyRate:          inv.currencyRate.Num(6),
		IsDiscounted:          inv.discounted,
		DateString:            dateString(inv.date),
		Date:                  msDate(inv.date),
		Status:                inv.status,
		LineAmountTypes:       inv.lineAmountTypes,
		LineItems:             make([]lineJSON, 0, len(inv.lines)),
		SubTotal:              inv.subTotal.Num(2),
		TotalTax:              inv.totalTax.Num(2),
		Total:                 inv.total.Num(2),
		UpdatedDateUTC:        msDate(inv.updated),
		UpdatedDateUTCString:  inv.updated.UTC().Format("2006-01-02T15:04:05Z"),
		CurrencyCode:          inv.currency,
		URL:                   inv.url,
		StatusAttributeString: statusAttr,
	}
	if inv.discounted {
		out.TotalDiscount = inv.totalDiscount.Num(2)
	}
	if !inv.dueDate.IsZero() {
		out.DueDateString = dateString(inv.dueDate)
		out.DueDate = msDate(inv.dueDate)
	}
	if !inv.fullyPaidOn.IsZero() {
		out.FullyPaidOnDate = msDate(inv.fullyPaidOn)
	}
	if c := o.contactByID(inv.contactID); c != nil {
		out.Contact = c.json("")
	}
	for _, pid := range inv.paymentIDs {
		if p := o.paymentByID(pid); p != nil && p.status != statusDeleted {
			out.Payments = append(out.Payments, invoicePaymentJSON{
				PaymentID: p.id, Date: msDate(p.date), Amount: p.amount.Num(2),
				Reference: p.reference, CurrencyRate: p.currencyRate.Num(6),
			})
		}
	}
	for _, li := range inv.lines {
		lj := lineJSON{
			LineItemID:       li.id,
			Description:      li.description,
			Quantity:         li.quantity.Num(4),
			UnitAmount:       li.unitAmount.Num(unitDP),
			ItemCode:         li.itemCode,
			AccountCode:      li.accountCode,
			AccountID:        li.accountID,
			TaxType:          li.taxType,
			TaxAmount:        li.taxAmount.Num(2),
			LineAmount:       li.lineAmount.Num(2),
			Tracking:         orEmptyArray(li.tracking),
			ValidationErrors: []validationError{},
		}
		if li.discountRate != nil {
			lj.DiscountRate = li.discountRate.Num(2)
		}
		if li.discountAmount != nil {
			lj.DiscountAmount = li.discountAmount.Num(2)
		}
		out.LineItems = append(out.LineItems, lj)
	}
	return out
}

func (s *Sim) getInvoices(a *apiRequest) *response {
	q, o := a.query, a.org
	ids := splitList(q.Get("IDs"))
	numbers := splitList(q.Get("InvoiceNumbers"))
	contactIDs := splitList(q.Get("ContactIDs"))
	statuses := splitList(q.Get("Statuses"))
	term := strings.ToLower(q.Get("searchTerm"))
	mine := strings.EqualFold(q.Get("createdByMyApp"), "true")
	since, hasSince := ifModifiedSince(a.r)
	matched, res := filterWhere(a, o.invoices, func(inv *invoice) bool {
		switch {
		case len(ids) > 0 && !containsGUID(ids, inv.id),
			len(numbers) > 0 && !slices.Contains(numbers, inv.number),
			len(contactIDs) > 0 && !containsGUID(contactIDs, inv.contactID),
			len(statuses) > 0 && !slices.ContainsFunc(statuses, func(st string) bool { return strings.EqualFold(st, inv.status) }),
			mine && inv.createdBy != a.clientID,
			hasSince && !inv.updated.After(since),
			term != "" && !strings.Contains(strings.ToLower(inv.number), term) && !strings.Contains(strings.ToLower(inv.reference), term):
			return false
		}
		return true
	}, func(inv *invoice) whereFields { return inv.fields(o) })
	if res != nil {
		return res
	}
	page, pg := pageOf(q, matched)
	items := make([]any, 0, len(page))
	for _, inv := range page {
		items = append(items, inv.json(o, a.unitDP(), ""))
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Invoices", items, pg))
}

// getInvoice is GET /Invoices/{InvoiceID}; Xero also accepts an invoice
// number in place of the id.
func (s *Sim) getInvoice(a *apiRequest) *response {
	inv := a.org.invoiceByID(a.rt.id)
	if inv == nil && !isGUID(a.rt.id) {
		inv = a.org.accrecByNumber(a.rt.id)
	}
	if inv == nil {
		return notFoundResponse()
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Invoices", []any{inv.json(a.org, a.unitDP(), "")}, nil))
}

// writeInvoices is PUT /Invoices (create), POST /Invoices (update by
// InvoiceID, or by an existing ACCREC InvoiceNumber, else create) and
// POST /Invoices/{InvoiceID}.
func (s *Sim) writeInvoices(a *apiRequest, create bool) *response {
	if a.rt.id != "" && a.org.invoiceByID(a.rt.id) == nil {
		return notFoundResponse()
	}
	return writeBatch(a, "Invoices", func(el obj) batchResult {
		inv, errs := s.saveInvoice(a, el, create)
		if len(errs) > 0 {
			echo := el.withNumbers("CurrencyRate").
				withNumbersIn("LineItems", "Quantity", "UnitAmount", "LineAmount", "DiscountRate", "DiscountAmount", "TaxAmount")
			return batchResult{item: echo.echo(errs, "HasErrors"), failed: true}
		}
		return batchResult{item: inv.json(a.org, a.unitDP(), "OK")}
	})
}

// saveInvoice validates one element against the organisation and, if it is
// valid, saves it. Nothing is changed when it returns errors: the element is
// applied to a copy (or a new invoice), and only a valid copy is stored.
func (s *Sim) saveInvoice(a *apiRequest, el obj, create bool) (*invoice, []string) {
	o := a.org
	existing, inv, errs := invoiceToSave(a, el, create)
	if len(errs) > 0 {
		return nil, errs
	}
	var msgs messages
	if existing == nil {
		msgs.add(inv.setType(el))
	}
	newContact := inv.setContact(o, el, &msgs)
	inv.setHeader(o, el, &msgs)
	target := inv.status
	if v, ok, _ := el.str("Status"); ok {
		target = strings.ToUpper(strings.TrimSpace(v))
	}
	msgs.add(statusTransitionError(existing, target))
	inv.setLines(a, el, target, &msgs)
	if existing == nil && len(inv.lines) == 0 && target == statusAuthorised {
		msgs.add("An invoice must have at least one line item before it can be approved.")
	}
	if inv.typ == "ACCREC" {
		inv.checkNumber(o, existing, &msgs)
	}
	// Lock dates bind documents that post to the ledger, and voiding one.
	// Drafts and submitted invoices do not post, so Xero lets them be
	// saved with any date.
	if target == statusAuthorised || target == statusVoided || target == statusPaid {
		msgs.add(o.lockError(inv.date))
	}
	if len(msgs) > 0 {
		return nil, msgs
	}

	computeTotals(o, inv)
	if existing != nil && inv.amountPaid.Sign() > 0 && inv.amountDue().Sign() < 0 {
		return nil, []string{msgHasPayment}
	}
	inv.status = target
	inv.updated = a.now
	return o.storeInvoice(a, existing, inv, newContact), nil
}

// messages collects an element's validation messages once each, in order: Xero lists every
// problem of an element, not just the first.
type messages []string

func (m *messages) add(e string) {
	if e != "" && !slices.Contains(*m, e) {
		*m = append(*m, e)
	}
}

// addErr adds err's message, if any; it reports whether there was one.
func (m *messages) addErr(err error) bool {
	if err != nil {
		m.add(err.Error())
	}
	return err != nil
}

// invoiceToSave finds the invoice an element updates (by the route's or the element's
// InvoiceID, or for a POST by the number of an existing sales invoice) and returns it with
// the copy to apply the element to; for a new invoice existing is nil.
func invoiceToSave(a *apiRequest, el obj, create bool) (existing, inv *invoice, errs []string) {
	o := a.org
	id := el.strOr("InvoiceID")
	if a.rt.id != "" {
		id = a.rt.id
	}
	switch {
	case id != "":
		if existing = o.invoiceByID(id); existing == nil {
			// Wording not confirmed against Xero.
			return nil, nil, []string{"Invoice could not be found"}
		}
	case !create:
		// A POST carrying the number of an existing sales invoice updates
		// it (XERO.md §5; pyxero#328).
		typ := strings.ToUpper(el.strOr("Type"))
		if typ == "" || typ == "ACCREC" {
			existing = o.accrecByNumber(strings.TrimSpace(el.strOr("InvoiceNumber")))
		}
	}
	if existing == nil {
		return nil, &invoice{
			id: newGUID(), status: statusDraft, lineAmountTypes: "Exclusive",
			currency: o.cfg.BaseCurrency, currencyRate: decInt(1),
			date: civilDay(a.now), createdBy: a.clientID,
		}, nil
	}
	switch existing.status {
	case statusVoided, statusDeleted:
		return nil, nil, []string{msgInvalidStatusChange}
	}
	if existing.amountPaid.Sign() > 0 && editsPaidContent(el, existing) {
		return nil, nil, []string{msgHasPayment}
	}
	return existing, existing.clone(), nil
}

// setType sets a new invoice's type; it returns Xero's message when it is missing or not
// one the simulator supports.
func (inv *invoice) setType(el obj) string {
	typ := strings.ToUpper(strings.TrimSpace(el.strOr("Type")))
	switch typ {
	case "ACCREC", "ACCPAY":
		inv.typ = typ
		return ""
	case "":
		return "Invoice Type must be specified."
	default:
		return fmt.Sprintf("Invoice Type '%s' is not supported by the simulator.", typ)
	}
}

// setContact resolves the element's contact. A new contact is returned, not stored: it is
// only created with the invoice, so a failed invoice leaves no stray contact behind.
func (inv *invoice) setContact(o *org, el obj, msgs *messages) (newContact *contact) {
	cel, ok, err := el.child("Contact")
	if msgs.addErr(err) || !ok {
		if inv.contactID == "" {
			msgs.add("A Contact must be specified for this type of transaction")
		}
		return nil
	}
	c, created, msg := resolveInvoiceContact(o, cel)
	msgs.add(msg)
	if c == nil {
		return nil
	}
	inv.contactID = c.id
	if c.status == "ARCHIVED" {
		msgs.add(msgContactArchived)
	}
	return created
}

// setHeader applies the element's dates, amount types, number, reference and currency.
func (inv *invoice) setHeader(o *org, el obj, msgs *messages) {
	if d, ok, err := el.date("Date"); !msgs.addErr(err) && ok {
		inv.date = d
	}
	if d, ok, err := el.date("DueDate"); !msgs.addErr(err) && ok {
		inv.dueDate = d
	}
	if v, ok, _ := el.str("LineAmountTypes"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "exclusive":
			inv.lineAmountTypes = "Exclusive"
		case "inclusive":
			inv.lineAmountTypes = "Inclusive"
		case "notax":
			inv.lineAmountTypes = "NoTax"
		default:
			msgs.add(fmt.Sprintf("LineAmountTypes '%s' is not valid. Use Exclusive, Inclusive or NoTax.", v))
		}
	}
	if v, ok, err := el.str("InvoiceNumber"); !msgs.addErr(err) && ok {
		inv.number = strings.TrimSpace(v)
	}
	if v, ok, _ := el.str("Reference"); ok {
		inv.reference = v
		if len([]rune(v)) > maxReference {
			msgs.add(msgReferenceTooLong)
		}
	}
	if v, ok, _ := el.str("Url"); ok {
		inv.url = v
	}
	if v, ok, _ := el.boolean("SentToContact"); ok {
		inv.sentToContact = v
	}
	if v, ok, _ := el.str("CurrencyCode"); ok {
		inv.currency = strings.ToUpper(strings.TrimSpace(v))
	}
	if v, ok, err := el.decimal("CurrencyRate"); !msgs.addErr(err) && ok && v.Sign() > 0 {
		inv.currencyRate = v.Round(6)
	}
	if !o.subscribed(inv.currency) {
		msgs.add("Organisation is not subscribed to currency " + inv.currency)
	}
}

// setLines replaces the invoice's lines with the element's, when it has any.
func (inv *invoice) setLines(a *apiRequest, el obj, target string, msgs *messages) {
	lines, ok, err := el.children("LineItems")
	if msgs.addErr(err) || !ok {
		return
	}
	inv.lines = inv.lines[:0:0]
	for _, lel := range lines {
		li, lerrs := parseLine(a.org, inv, lel, a.unitDP(), target)
		for _, e := range lerrs {
			msgs.add(e)
		}
		inv.lines = append(inv.lines, li)
	}
}

// checkNumber gives a new sales invoice the organisation's next number when it has none,
// and checks the number's length, characters and uniqueness among sales invoices.
func (inv *invoice) checkNumber(o *org, existing *invoice, msgs *messages) {
	if existing == nil && inv.number == "" {
		inv.number = o.nextInvoiceNumber()
	}
	if len([]rune(inv.number)) > maxInvoiceNumber {
		msgs.add(msgInvoiceNumberTooLong)
	}
	if !printableASCII(inv.number) {
		msgs.add(msgInvoiceNumberNotASCII)
	}
	if other := o.accrecByNumber(inv.number); other != nil && other != existing {
		msgs.add(msgInvoiceNumberNotUnique)
	}
}

// storeInvoice stores a validated invoice: over existing (re-indexing its number), or as a
// new one, with the contact created alongside it; an authorised invoice marks its contact a
// customer (or supplier).
func (o *org) storeInvoice(a *apiRequest, existing, inv *invoice, newContact *contact) *invoice {
	if newContact != nil {
		newContact.updated, newContact.created = a.now, a.now
		o.contacts = append(o.contacts, newContact)
		o.contactCreations[newContact.number]++
	}
	if c := o.contactByID(inv.contactID); c != nil && inv.status == statusAuthorised {
		if inv.typ == "ACCREC" {
			c.isCustomer = true
		} else {
			c.isSupplier = true
		}
	}
	if existing != nil {
		oldNumber := existing.number
		inv.created = existing.created
		*existing = *inv
		o.indexNumber(existing, oldNumber)
		return existing
	}
	inv.created = a.now
	o.invoices = append(o.invoices, inv)
	o.indexNumber(inv, "")
	o.invoiceCreations[inv.number]++
	return inv
}

// editsPaidContent reports whether an element would change an invoice that
// already has payments in a way Xero forbids.
func editsPaidContent(el obj, existing *invoice) bool {
	for _, f := range []string{"LineItems", "Contact", "Date", "CurrencyCode", "LineAmountTypes", "CurrencyRate"} {
		if el.has(f) {
			return true
		}
	}
	if st, ok, _ := el.str("Status"); ok && !strings.EqualFold(st, existing.status) {
		return true
	}
	return false
}

// statusTransitionError applies Xero's invoice status rules: a new invoice
// may be DRAFT, SUBMITTED or AUTHORISED; DRAFT and SUBMITTED can move to
// each other, to AUTHORISED or to DELETED; AUTHORISED can only be VOIDED
// (and becomes PAID through payments, never by request); PAID, VOIDED and
// DELETED are final. The exact messages for refused transitions other than
// the documented payment case are not confirmed.
func statusTransitionError(existing *invoice, target string) string {
	switch target {
	case statusDraft, statusSubmitted, statusAuthorised, statusPaid, statusVoided, statusDeleted:
	default:
		return fmt.Sprintf("Status '%s' is not a valid invoice status.", target)
	}
	if existing == nil {
		switch target {
		case statusDraft, statusSubmitted, statusAuthorised:
			return ""
		}
		return "Invoice not of valid status for creation"
	}
	from := existing.status
	if from == target {
		return ""
	}
	switch from {
	case statusDraft, statusSubmitted:
		switch target {
		case statusDraft, statusSubmitted, statusAuthorised, statusDeleted:
			return ""
		}
	case statusAuthorised:
		if target == statusVoided {
			if existing.amountPaid.Sign() > 0 {
				return msgHasPayment
			}
			return ""
		}
	case statusPaid:
		return msgHasPayment
	}
	return msgInvalidStatusChange
}

// resolveInvoiceContact finds the invoice's contact by ContactID, else by
// ContactNumber, else by Name among active contacts. A Name that matches
// nobody makes Xero create a new contact with the invoice; that contact is
// returned as created so it is saved only if the invoice is.
func resolveInvoiceContact(o *org, cel obj) (c *contact, created *contact, msg string) {
	if id := strings.TrimSpace(cel.strOr("ContactID")); id != "" {
		if c = o.contactByID(id); c == nil {
			return nil, nil, "The contact with the specified ContactID could not be found."
		}
		return c, nil, ""
	}
	if n := strings.TrimSpace(cel.strOr("ContactNumber")); n != "" {
		if c = o.contactByNumber(n); c != nil {
			return c, nil, ""
		}
	}
	name := strings.TrimSpace(cel.strOr("Name"))
	if name == "" {
		return nil, nil, "A Contact must be specified for this type of transaction"
	}
	if c = o.activeContactByName(name); c != nil {
		return c, nil, ""
	}
	nc := &contact{id: newGUID(), status: "ACTIVE"}
	if errs := applyContactFields(nc, cel); len(errs) > 0 {
		return nil, nil, errs[0]
	}
	if errs := validateContact(o, nc, nil); len(errs) > 0 {
		return nil, nil, errs[0]
	}
	return nc, nc, ""
}

// parseLine reads and validates one line item.
func parseLine(o *org, inv *invoice, el obj, unitDP int, target string) (lineItem, []string) {
	var errs []string
	add := func(e string) { errs = append(errs, e) }
	li := lineItem{id: el.strOr("LineItemID")}
	if !isGUID(li.id) {
		li.id = newGUID()
	}
	li.description = el.strOr("Description")
	if len([]rune(li.description)) > maxDescription {
		add(msgDescriptionTooLong)
	}
	if v, ok := el.raw("Quantity"); ok && len(strings.Trim(strings.TrimSpace(string(v)), `"`)) > maxQuantityChars {
		add(msgQuantityTooLong)
	}
	li.itemCode = el.strOr("ItemCode")
	if v, ok := el.raw("Tracking"); ok {
		li.tracking = append(jsonRaw(nil), bytes.TrimSpace(v)...)
	}

	qty, hasQty, err := el.decimal("Quantity")
	if err != nil {
		add(err.Error())
	}
	unit, hasUnit, err := el.decimal("UnitAmount")
	if err != nil {
		add(err.Error())
	}
	given, hasGiven, err := el.decimal("LineAmount")
	if err != nil {
		add(err.Error())
	}
	if dr, ok, err := el.decimal("DiscountRate"); err != nil {
		add(err.Error())
	} else if ok {
		dr = dr.Round(2)
		li.discountRate = &dr
		if dr.Sign() < 0 || dr.Cmp(decInt(100)) > 0 {
			add("Discount rate must be between 0 and 100.")
		}
	}
	if da, ok, err := el.decimal("DiscountAmount"); err != nil {
		add(err.Error())
	} else if ok {
		da = da.Round(2)
		li.discountAmount = &da
	}
	taxOverride, hasTaxOverride, err := el.decimal("TaxAmount")
	if err != nil {
		add(err.Error())
	}

	// "If you wish to omit either the Quantity or UnitAmount you can provide
	// a LineAmount and Xero will calculate the missing amount" (spec
	// LineItem.LineAmount). Without one of them, a quantity defaults to 1.
	switch {
	case !hasQty && !hasUnit && hasGiven:
		qty, unit = decInt(1), given
	case !hasQty && hasUnit && hasGiven && !unit.IsZero():
		qty = given.Quo(unit)
	case !hasQty && hasUnit:
		qty = decInt(1)
	case hasQty && !hasUnit && hasGiven && !qty.IsZero():
		unit = given.Quo(qty)
	}
	li.quantity = qty.Round(4)
	// Unit amounts round to 2 places unless the request opted in to 4 with
	// unitdp=4 (spec unitdp; XERO.md §5).
	li.unitAmount = unit.Round(unitDP)
	gross := li.quantity.Mul(li.unitAmount)
	switch {
	case li.discountRate != nil:
		li.lineAmount = gross.Mul(decInt(100).Sub(*li.discountRate)).Quo(decInt(100)).Round(2)
	case li.discountAmount != nil:
		li.lineAmount = gross.Sub(*li.discountAmount).Round(2)
	default:
		li.lineAmount = gross.Round(2)
	}

	if new(big.Rat).Abs(li.lineAmount.rat()).Cmp(maxLineAmount.rat()) > 0 {
		add(msgLineAmountTooLarge)
	}

	if strings.TrimSpace(li.description) == "" && li.itemCode == "" {
		// Spec LineItem.Description: "needs to be at least 1 char long".
		// The message wording is not confirmed.
		add("The description field is mandatory for each line item.")
	}

	// Account: by code, else by id. Bank accounts cannot take invoice
	// lines; archived or deleted accounts cannot be used at all.
	var acct *Account
	code := strings.TrimSpace(el.strOr("AccountCode"))
	accountID := strings.TrimSpace(el.strOr("AccountID"))
	switch {
	case code != "":
		acct = o.account(code)
		if acct == nil || acct.Status != "ACTIVE" || acct.Type == "BANK" {
			add(fmt.Sprintf("Account code '%s' is not a valid code for this document.", code))
			acct = nil
		}
		li.accountCode = code
	case accountID != "":
		acct = o.accountByID(accountID)
		if acct == nil || acct.Status != "ACTIVE" || acct.Type == "BANK" {
			add("Account must be valid.")
			acct = nil
		}
	case !li.lineAmount.IsZero() && (target == statusAuthorised || target == statusSubmitted):
		// An approved line with an amount must post to an account;
		// "Account must be valid." is a message integrators report
		// (XERO.md §5, Xero-Java#353).
		add("Account must be valid.")
	}
	if acct != nil {
		li.accountCode, li.accountID = acct.Code, acct.AccountID
	}

	// Tax type: as sent, else the account's default.
	li.taxType = strings.TrimSpace(el.strOr("TaxType"))
	if li.taxType != "" {
		tr := o.taxRate(li.taxType)
		usable := tr != nil && tr.Status == "ACTIVE" &&
			((inv.typ == "ACCREC" && tr.CanApplyToRevenue) || (inv.typ == "ACCPAY" && tr.CanApplyToExpenses) || inv.typ == "")
		if !usable {
			add(fmt.Sprintf("The TaxType code '%s' does not exist or cannot be used for this type of transaction.", li.taxType))
		} else {
			li.taxType = tr.TaxType
		}
	} else if acct != nil && acct.TaxType != "" {
		li.taxType = acct.TaxType
	}
	if hasTaxOverride {
		// "This value can be overriden if the calculated TaxAmount is not
		// correct" (spec LineItem.TaxAmount).
		ov := taxOverride.Round(2)
		li.taxOverride = &ov
	}
	return li, errs
}

// computeTotals derives line tax and the invoice totals exactly, rounding
// each line's tax to 2 places (line-level rounding, Xero's default):
//   - Exclusive: tax = LineAmount × rate / 100; Total = SubTotal + TotalTax.
//   - Inclusive: LineAmount includes tax; tax = LineAmount × rate / (100 + rate);
//     SubTotal = Total − TotalTax.
//   - NoTax: no tax.
func computeTotals(o *org, inv *invoice) {
	var sum, tax, discount dec
	inv.discounted = false
	for i := range inv.lines {
		li := &inv.lines[i]
		rate := o.rates[strings.ToUpper(li.taxType)]
		switch {
		case inv.lineAmountTypes == "NoTax":
			li.taxAmount = dec{}
		case li.taxOverride != nil:
			li.taxAmount = *li.taxOverride
		case inv.lineAmountTypes == "Inclusive":
			li.taxAmount = li.lineAmount.Mul(rate).Quo(decInt(100).Add(rate)).Round(2)
		default:
			li.taxAmount = li.lineAmount.Mul(rate).Quo(decInt(100)).Round(2)
		}
		sum = sum.Add(li.lineAmount)
		tax = tax.Add(li.taxAmount)
		if li.discountRate != nil || li.discountAmount != nil {
			inv.discounted = true
			discount = discount.Add(li.quantity.Mul(li.unitAmount).Round(2).Sub(li.lineAmount))
		}
	}
	inv.totalTax = tax
	inv.totalDiscount = discount
	if inv.lineAmountTypes == "Inclusive" {
		inv.total = sum
		inv.subTotal = sum.Sub(tax)
	} else {
		inv.subTotal = sum
		inv.total = sum.Add(tax)
	}
}

// nextInvoiceNumber is the organisation's automatic sequence ("when missing
// will auto-generate from your Organisation Invoice Settings", spec
// Invoice.InvoiceNumber), skipping numbers already taken.
func (o *org) nextInvoiceNumber() string {
	for {
		o.nextInv++
		n := fmt.Sprintf("INV-%04d", o.nextInv)
		if o.accrecByNumber(n) == nil {
			return n
		}
	}
}
