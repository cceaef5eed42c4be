package outbox

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/xero"
)

//go:embed sql/dispatch_known_payments.sql
var knownPaymentsSQL string

// prepare turns claimed rows of one kind into items ready to send, or into outcomes:
//   - a row that cannot be mapped, or whose parent never reached Xero, fails before any call;
//   - a contact never linked is looked up in the contact directory, refreshed first (SPEC §1
//     linking; directory.go), and becomes an update of the contact found, or a create;
//   - a row whose last outcome is unknown is reconciled: found in Xero, it is done with that
//     id; not found, it is sent again (under a new key, its generation having moved on);
//   - an issue or payment whose entity already has a Xero id is done with it, unsent.
func (l *lane) prepare(ctx, callCtx context.Context, k kind, rows []*claimedRow, m *mappings) ([]*item, []outcome) {
	if ctx.Err() != nil {
		return nil, refundRows(rows)
	}
	p := &preparer{l: l, ctx: callCtx, m: m}
	if k == kindInvoice || k == kindPayment {
		rows = p.notInXero(rows)
	}
	switch k {
	case kindContact:
		p.contacts(rows)
	case kindInvoice:
		p.invoices(rows)
	case kindVoid:
		p.voids(rows)
	case kindPayment:
		p.payments(rows)
	}
	return p.items, p.outs
}

type preparer struct {
	l   *lane
	ctx context.Context
	m   *mappings

	mu    sync.Mutex
	items []*item
	outs  []outcome
}

func (p *preparer) ready(it *item) {
	p.mu.Lock()
	p.items = append(p.items, it)
	p.mu.Unlock()
}

// fail fails a row permanently before any request.
func (p *preparer) fail(r *claimedRow, err error) {
	code, msg := xero.CodeValidationError, err.Error()
	var re *rowError
	if errors.As(err, &re) {
		code, msg = re.code, re.msg
	}
	now := p.l.d.now()
	p.add(outcome{row: r, state: StateFailed, code: string(code), err: msg,
		history: historyEntry(r, now, "permanent", string(code), msg, "")})
}

// done finishes a row found in Xero by a reconcile or lookup.
func (p *preparer) done(r *claimedRow, xeroID string, link bool) {
	p.add(outcome{row: r, state: StateDone, xeroID: xeroID, link: link})
}

// readFailed maps the error of a lookup. Nothing was written, so nothing new is unknown.
func (p *preparer) readFailed(r *claimedRow, err error) {
	outs := p.l.failAll([]*item{{row: r}}, err, "")
	for i := range outs {
		outs[i].unknown = false
	}
	p.add(outs...)
}

func (p *preparer) add(o ...outcome) {
	p.mu.Lock()
	p.outs = append(p.outs, o...)
	p.mu.Unlock()
}

// parentMissing is the failure of a dependent whose parent has no Xero id although nothing
// of the parent is left to push: the parent's rows were cancelled, or never queued.
func parentMissing(r *claimedRow, what string) error {
	return invalid("%s %s cannot be pushed: its %s has no Xero id (the %s's outbox row was cancelled, or never queued); "+
		"push it first and retry this row, or cancel this row", r.entity, r.entityID, what, what)
}

