package outbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/softbooq/xerosync/cdc"
)

// The enqueuer's decisions, apart from its I/O (STYLE 15): planLoads says what to read of
// xerosync's own state, planReads what to read of Softbooq's tables, and plan which outbox
// rows a chunk of changes produces, over what was read. None of them does I/O or logs; they
// are table-tested without PostgreSQL in plan_test.go.

// loaded is what one chunk's plan needs, read by Enqueuer.load.
type loaded struct {
	connected map[string]window          // tenants with a capture window
	states    map[entityKey]*entityState // what was last queued of the entities
	customers map[string]ContactFields   // current rows read from crm.customers
	invoices  map[string]*InvoicePayload // current rows read from finance.invoices, with lines
}

// planNote is what plan has to say about a change it skips or queues incomplete; Apply logs it.
type planNote struct {
	level slog.Level
	msg   string
	attrs []any
}

// planned is what plan decides for a chunk.
type planned struct {
	rows     []row        // in change order, each with its (commit_lsn, commit_idx)
	entities entityStates // the invoice states to store, by entity and id
	notes    []planNote
}

// planner is one plan's working state.
type planner struct {
	*loaded
	planned
}

// plan decides the outbox rows of changes over what load read: contact upserts only when a
// Xero-held field changed (the hash), an invoice's issue once and its contact first when it
// was never queued, a void only after an issue, a payment only for an issued invoice, and
// nothing for tenants outside their window or for deletes. It updates l.states with what it
// queues, and numbers the rows of each source transaction through its Txn.Seq, which cdc
// keeps across the chunks of one transaction.
func plan(l *loaded, changes []cdc.Change) planned {
	c := &planner{loaded: l}
	for i := range changes {
		c.change(&changes[i])
	}
	keys := make([]entityKey, 0, len(l.states))
	for k, st := range l.states {
		if st.dirty {
			keys = append(keys, k)
		}
	}
	// In key order: the same statement from two processes then locks in the same order.
	slices.SortFunc(keys, func(a, b entityKey) int {
		return cmp.Or(strings.Compare(a.entity, b.entity), strings.Compare(a.id, b.id))
	})
	for _, k := range keys {
		st := l.states[k]
		c.entities.add(k.entity, k.id, st.tenant, st.issued, st.voided)
	}
	return c.planned
}

func (c *planner) note(level slog.Level, msg string, attrs ...any) {
	c.notes = append(c.notes, planNote{level: level, msg: msg, attrs: attrs})
}

// loadKeys are the tenants and entities whose state a chunk's plan needs.
type loadKeys struct {
	tenants, contacts, invoices []string
}

// planLoads lists what load reads of xerosync's state for changes: the tenants of relevant
// changes (their windows), the contacts of updated customers and of invoices (their last
// queued hash, whether they are linked), and the invoices of invoice and payment changes
// (whether issued or voided).
func planLoads(changes []cdc.Change) loadKeys {
	tenants := set{}
	contacts, invoiceIDs := set{}, set{}
	for i := range changes {
		ch := &changes[i]
		src, t, ok := relevant(ch)
		if !ok {
			continue
		}
		tenants.add(t)
		switch src {
		case customers:
			// An inserted customer is new: there is nothing to compare it with.
			if ch.Op == cdc.Update {
				contacts.add(ch.Get("id").Text)
			}
		case invoices:
			invoiceIDs.add(ch.Get("id").Text)
			contacts.add(ch.Get("customer_id").Text)
		case payments:
			invoiceIDs.add(ch.Get("invoice_id").Text)
		}
	}
	if len(tenants) == 0 {
		return loadKeys{}
	}
	return loadKeys{tenants: tenants.list(), contacts: contacts.list(), invoices: invoiceIDs.list()}
}

// sourceReads is what must be read from Softbooq's tables for a chunk.
type sourceReads struct {
	customers, invoices []string
	xids                []uint32 // the source transactions those reads are for, each once
}

