package outbox

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/softbooq/xerosync/xero"
)

//go:embed sql/dispatch_name_holder.sql
var nameHolderSQL string

// item is a row ready to be sent: its request element is built and its links are known.
type item struct {
	row     *claimedRow
	kind    kind
	contact xero.Contact
	invoice xero.Invoice
	voidID  string
	payment xero.Payment
}

// element is what the item puts in its request.
func (it *item) element() any {
	switch it.kind {
	case kindContactCreate, kindContactUpdate:
		return it.contact
	case kindInvoice:
		return it.invoice
	case kindVoid:
		return it.voidID
	}
	return it.payment
}

// size is the item's element's length as JSON, as the client will encode it.
func (it *item) size() int {
	b, _ := json.Marshal(it.element()) // strings, decimals and dates: cannot fail
	return len(b)
}

// label names the item's record for an operator: the invoice number, the contact's name,
// else the Softbooq id.
func (it *item) label() string {
	switch it.kind {
	case kindInvoice:
		return it.invoice.InvoiceNumber
	case kindContactCreate, kindContactUpdate:
		return fmt.Sprintf("%q", it.contact.Name)
	}
	return it.row.entityID
}

// idempotencyKey binds a key to one exact request (XERO.md §0 items 6–7): the rows it
// carries, each at its key generation, and a hash of the elements sent. An identical retry
// (after a 429, say) reuses the key, so Xero replays instead of acting twice; two different
// rows with identical bodies (two equal payments) never share one, because their ids differ;
// and after an unknown outcome the generation moves on, so the resend after a reconcile is a
// new request to Xero (which caches errors under the old key).
func idempotencyKey(tenant string, k kind, items []*item, elems any) string {
	h := sha256.New()
	fmt.Fprintf(h, "xerosync/1\n%s\n%s\n", tenant, k)
	for _, it := range items {
		fmt.Fprintf(h, "%d:%d\n", it.row.id, it.row.generation)
	}
	body, _ := json.Marshal(elems) // the client marshals the same values; cannot fail
	h.Write(body)
	return "xerosync-" + hex.EncodeToString(h.Sum(nil))
}

// send makes one batch request and maps each element's result back to its row by position.
func (l *lane) send(ctx, callCtx context.Context, k kind, batch []*item) []outcome {
	if ctx.Err() != nil || l.stopped.Load() {
		return refundAll(batch)
	}
	var elems any // what the key is derived from: the request's elements
	var call func(key string) []outcome
	switch k {
	case kindContactCreate, kindContactUpdate:
		cs := elemsOf(batch, func(it *item) xero.Contact { return it.contact })
		elems, call = cs, func(key string) []outcome {
			if k == kindContactCreate {
				res, err := l.org.CreateContacts(callCtx, xero.CreateContactsParams{Contacts: cs, IdempotencyKey: key})
				rememberWritten(l, res)
				return l.linkRefused(callCtx, batch, mapResults(l, batch, res, err, key), key)
			}
			res, err := l.org.UpdateContacts(callCtx, xero.UpdateContactsParams{Contacts: cs, IdempotencyKey: key})
			rememberWritten(l, res)
			return mapResults(l, batch, res, err, key)
		}
	case kindInvoice:
		invs := elemsOf(batch, func(it *item) xero.Invoice { return it.invoice })
		elems, call = invs, func(key string) []outcome {
			res, err := l.org.CreateInvoices(callCtx, xero.CreateInvoicesParams{Invoices: invs, IdempotencyKey: key})
			return mapResults(l, batch, res, err, key)
		}
	case kindVoid:
		ids := elemsOf(batch, func(it *item) string { return it.voidID })
		elems, call = ids, func(key string) []outcome {
			res, err := l.org.VoidInvoices(callCtx, xero.VoidInvoicesParams{InvoiceIDs: ids, IdempotencyKey: key})
			return mapResults(l, batch, res, err, key)
		}
	case kindPayment:
		ps := elemsOf(batch, func(it *item) xero.Payment { return it.payment })
		elems, call = ps, func(key string) []outcome {
			res, err := l.org.CreatePayments(callCtx, xero.CreatePaymentsParams{Payments: ps, IdempotencyKey: key})
			return mapResults(l, batch, res, err, key)
		}
	default:
		return refundAll(batch)
	}
	key := idempotencyKey(l.tenant, k, batch, elems)
	if err := l.setKeys(batch, key); err != nil {
		// Nothing is sent under a key that is not stored with its rows.
		l.log.Warn("not sending: idempotency key not stored", "error", err)
		return refundAll(batch)
	}
	return call(key)
}

// elemsOf is the request elements of a batch.
func elemsOf[T any](batch []*item, f func(*item) T) []T {
	out := make([]T, len(batch))
	for i, it := range batch {
		out[i] = f(it)
	}
	return out
}

// A contact number Xero already has: on a first send this means an earlier attempt created
// it (the number is the Softbooq customer id, so nobody else's), so the row is reconciled,
// which links it, instead of failing.
var reContactNumberTaken = regexp.MustCompile(`(?i)contact\s+number\b.*\balready\s+(been\s+)?assigned`)