func (p *preparer) contacts(rows []*claimedRow) {
	payloads := make(map[*claimedRow]ContactPayload, len(rows))
	var unlinked []ContactPayload // their contacts are looked up in the directory
	for _, r := range rows {
		var c ContactPayload
		if err := decodePayload(r.payload, &c); err != nil {
			p.fail(r, err)
			continue
		}
		if strings.TrimSpace(c.Name) == "" {
			p.fail(r, invalid("customer %s has no name; Xero requires a contact name", r.entityID))
			continue
		}
		if c.CustomerID == "" {
			c.CustomerID = r.entityID
		}
		if err := xero.CheckContact(contactElement(c, "")); err != nil { // over one of Xero's field limits: fails alone
			p.fail(r, invalid("customer %s: %v", r.entityID, err))
			continue
		}
		payloads[r] = c
		if r.ownXeroID == "" {
			unlinked = append(unlinked, c)
		}
	}
	// One refresh (If-Modified-Since) for the whole step, then local lookups: what an
	// accountant changed in Xero since the last one is seen before anything is linked or
	// created, and an unknown outcome of a create is reconciled by the same read (a contact
	// we made shows up with our number).
	var dir []dirContact
	var dirErr error
	if len(unlinked) > 0 {
		dir, dirErr = p.l.directoryFor(p.ctx, unlinked)
	}
	for _, r := range rows {
		c, ok := payloads[r]
		if !ok {
			continue // failed above
		}
		if r.ownXeroID != "" {
			// Linked: an update by ContactID. Updates are idempotent in effect, so an
			// unknown outcome needs no lookup; the resend has a new key.
			p.ready(&item{row: r, kind: kindContactUpdate, contact: contactElement(c, r.ownXeroID)})
			continue
		}
		if dirErr != nil {
			p.readFailed(r, dirErr)
			continue
		}
		m := matchContact(dir, c, r.reconcile)
		if m.by == "" {
			if m.ambiguous > 1 {
				p.l.log.Info("several xero contacts share the customer's email: none linked by email",
					"customer_id", c.CustomerID, "matches", m.ambiguous)
			}
			p.ready(&item{row: r, kind: kindContactCreate, contact: contactElement(c, "")})
			continue
		}
		if err := p.l.linkFound(p.ctx, r, c, m); err != nil {
			p.readFailed(r, err)
			continue
		}
		p.ready(&item{row: r, kind: kindContactUpdate, contact: contactElement(c, m.contact.ContactID)})
	}
}

// linkFound links a customer to the contact the directory found for it. Linking a contact we
// may not have made is SPEC §1's rule (the same email, or our own customer id as its
// number), so it is done on purpose, and said. The link is stored before the update with our
// fields is sent (SPEC §1): a crash between the two leaves the link, so the next attempt
// updates the same contact.
func (l *lane) linkFound(ctx context.Context, r *claimedRow, c ContactPayload, m contactMatch) error {
	l.log.Info("customer linked to an existing xero contact", "outbox_id", r.id, "customer_id", c.CustomerID,
		"xero_contact_id", m.contact.ContactID, "xero_contact_name", m.contact.Name, "matched_by", m.by)
	if err := l.link(ctx, EntityContact, r.entityID, m.contact.ContactID); err != nil {
		return err
	}
	r.ownXeroID = m.contact.ContactID
	return nil
}

// invoiceCheck is an invoice row being reconciled: what we would send (or, when the row
// cannot be mapped, what of it can still be compared), and the item to send if Xero holds
// nothing of ours under its number.
type invoiceCheck struct {
	r      *claimedRow
	number string
	want   xero.Invoice
	it     *item
	err    error // a mapping failure, reported if the reconcile finds nothing
}

func (p *preparer) invoices(rows []*claimedRow) {
	var recon []invoiceCheck
	for _, r := range rows {
		var inv InvoicePayload
		if err := decodePayload(r.payload, &inv); err != nil {
			p.fail(r, err)
			continue
		}
		el, err := invoiceElement(inv, r.parentXeroID, p.m)
		if err == nil && r.parentXeroID == "" {
			err = parentMissing(r, "customer's contact")
		}
		if err == nil {
			err = checkInvoice(el)
		}
		if !r.reconcile {
			if err != nil {
				p.fail(r, err)
				continue
			}
			p.ready(&item{row: r, kind: kindInvoice, invoice: el})
			continue
		}
		ic := invoiceCheck{r: r, number: inv.Number, want: el, err: err}
		if err == nil {
			ic.it = &item{row: r, kind: kindInvoice, invoice: el}
		} else {
			ic.want, _ = invoiceElement(inv, r.parentXeroID, nil) // compared without account and tax codes
		}
		recon = append(recon, ic)
	}
	if len(recon) == 0 {
		return
	}
	// Only what our app created can be ours (createdByMyApp), and only if it is what we
	// sent: a number is not an identity (SPEC §2).
	own, err := p.l.org.FindOwnInvoicesByNumber(p.ctx, numbersOf(recon))
	if err != nil {
		for _, ic := range recon {
			p.readFailed(ic.r, err)
		}
		return
	}
	byNumber := map[string][]xero.Invoice{}
	for _, inv := range own {
		byNumber[inv.InvoiceNumber] = append(byNumber[inv.InvoiceNumber], inv)
	}
	var refused []invoiceCheck
	for _, ic := range recon {
		if cands := byNumber[ic.number]; len(cands) > 0 {
			if inv, ok := matchInvoice(cands, ic.want); ok {
				p.done(ic.r, inv.InvoiceID, true)
				continue
			}
			p.numberInUse(ic.r, cands[0], "it was created by xerosync, but not from this invoice: "+invoiceDifference(cands[0], ic.want))
			continue
		}
		if ic.r.lastCode == string(xero.CodeInvoiceNumberInUse) {
			refused = append(refused, ic) // Xero refused the number, and none of ours holds it
			continue
		}
		p.sendOrFail(ic)
	}
	if len(refused) > 0 {
		p.numberHolders(refused)
	}
}