// planReads decides what must be read from the source tables: customers whose update sent
// unchanged TOAST (the WAL leaves the value out) or whose contact was never queued (an
// invoice needs it), and the invoices that may be issued here; and for which source
// transactions, so that load can wait until they are visible.
func planReads(l *loaded, changes []cdc.Change) sourceReads {
	needCustomers, needInvoices := set{}, set{}
	var r sourceReads
	// A transaction's changes are contiguous, so comparing with the last one added keeps
	// each once.
	readFrom := func(xid uint32) {
		if n := len(r.xids); n == 0 || r.xids[n-1] != xid {
			r.xids = append(r.xids, xid)
		}
	}
	for i := range changes {
		ch := &changes[i]
		src, t, ok := relevant(ch)
		if !ok || !l.queues(t, ch) {
			continue
		}
		switch src {
		case customers:
			if hasUnchanged(ch) {
				needCustomers.add(ch.Get("id").Text)
				readFrom(ch.Txn.Xid)
			}
		case invoices:
			id := ch.Get("id").Text
			if st := l.states[entityKey{EntityInvoice, id}]; (st == nil || !st.issued) && issuedStatus(ch.Get("status").Text) {
				needInvoices.add(id)
				readFrom(ch.Txn.Xid)
				if cs := l.states[entityKey{EntityContact, ch.Get("customer_id").Text}]; cs == nil || !cs.known() {
					needCustomers.add(ch.Get("customer_id").Text)
				}
			}
		}
	}
	if len(needCustomers) > 0 {
		r.customers = needCustomers.list()
	}
	if len(needInvoices) > 0 {
		r.invoices = needInvoices.list()
	}
	return r
}

type entityKey struct{ entity, id string }

// entityState is what a chunk knows of an entity's past; plan updates it with what it queues.
type entityState struct {
	tenant         string
	hash           []byte // contact: hash of the fields last queued; nil: none in the outbox
	issued, voided bool   // invoice
	stored         bool   // a row exists in xerosync.entities (a contact's: it is linked)
	dirty          bool   // an invoice state to write
}

// known reports whether a contact was ever queued or linked.
func (st *entityState) known() bool { return st.hash != nil || st.stored }

// contactChanged reports whether a contact's fields, hashed by ContactUpsert, differ from the
// ones last queued: the one rule, for capture and resync, of whether a customer's change
// is Xero's business (notes or updated_at alone are not).
func (st *entityState) contactChanged(hash []byte) bool { return !bytes.Equal(st.hash, hash) }

// row is one outbox row to write (writeRows).
type row struct {
	tenant, entity, id, action string
	dependsEntity, dependsID   string
	body                       []byte // the payload's JSON
	hash                       []byte
	lsn                        pglogrepl.LSN // 0: none (backfill), since no commit is at 0/0
	idx                        int
	source                     string // "": sourceWAL
}

func optText(v cdc.Value) *string {
	if v.Kind != cdc.Text {
		return nil
	}
	s := v.Text
	return &s
}

// source is a Softbooq table whose changes the enqueuer acts on.
type source uint8

const (
	notSource source = iota // another table (invoice lines are read from the table instead)
	customers
	invoices
	payments
)

// sourceOf names the Softbooq table a change is of, by schema and name: a table of the same
// name in another schema (a staging copy someone added to the publication) is not Softbooq's.
func sourceOf(ch *cdc.Change) source {
	switch {
	case ch.Schema == "crm" && ch.Table == "customers":
		return customers
	case ch.Schema == "finance" && ch.Table == "invoices":
		return invoices
	case ch.Schema == "finance" && ch.Table == "payments":
		return payments
	}
	return notSource
}

// relevant reports whether a change is one the enqueuer acts on, its table and its tenant.
func relevant(ch *cdc.Change) (src source, tenant string, ok bool) {
	src = sourceOf(ch)
	if ch.Op == cdc.Delete || src == notSource {
		return notSource, "", false
	}
	v := ch.Get("tenant_id")
	return src, v.Text, v.Kind == cdc.Text
}

// window is the WAL range in which a tenant's changes are queued.
type window struct {
	from  pglogrepl.LSN
	until pglogrepl.LSN // 0: open
}

// queues reports whether a change of tenant is queued: it committed while the tenant was
// connected.
func (l *loaded) queues(tenant string, ch *cdc.Change) bool {
	w, ok := l.connected[tenant]
	lsn := ch.Txn.CommitLSN
	return ok && lsn >= w.from && (w.until == 0 || lsn < w.until)
}

func issuedStatus(s string) bool { return s == "issued" || s == "paid" }