// mapResults turns a batch response into outcomes, element i for batch[i].
func mapResults[T any](l *lane, batch []*item, res []xero.ElementResult[T], err error, key string) []outcome {
	if err != nil {
		return l.failAll(batch, err, key)
	}
	now := l.d.now()
	outs := make([]outcome, len(batch))
	for i, it := range batch {
		r := res[i]
		if r.OK() {
			outs[i] = outcome{row: it.row, state: StateDone, xeroID: r.XeroID, link: it.kind != kindVoid}
			continue
		}
		code, msg := string(r.Code), strings.Join(r.ValidationErrors, "; ")
		if it.kind == kindInvoice && r.Code == xero.CodeInvoiceNumberInUse {
			outs[i] = numberTaken(it.row, now, msg, key)
			continue
		}
		if it.kind == kindContactCreate && reContactNumberTaken.MatchString(msg) && !it.row.reconcile {
			outs[i] = outcome{row: it.row, state: StatePending, nextAt: now, unknown: true,
				err:     msg + " (looking it up in Xero before sending again)",
				history: historyEntry(it.row, now, "reconcile", code, msg, key)}
			continue
		}
		if r.Code == xero.CodeContactNameInUse {
			msg += "; " + nameHolderIn(l, it.row, it.contact.Name, batch, res)
		}
		outs[i] = outcome{row: it.row, state: StateFailed, code: code, err: msg,
			history: historyEntry(it.row, now, "permanent", code, msg, key)}
	}
	return outs
}

// linkRefused turns the creates Xero refused because a contact already holds their name
// (ContactNameInUse) or number into links, when the refreshed directory shows a contact that
// SPEC §1 lets us link (our number, or the customer's email): an accountant made it in Xero
// meanwhile, or it is our own lost create. The row is then linked and stays pending; its next
// attempt updates that contact. A name held by a contact we may not link still fails the row
// (nameHolder says whose it is). One refresh serves the whole batch.
func (l *lane) linkRefused(ctx context.Context, batch []*item, outs []outcome, key string) []outcome {
	var refused []int
	for i, o := range outs {
		if (o.state == StateFailed && o.code == string(xero.CodeContactNameInUse)) ||
			(o.unknown && reContactNumberTaken.MatchString(o.err)) {
			refused = append(refused, i)
		}
	}
	if len(refused) == 0 || ctx.Err() != nil {
		return outs
	}
	cs := make([]ContactPayload, len(refused))
	for j, i := range refused {
		el := batch[i].contact
		cs[j] = ContactPayload{CustomerID: el.ContactNumber, ContactFields: ContactFields{Name: el.Name, Email: el.EmailAddress}}
	}
	now := l.d.now()
	dir, err := l.directoryFor(ctx, cs)
	if err != nil {
		// Not known yet whether a contact may be linked: try again later instead of
		// failing a row that may link.
		for _, i := range refused {
			r := batch[i].row
			outs[i] = outcome{row: r, state: StatePending, nextAt: now.Add(backoff(r.attempts, 0)), unknown: outs[i].unknown,
				err:     outs[i].err + " (the contact directory could not be refreshed to look for a contact to link: " + err.Error() + ")",
				history: historyEntry(r, now, "transient", outs[i].code, err.Error(), key)}
		}
		return outs
	}
	for j, i := range refused {
		m := matchContact(dir, cs[j], true)
		if m.by == "" {
			continue
		}
		it := batch[i]
		if err := l.linkFound(ctx, it.row, cs[j], m); err != nil {
			continue // the outcome stands: a number taken is reconciled, a name fails
		}
		msg := fmt.Sprintf("Xero refused the create (%s); linked instead to the existing contact %s (%q), found by %s; its update follows",
			outs[i].err, m.contact.ContactID, m.contact.Name, m.by)
		outs[i] = outcome{row: it.row, state: StatePending, nextAt: now, err: msg,
			history: historyEntry(it.row, now, "linked", outs[i].code, msg, key)}
	}
	return outs
}

// numberTaken is the outcome of an invoice whose number Xero refused as taken: our own
// earlier create, whose answer was lost, or somebody else's invoice. The reconcile tells
// them apart (reconcile.go) and links only ours. After a reconcile that found neither, the
// next try waits its backoff, so a number Xero refuses without showing its holder cannot
// spin.
func numberTaken(r *claimedRow, now time.Time, msg, key string) outcome {
	next := now
	if r.reconcile {
		next = now.Add(backoff(r.attempts, 0))
	}
	code := string(xero.CodeInvoiceNumberInUse)
	return outcome{row: r, state: StatePending, nextAt: next, unknown: true, code: code,
		err:     msg + " (looking up who holds the number before anything else is sent)",
		history: historyEntry(r, now, "reconcile", code, msg, key)}
}