func numbersOf(ics []invoiceCheck) []string {
	out := make([]string, len(ics))
	for i, ic := range ics {
		out[i] = ic.number
	}
	return out
}

// sendOrFail sends an invoice that Xero does not hold, or fails it for the reason it could
// not be mapped.
func (p *preparer) sendOrFail(ic invoiceCheck) {
	if ic.err != nil {
		p.fail(ic.r, ic.err)
		return
	}
	p.ready(ic.it)
}

// numberHolders looks up who holds the numbers Xero refused as taken when none of our own
// invoices does: such a row fails InvoiceNumberInUse naming the holder, and nothing is
// linked to it. A number nobody holds any more (the holder was deleted) is sent again.
func (p *preparer) numberHolders(ics []invoiceCheck) {
	found, err := p.l.org.FindInvoicesByNumber(p.ctx, numbersOf(ics))
	if err != nil {
		for _, ic := range ics {
			p.readFailed(ic.r, err)
		}
		return
	}
	for _, ic := range ics {
		i := slices.IndexFunc(found, func(inv xero.Invoice) bool { return inv.InvoiceNumber == ic.number })
		if i < 0 {
			p.sendOrFail(ic)
			continue
		}
		p.numberInUse(ic.r, found[i], "xerosync did not create it")
	}
}

// numberInUse fails a row whose number Xero holds for an invoice that is not this one.
func (p *preparer) numberInUse(r *claimedRow, holder xero.Invoice, why string) {
	p.fail(r, &rowError{code: xero.CodeInvoiceNumberInUse, msg: numberHeld(holder, why)})
}

func numberHeld(holder xero.Invoice, why string) string {
	contact := ""
	if holder.Contact != nil {
		contact = cmp.Or(holder.Contact.Name, holder.Contact.ContactID)
	}
	return fmt.Sprintf("Xero already holds invoice number %q: InvoiceID %s, contact %q, %s, total %s %s; %s. "+
		"Nothing was linked, paid or voided in its place. Renumber one of the two (in Xero, or a new number in Softbooq), then retry this row; or cancel it",
		holder.InvoiceNumber, holder.InvoiceID, contact, cmp.Or(holder.Status, "status unknown"), holder.CurrencyCode, holder.Total, why)
}

// notInXero finishes the rows whose entity Xero already holds (xerosync.entities has its
// id) and returns the others: an invoice is issued once and a payment made once, whatever
// happened to the row (set back to pending by hand, queued again after the outbox was
// pruned). Nothing is sent for them.
func (p *preparer) notInXero(rows []*claimedRow) []*claimedRow {
	var rest []*claimedRow
	for _, r := range rows {
		if r.ownXeroID == "" {
			rest = append(rest, r)
			continue
		}
		p.l.log.Info("outbox row's entity is already in xero: not sent again",
			"outbox_id", r.id, "entity", r.entity, "entity_id", r.entityID, "action", r.action, "xero_id", r.ownXeroID)
		p.done(r, r.ownXeroID, false)
	}
	return rest
}

// checkInvoice refuses what the client would refuse for the whole batch, so that one bad
// row fails alone.
func checkInvoice(inv xero.Invoice) error {
	if err := xero.CheckInvoice(inv); err != nil {
		return invalid("invoice %s: %v", inv.InvoiceNumber, err)
	}
	return nil
}