// contactText maps the customer columns that hold a contact's text fields to those fields;
// archived_at, the last Xero-held column, becomes ContactFields.Archived.
var contactText = []struct {
	col   string
	field func(*ContactFields) *string
}{
	{"name", func(f *ContactFields) *string { return &f.Name }},
	{"first_name", func(f *ContactFields) *string { return &f.FirstName }},
	{"last_name", func(f *ContactFields) *string { return &f.LastName }},
	{"email", func(f *ContactFields) *string { return &f.Email }},
	{"phone", func(f *ContactFields) *string { return &f.Phone }},
	{"tax_number", func(f *ContactFields) *string { return &f.TaxNumber }},
	{"address_line1", func(f *ContactFields) *string { return &f.AddressLine1 }},
	{"address_line2", func(f *ContactFields) *string { return &f.AddressLine2 }},
	{"city", func(f *ContactFields) *string { return &f.City }},
	{"region", func(f *ContactFields) *string { return &f.Region }},
	{"postal_code", func(f *ContactFields) *string { return &f.PostalCode }},
	{"country_code", func(f *ContactFields) *string { return &f.CountryCode }},
}

// hasUnchanged reports whether a Xero-held column came as unchanged TOAST.
func hasUnchanged(ch *cdc.Change) bool {
	for _, c := range contactText {
		if ch.Get(c.col).Kind == cdc.Unchanged {
			return true
		}
	}
	return ch.Get("archived_at").Kind == cdc.Unchanged
}

// contactFields builds the Xero-held fields from a customer row; a column sent as unchanged
// TOAST takes its value from prev, the row as it is in the table now. That value is the
// one at commit, or a later one that a later change (captured after this one) also carries:
// pushing it a little early changes nothing in the end.
func contactFields(ch *cdc.Change, prev ContactFields) ContactFields {
	f := prev
	for _, c := range contactText {
		switch v := ch.Get(c.col); v.Kind {
		case cdc.Text:
			*c.field(&f) = v.Text
		case cdc.Null:
			*c.field(&f) = ""
		}
	}
	if col := ch.Get("archived_at"); col.Kind != cdc.Unchanged {
		f.Archived = col.Kind == cdc.Text
	}
	if f.CountryCode != "" && len(f.CountryCode) == 2 && f.CountryCode[1] == ' ' {
		f.CountryCode = f.CountryCode[:1] // char(2) pads a one-letter value
	}
	return f
}

func (c *planner) state(entity, id, tenant string) *entityState {
	k := entityKey{entity, id}
	st := c.states[k]
	if st == nil {
		st = &entityState{}
		c.states[k] = st
	}
	st.tenant = tenant
	return st
}

// queueAs queues a row with payload marshalled as its body (contacts marshal their own, to
// hash it).
func (c *planner) queueAs(ch *cdc.Change, r row, payload any) {
	r.body, _ = json.Marshal(payload) // strings, string pointers and ints: cannot fail
	c.queue(ch, r)
}

func (c *planner) queue(ch *cdc.Change, r row) {
	r.lsn = ch.Txn.CommitLSN
	r.idx = ch.Txn.Seq
	ch.Txn.Seq++
	c.rows = append(c.rows, r)
}

func (c *planner) change(ch *cdc.Change) {
	if ch.Op == cdc.Delete {
		// Nothing is deleted in Xero (SPEC §1). The WAL carries only the key.
		c.note(slog.LevelInfo, "row deleted in softbooq: nothing is deleted in xero", "table", ch.Schema+"."+ch.Table, "id", ch.Get("id").Text)
		return
	}
	src, tenant, ok := relevant(ch)
	if !ok || !c.queues(tenant, ch) {
		return
	}
	switch src {
	case customers:
		c.customer(ch, tenant)
	case invoices:
		c.invoice(ch, tenant)
	case payments:
		c.payment(ch, tenant)
	}
}

func (c *planner) customer(ch *cdc.Change, tenant string) {
	id := ch.Get("id").Text
	st := c.state(EntityContact, id, tenant)
	f := contactFields(ch, c.customers[id]) // read only when a column is unchanged TOAST
	c.upsertContact(ch, st, id, tenant, f)
}

// upsertContact queues a contact upsert unless the fields are the ones last queued (nothing
// Xero holds changed: notes, updated_at, ...).
func (c *planner) upsertContact(ch *cdc.Change, st *entityState, id, tenant string, f ContactFields) {
	body, hash := ContactUpsert(id, f)
	if !st.contactChanged(hash) {
		return
	}
	st.hash = hash
	c.queue(ch, row{tenant: tenant, entity: EntityContact, id: id, action: ActionUpsert, body: body, hash: hash})
}