// failAll maps an error of the whole request to each of its rows.
func (l *lane) failAll(batch []*item, err error, key string) []outcome {
	now := l.d.now()
	outs := make([]outcome, len(batch))
	class := xero.Classify(err)
	switch class {
	case xero.ClassAuth:
		l.authFailed(err)
		return refundAll(batch)
	case xero.ClassRateLimited:
		var retryAfter time.Duration
		if rl := (*xero.RateLimitError)(nil); errors.As(err, &rl) {
			retryAfter = rl.RetryAfter
		}
		retry := backoff(1, retryAfter)
		for i, it := range batch {
			outs[i] = outcome{row: it.row, state: StatePending, nextAt: now.Add(retry), err: err.Error(),
				history: historyEntry(it.row, now, class.String(), "", err.Error(), key)}
		}
		return outs
	case xero.ClassPermanent:
		if errors.Is(err, xero.ErrIdempotencyKeyReused) {
			// Our key derivation makes this impossible; if it happens anyway, what Xero did
			// is unknown: reconcile, and the next send has a new key.
			break
		}
		var api *xero.APIError
		perElement := errors.As(err, &api) && len(api.Elements) == len(batch) && len(batch) > 1
		whole, wholeMsg := string(xero.CodeOf(err)), xeroMessage(err)
		for i, it := range batch {
			code, msg := whole, wholeMsg
			if perElement {
				msgs := api.Elements[i].ValidationErrors
				if len(msgs) == 0 {
					// Behind a 400, Xero still saves the valid elements (XERO.md §0 item 11).
					outs[i] = outcome{row: it.row, state: StatePending, nextAt: now, unknown: true, err: msg,
						history: historyEntry(it.row, now, "unknown", code, msg, key)}
					continue
				}
				code, msg = string(xero.CodeForMessages(msgs)), strings.Join(msgs, "; ")
			}
			if it.kind == kindInvoice && code == string(xero.CodeInvoiceNumberInUse) {
				outs[i] = numberTaken(it.row, now, msg, key)
				continue
			}
			outs[i] = outcome{row: it.row, state: StateFailed, code: code, err: msg,
				history: historyEntry(it.row, now, "permanent", code, msg, key)}
		}
		return outs
	}
	// Transient: network, timeout, 5xx, organisation offline, or anything unrecognised.
	unknown := errors.Is(err, xero.ErrOutcomeUnknown) || errors.Is(err, xero.ErrIdempotencyKeyReused)
	cls := "transient"
	if unknown {
		cls = "unknown"
	}
	for i, it := range batch {
		outs[i] = outcome{row: it.row, state: StatePending, nextAt: now.Add(backoff(it.row.attempts, 0)),
			unknown: unknown, err: err.Error(), history: historyEntry(it.row, now, cls, "", err.Error(), key)}
	}
	return outs
}

// xeroMessage is the human part of an error: Xero's validation messages when it sent any.
func xeroMessage(err error) string {
	var api *xero.APIError
	if errors.As(err, &api) {
		if len(api.ValidationErrors) > 0 {
			return strings.Join(api.ValidationErrors, "; ")
		}
		if api.Message != "" {
			return api.Message
		}
	}
	return err.Error()
}

// refundAll puts a batch's rows back to pending as if they had not been claimed.
func refundAll(batch []*item) []outcome {
	return refundRows(elemsOf(batch, func(it *item) *claimedRow { return it.row }))
}

// refundRows puts rows back to pending as if they had not been claimed: nothing was sent.
func refundRows(rows []*claimedRow) []outcome {
	outs := make([]outcome, len(rows))
	for i, r := range rows {
		outs[i] = outcome{row: r, state: StatePending, refund: true}
	}
	return outs
}

// nameHolderIn is nameHolder that first looks among this request's own elements, one of which
// may have been created just before r.
func nameHolderIn[T any](l *lane, r *claimedRow, name string, batch []*item, res []xero.ElementResult[T]) string {
	// The holder may be an element of this very request, created just before this one.
	for i, it := range batch {
		if it.row != r && res[i].OK() && strings.EqualFold(strings.TrimSpace(it.contact.Name), strings.TrimSpace(name)) {
			return nameHeld(name, res[i].XeroID, it.row.entityID)
		}
	}
	return l.nameHolder(r, name)
}

func nameHeld(name, contactID, customer string) string {
	return fmt.Sprintf("the name %q is held by the Xero contact %s, linked to Softbooq customer %s; rename one of the customers (or archive the other contact in Xero), then retry",
		name, contactID, customer)
}

// nameHolder says who holds a contact name Xero refused as in use (ContactNameInUse): the
// contact of another Softbooq customer we pushed with that name, or one made in Xero itself.
func (l *lane) nameHolder(r *claimedRow, name string) string {
	ctx, cancel := l.detached()
	defer cancel()
	var customer, contactID string
	err := l.d.cfg.DB.QueryRow(ctx, nameHolderSQL, l.tenant, r.entityID, name).Scan(&customer, &contactID)
	if err == nil {
		return nameHeld(name, contactID, customer)
	}
	return fmt.Sprintf("the name %q is held by an active Xero contact not linked to any Softbooq customer (made in Xero directly); rename or archive it in Xero, or rename the customer, then retry", name)
}