func (p *preparer) voids(rows []*claimedRow) {
	var recon []*claimedRow
	for _, r := range rows {
		var v VoidPayload
		if err := decodePayload(r.payload, &v); err != nil {
			p.fail(r, err)
			continue
		}
		if r.parentXeroID == "" {
			p.fail(r, parentMissing(r, "invoice"))
			continue
		}
		if r.reconcile {
			recon = append(recon, r)
			continue
		}
		p.ready(&item{row: r, kind: kindVoid, voidID: r.parentXeroID})
	}
	if len(recon) == 0 {
		return
	}
	// Voids whose outcome is unknown: their invoices read together, by id (one call per
	// 50), never one call a row. A voided invoice is done; any other is voided again.
	found, err := p.invoicesByID(recon)
	if err != nil {
		for _, r := range recon {
			p.readFailed(r, err)
		}
		return
	}
	for _, r := range recon {
		if inv, ok := found[strings.ToLower(r.parentXeroID)]; ok && inv.Status == "VOIDED" {
			p.done(r, inv.InvoiceID, false)
			continue
		}
		p.ready(&item{row: r, kind: kindVoid, voidID: r.parentXeroID})
	}
}

// invoicesByID reads the parent invoices of rows in one call per 50 (GET /Invoices?IDs=…),
// with their payments, keyed by lower-cased InvoiceID.
func (p *preparer) invoicesByID(rows []*claimedRow) (map[string]xero.Invoice, error) {
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.parentXeroID)
	}
	invs, err := p.l.org.FindInvoicesByID(p.ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]xero.Invoice, len(invs))
	for _, inv := range invs {
		out[strings.ToLower(inv.InvoiceID)] = inv
	}
	return out, nil
}

func (p *preparer) payments(rows []*claimedRow) {
	type pending struct {
		r   *claimedRow
		el  xero.Payment
		err error
	}
	byInvoice := map[string][]pending{}
	var order []string
	var recon []*claimedRow
	for _, r := range rows {
		var pm PaymentPayload
		if err := decodePayload(r.payload, &pm); err != nil {
			p.fail(r, err)
			continue
		}
		if r.parentXeroID == "" {
			p.fail(r, parentMissing(r, "invoice"))
			continue
		}
		el, err := paymentElement(pm, r.parentXeroID, p.m)
		if err == nil {
			err = checkPayment(pm, el)
		}
		if !r.reconcile {
			if err != nil {
				p.fail(r, err)
				continue
			}
			p.ready(&item{row: r, kind: kindPayment, payment: el})
			continue
		}
		key := strings.ToLower(r.parentXeroID)
		if _, ok := byInvoice[key]; !ok {
			order = append(order, key)
		}
		byInvoice[key] = append(byInvoice[key], pending{r: r, el: el, err: err})
		recon = append(recon, r)
	}
	if len(recon) == 0 {
		return
	}
	// Payments whose outcome is unknown: their invoices read together with their payments
	// (GET /Invoices?IDs=…, one call per 50 invoices), never one call a row or an invoice.
	invs, err := p.invoicesByID(recon)
	if err != nil {
		for _, r := range recon {
			p.readFailed(r, err)
		}
		return
	}
	for _, invoiceID := range order {
		pds := byInvoice[invoiceID]
		found, err := p.readUnlinkedPayments(invs[invoiceID].Payments)
		if err != nil {
			for _, pd := range pds {
				p.readFailed(pd.r, err)
			}
			continue
		}
		want := make([]xero.Payment, len(pds))
		for i, pd := range pds {
			want[i] = pd.el
		}
		matched := matchPayments(found, want)
		for i, pd := range pds {
			if m := matched[i]; m >= 0 {
				p.done(pd.r, found[m].PaymentID, true)
				continue
			}
			if pd.err != nil {
				p.fail(pd.r, pd.err)
				continue
			}
			p.ready(&item{row: pd.r, kind: kindPayment, payment: pd.el})
		}
	}
}

// readUnlinkedPayments drops the payments already linked to a Softbooq payment
// (unlinkedPayments).
func (p *preparer) readUnlinkedPayments(found []xero.Payment) ([]xero.Payment, error) {
	if len(found) == 0 {
		return nil, nil
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.PaymentID
	}
	rows, err := p.l.d.cfg.DB.Query(p.ctx, knownPaymentsSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("read linked payments: %w", err)
	}
	linked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read linked payments: %w", err)
	}
	return unlinkedPayments(found, linked), nil
}

// checkPayment refuses what the client would refuse for the whole batch.
func checkPayment(pm PaymentPayload, el xero.Payment) error {
	if err := xero.CheckPayment(el); err != nil {
		return invalid("payment %s: %v", pm.PaymentID, err)
	}
	return nil
}