func (c *planner) invoice(ch *cdc.Change, tenant string) {
	id, status := ch.Get("id").Text, ch.Get("status").Text
	st := c.state(EntityInvoice, id, tenant)
	switch {
	case issuedStatus(status) && !st.issued:
		customer := ch.Get("customer_id").Text
		cs := c.state(EntityContact, customer, tenant)
		if !cs.known() {
			// The customer was never queued (created before the tenant connected): its
			// contact must exist in Xero before the invoice.
			if f, ok := c.customers[customer]; ok {
				c.upsertContact(ch, cs, customer, tenant, f)
			} else {
				// Its transaction is visible (awaitVisible): the customer was deleted since.
				c.note(slog.LevelWarn, "invoice's customer deleted since: invoice queued without its contact", "invoice_id", id, "customer_id", customer)
			}
		}
		p := c.invoicePayload(ch, id, customer, status)
		st.issued, st.dirty = true, true
		c.queueAs(ch, row{tenant: tenant, entity: EntityInvoice, id: id, action: ActionIssue,
			dependsEntity: EntityContact, dependsID: customer}, p)
	case status == "void" && st.issued && !st.voided:
		st.voided, st.dirty = true, true
		number := ch.Get("number")
		if number.Kind != cdc.Text && c.invoices[id] != nil {
			number.Text = c.invoices[id].Number
		}
		c.queueAs(ch, row{tenant: tenant, entity: EntityInvoice, id: id, action: ActionVoid,
			dependsEntity: EntityInvoice, dependsID: id}, VoidPayload{InvoiceID: id, Number: number.Text})
	}
}

// invoicePayload takes the header from the WAL tuple (values at commit) and, for unchanged
// TOAST values, from the table; the lines always from the table.
func (c *planner) invoicePayload(ch *cdc.Change, id, customer, status string) InvoicePayload {
	p := InvoicePayload{InvoiceID: id, CustomerID: customer, Status: status, Lines: []InvoiceLine{}}
	db := c.invoices[id]
	if db == nil {
		db = &InvoicePayload{}
		// Its transaction is visible (awaitVisible): the invoice was deleted since.
		c.note(slog.LevelWarn, "issued invoice deleted since: queued without lines", "invoice_id", id)
	} else {
		p.Lines = db.Lines
	}
	pick := func(v cdc.Value, fallback string) string {
		if v.Kind == cdc.Unchanged {
			return fallback
		}
		return v.Text
	}
	pickOpt := func(v cdc.Value, fallback *string) *string {
		if v.Kind == cdc.Unchanged {
			return fallback
		}
		return optText(v)
	}
	p.Number = pick(ch.Get("number"), db.Number)
	p.Currency = pick(ch.Get("currency"), db.Currency)
	p.AmountsTax = pick(ch.Get("amounts_tax"), db.AmountsTax)
	p.IssueDate = pickOpt(ch.Get("issue_date"), db.IssueDate)
	p.DueDate = pickOpt(ch.Get("due_date"), db.DueDate)
	p.Reference = pickOpt(ch.Get("reference"), db.Reference)
	return p
}

func (c *planner) payment(ch *cdc.Change, tenant string) {
	if ch.Op != cdc.Insert {
		c.note(slog.LevelInfo, "payment changed after insert: nothing pushed", "payment_id", ch.Get("id").Text)
		return
	}
	invoice := ch.Get("invoice_id").Text
	if st := c.states[entityKey{EntityInvoice, invoice}]; st == nil || !st.issued {
		c.note(slog.LevelInfo, "payment for an invoice never pushed to xero: skipped (backfill covers history)",
			"payment_id", ch.Get("id").Text, "invoice_id", invoice)
		return
	}
	id := ch.Get("id").Text
	c.queueAs(ch, row{tenant: tenant, entity: EntityPayment, id: id, action: ActionPay,
		dependsEntity: EntityInvoice, dependsID: invoice},
		PaymentPayload{PaymentID: id, InvoiceID: invoice, Amount: ch.Get("amount").Text,
			PaidOn: ch.Get("paid_on").Text, Method: ch.Get("method").Text, Reference: optText(ch.Get("reference"))})
}

// set is a small string set; list gives its members (in no order) for query arguments.
type set map[string]struct{}

func (s set) add(v string) {
	if v != "" {
		s[v] = struct{}{}
	}
}

func (s set) list() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	return out
}
