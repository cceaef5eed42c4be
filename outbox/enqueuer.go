package outbox

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softbooq/xerosync/cdc"
)

// NotifyChannel is the channel the enqueuer notifies (payload: tenant id) when it queues rows;
// the notification is delivered when the capture transaction commits.
const NotifyChannel = "xerosync_outbox"

var (
	//go:embed sql/connected_tenants.sql
	connectedTenantsSQL string
	//go:embed sql/load_entities.sql
	loadEntitiesSQL string
	//go:embed sql/last_contact_hashes.sql
	lastContactHashesSQL string
	//go:embed sql/fetch_customers.sql
	fetchCustomersSQL string
	//go:embed sql/fetch_invoices.sql
	fetchInvoicesSQL string
	//go:embed sql/fetch_lines.sql
	fetchLinesSQL string
	//go:embed sql/invisible_xids.sql
	invisibleXidsSQL string
)

// visibilityLogEvery is how often a wait for commits to become visible is logged.
const visibilityLogEvery = 10 * time.Second

// EnqueuerConfig configures an Enqueuer.
type EnqueuerConfig struct {
	Logger *slog.Logger
}

// Enqueuer turns captured changes into outbox rows. It implements cdc.Sink and keeps no state
// between calls: everything it remembers is in the capture transaction.
type Enqueuer struct {
	log *slog.Logger
}

// NewEnqueuer returns an Enqueuer; it does no I/O.
func NewEnqueuer(cfg EnqueuerConfig) *Enqueuer {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Enqueuer{log: log.With("component", "enqueuer")}
}

var _ cdc.Sink = (*Enqueuer)(nil)

type entityKey struct{ entity, id string }

// entityState is what this chunk knows of an entity's past.
type entityState struct {
	tenant         string
	hash           []byte // contact: hash of the fields last queued; nil: none in the outbox
	issued, voided bool   // invoice
	stored         bool   // a row exists in xerosync.entities (a contact's: it is linked)
	dirty          bool   // an invoice state to write
}

// known reports whether a contact was ever queued or linked.
func (st *entityState) known() bool { return st.hash != nil || st.stored }

type row struct {
	tenant, entity, id, action string
	dependsEntity, dependsID   string
	body                       []byte // the payload's JSON
	hash                       []byte
	lsn                        pglogrepl.LSN // 0: none (backfill), since no commit is at 0/0
	idx                        int
	source                     string // "": sourceWAL
}

// chunk is the work of one Apply call.
type chunk struct {
	e         *Enqueuer
	connected map[string]window
	states    map[entityKey]*entityState
	customers map[string]ContactFields // current rows read from crm.customers
	invoices  map[string]*InvoicePayload
	rows      []row
}

// Apply queues the outbox rows for changes, inside the capture transaction tx.
func (e *Enqueuer) Apply(ctx context.Context, tx pgx.Tx, changes []cdc.Change) error {
	c := &chunk{e: e, states: map[entityKey]*entityState{}}
	if err := c.load(ctx, tx, changes); err != nil {
		return err
	}
	for i := range changes {
		c.change(&changes[i])
	}
	return c.write(ctx, tx)
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

// SourceColumns are the columns the enqueuer reads from the changes of each source table,
// for cdc.Config.Columns: a change of a table that lacks one (renamed or dropped) then stops
// capture with a message naming it, instead of reading as an empty or unchanged value and
// queueing something wrong or nothing (a renamed finance.payments.tenant_id once dropped
// payments without a word).
func SourceColumns() map[string][]string {
	customerColumns := []string{"id", "tenant_id", "archived_at"}
	for _, c := range contactText {
		customerColumns = append(customerColumns, c.col)
	}
	return map[string][]string{
		"crm.customers":    customerColumns,
		"finance.invoices": {"id", "tenant_id", "customer_id", "status", "number", "currency", "amounts_tax", "issue_date", "due_date", "reference"},
		"finance.payments": {"id", "tenant_id", "invoice_id", "amount", "paid_on", "method", "reference"},
	}
}

// readError wraps an error reading a source table; a column or table that does not exist is
// said in plain words (PostgreSQL's message names it): Softbooq changed its schema.
func readError(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42703" || pgErr.Code == "42P01") { // undefined_column, undefined_table
		return fmt.Errorf("read %s: a column or table xerosync reads is missing (renamed or dropped): %w", what, err)
	}
	return fmt.Errorf("read %s: %w", what, err)
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

// load reads, in a few round trips for the whole chunk, what the changes need: which tenants
// are connected, what was last queued of each entity, and the rows the WAL does not carry.
func (c *chunk) load(ctx context.Context, tx pgx.Tx, changes []cdc.Change) error {
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
		return nil
	}
	if err := c.loadConnections(ctx, tx, tenants.list()); err != nil {
		return err
	}

	if err := c.loadStates(ctx, tx, contacts.list(), invoiceIDs.list()); err != nil {
		return err
	}

	// What must be read from the source tables: customers whose update sent unchanged TOAST
	// (the WAL leaves the value out) or whose contact was never queued (an invoice needs
	// it), and the invoices that may be issued here.
	needCustomers, needInvoices := set{}, set{}
	// The transactions those reads are for. A transaction's changes are contiguous, so
	// comparing with the last one added keeps each once.
	var readFor []uint32
	readFrom := func(xid uint32) {
		if n := len(readFor); n == 0 || readFor[n-1] != xid {
			readFor = append(readFor, xid)
		}
	}
	for i := range changes {
		ch := &changes[i]
		src, t, ok := relevant(ch)
		if !ok || !c.queues(t, ch) {
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
			if st := c.states[entityKey{EntityInvoice, id}]; (st == nil || !st.issued) && issuedStatus(ch.Get("status").Text) {
				needInvoices.add(id)
				readFrom(ch.Txn.Xid)
				if cs := c.states[entityKey{EntityContact, ch.Get("customer_id").Text}]; cs == nil || !cs.known() {
					needCustomers.add(ch.Get("customer_id").Text)
				}
			}
		}
	}
	if len(readFor) > 0 {
		if err := c.e.awaitVisible(ctx, tx, readFor); err != nil {
			return err
		}
	}
	if len(needCustomers) > 0 {
		if err := c.fetchCustomers(ctx, tx, needCustomers.list()); err != nil {
			return err
		}
	}
	if len(needInvoices) > 0 {
		if err := c.fetchInvoices(ctx, tx, needInvoices.list()); err != nil {
			return err
		}
	}
	return nil
}

// awaitVisible waits until the source transactions xids are visible to the next statement of
// tx, so that what the enqueuer reads from Softbooq's tables for them includes what they
// wrote (LESSONS, "a commit is in the WAL before it is visible"). tx is READ COMMITTED (cdc
// begins it so): each statement takes a new snapshot, and one that sees a transaction is
// followed only by snapshots that see it too. After the wait, a row that is not there was
// deleted since, not "not yet visible". It waits as long as it takes (a commit held by a
// synchronous standby that does not answer stays invisible for as long), saying so every
// visibilityLogEvery, until ctx ends.
func (e *Enqueuer) awaitVisible(ctx context.Context, tx pgx.Tx, xids []uint32) error {
	started, logged := time.Now(), time.Now()
	pause := time.Millisecond
	for {
		rows, err := tx.Query(ctx, invisibleXidsSQL, xids)
		if err != nil {
			return fmt.Errorf("check that captured transactions are visible: %w", err)
		}
		invisible, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("check that captured transactions are visible: %w", err)
		}
		if len(invisible) == 0 {
			if waited := time.Since(started); waited >= visibilityLogEvery {
				e.log.Info("captured transactions are visible: reading on", "waited", waited.Round(time.Millisecond))
			}
			return nil
		}
		if time.Since(logged) >= visibilityLogEvery {
			logged = time.Now()
			e.log.Warn("waiting for committed transactions to become visible before reading their rows (a synchronous standby not answering?)",
				"xids", invisible, "waited", time.Since(started).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for transactions %v to become visible: %w", invisible, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// loadStates reads what was last queued of the entities: for contacts, the hash of the last
// queued fields (from the outbox itself, so the hot path writes one row per change, not
// two); for invoices, whether an issue and a void were queued (xerosync.entities).
func (c *chunk) loadStates(ctx context.Context, tx pgx.Tx, contacts, invoices []string) error {
	if len(contacts) > 0 {
		rows, err := tx.Query(ctx, lastContactHashesSQL, contacts)
		if err != nil {
			return fmt.Errorf("read last queued contacts: %w", err)
		}
		for rows.Next() {
			st := &entityState{}
			var id string
			if err := rows.Scan(&id, &st.hash); err != nil {
				rows.Close()
				return fmt.Errorf("read last queued contacts: %w", err)
			}
			c.states[entityKey{EntityContact, id}] = st
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read last queued contacts: %w", err)
		}
	}
	if len(contacts) == 0 && len(invoices) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, loadEntitiesSQL, contacts, invoices)
	if err != nil {
		return fmt.Errorf("load entities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k entityKey
		var issued, voided bool
		if err := rows.Scan(&k.entity, &k.id, &issued, &voided); err != nil {
			return fmt.Errorf("load entities: %w", err)
		}
		st := c.states[k]
		if st == nil {
			st = &entityState{}
			c.states[k] = st
		}
		st.stored, st.issued, st.voided = true, issued, voided
	}
	return rows.Err()
}

// window is the WAL range in which a tenant's changes are queued.
type window struct {
	from  pglogrepl.LSN
	until pglogrepl.LSN // 0: open
}

func (c *chunk) loadConnections(ctx context.Context, tx pgx.Tx, tenants []string) error {
	rows, err := tx.Query(ctx, connectedTenantsSQL, tenants)
	if err != nil {
		return fmt.Errorf("read connected tenants: %w", err)
	}
	defer rows.Close()
	c.connected = map[string]window{}
	for rows.Next() {
		var id, from string
		var until *string
		if err := rows.Scan(&id, &from, &until); err != nil {
			return fmt.Errorf("read connected tenants: %w", err)
		}
		var w window
		if w.from, err = pglogrepl.ParseLSN(from); err != nil {
			return fmt.Errorf("tenant %s queue_from_lsn: %w", id, err)
		}
		if until != nil {
			if w.until, err = pglogrepl.ParseLSN(*until); err != nil {
				return fmt.Errorf("tenant %s queue_until_lsn: %w", id, err)
			}
		}
		c.connected[id] = w
	}
	return rows.Err()
}

// queues reports whether a change of tenant is queued: it committed while the tenant was
// connected.
func (c *chunk) queues(tenant string, ch *cdc.Change) bool {
	w, ok := c.connected[tenant]
	lsn := ch.Txn.CommitLSN
	return ok && lsn >= w.from && (w.until == 0 || lsn < w.until)
}

func (c *chunk) fetchCustomers(ctx context.Context, tx pgx.Tx, ids []string) error {
	rows, err := tx.Query(ctx, fetchCustomersSQL, ids)
	if err != nil {
		return readError("crm.customers", err)
	}
	defer rows.Close()
	c.customers = map[string]ContactFields{}
	for rows.Next() {
		var id, tenant string
		var f ContactFields
		if err := rows.Scan(&id, &tenant, &f.Name, &f.FirstName, &f.LastName, &f.Email, &f.Phone, &f.TaxNumber,
			&f.AddressLine1, &f.AddressLine2, &f.City, &f.Region, &f.PostalCode, &f.CountryCode, &f.Archived); err != nil {
			return fmt.Errorf("read customers: %w", err)
		}
		c.customers[id] = f
	}
	return rows.Err()
}

func (c *chunk) fetchInvoices(ctx context.Context, tx pgx.Tx, ids []string) error {
	c.invoices = map[string]*InvoicePayload{}
	rows, err := tx.Query(ctx, fetchInvoicesSQL, ids)
	if err != nil {
		return readError("finance.invoices", err)
	}
	for rows.Next() {
		p := &InvoicePayload{Lines: []InvoiceLine{}}
		if err := rows.Scan(&p.InvoiceID, &p.Number, &p.Currency, &p.IssueDate, &p.DueDate, &p.Reference, &p.AmountsTax); err != nil {
			rows.Close()
			return fmt.Errorf("read invoices: %w", err)
		}
		c.invoices[p.InvoiceID] = p
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read invoices: %w", err)
	}
	return readInvoiceLines(ctx, tx, ids, func(id string, l InvoiceLine) {
		if p := c.invoices[id]; p != nil {
			p.Lines = append(p.Lines, l)
		}
	})
}

// readInvoiceLines reads the lines of the invoices ids, in position order, and hands each
// to add with its invoice's id. Capture and backfill build invoice payloads with it.
func readInvoiceLines(ctx context.Context, db Querier, ids []string, add func(invoiceID string, l InvoiceLine)) error {
	rows, err := db.Query(ctx, fetchLinesSQL, ids)
	if err != nil {
		return readError("finance.invoice_lines", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l InvoiceLine
		if err := rows.Scan(&id, &l.Position, &l.Description, &l.Quantity, &l.UnitPrice, &l.DiscountRate,
			&l.RevenueCategory, &l.TaxComponent, &l.ItemCode); err != nil {
			return fmt.Errorf("read invoice lines: %w", err)
		}
		add(id, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read invoice lines: %w", err)
	}
	return nil
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

func (c *chunk) state(entity, id, tenant string) *entityState {
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
func (c *chunk) queueAs(ch *cdc.Change, r row, payload any) {
	r.body, _ = json.Marshal(payload) // strings, string pointers and ints: cannot fail
	c.queue(ch, r)
}

func (c *chunk) queue(ch *cdc.Change, r row) {
	r.lsn = ch.Txn.CommitLSN
	r.idx = ch.Txn.Seq
	ch.Txn.Seq++
	c.rows = append(c.rows, r)
}

func (c *chunk) change(ch *cdc.Change) {
	if ch.Op == cdc.Delete {
		// Nothing is deleted in Xero (SPEC §1). The WAL carries only the key.
		c.e.log.Info("row deleted in softbooq: nothing is deleted in xero", "table", ch.Schema+"."+ch.Table, "id", ch.Get("id").Text)
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

func (c *chunk) customer(ch *cdc.Change, tenant string) {
	id := ch.Get("id").Text
	st := c.state(EntityContact, id, tenant)
	f := contactFields(ch, c.customers[id]) // read only when a column is unchanged TOAST
	c.upsertContact(ch, st, id, tenant, f)
}

// upsertContact queues a contact upsert unless the fields are the ones last queued (nothing
// Xero holds changed: notes, updated_at, ...).
func (c *chunk) upsertContact(ch *cdc.Change, st *entityState, id, tenant string, f ContactFields) {
	body, hash := ContactUpsert(id, f)
	if bytes.Equal(st.hash, hash) {
		return
	}
	st.hash = hash
	c.queue(ch, row{tenant: tenant, entity: EntityContact, id: id, action: ActionUpsert, body: body, hash: hash})
}

func (c *chunk) invoice(ch *cdc.Change, tenant string) {
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
				c.e.log.Warn("invoice's customer deleted since: invoice queued without its contact", "invoice_id", id, "customer_id", customer)
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
func (c *chunk) invoicePayload(ch *cdc.Change, id, customer, status string) InvoicePayload {
	p := InvoicePayload{InvoiceID: id, CustomerID: customer, Status: status, Lines: []InvoiceLine{}}
	db := c.invoices[id]
	if db == nil {
		db = &InvoicePayload{}
		// Its transaction is visible (awaitVisible): the invoice was deleted since.
		c.e.log.Warn("issued invoice deleted since: queued without lines", "invoice_id", id)
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

func (c *chunk) payment(ch *cdc.Change, tenant string) {
	if ch.Op != cdc.Insert {
		c.e.log.Info("payment changed after insert: nothing pushed", "payment_id", ch.Get("id").Text)
		return
	}
	invoice := ch.Get("invoice_id").Text
	if st := c.states[entityKey{EntityInvoice, invoice}]; st == nil || !st.issued {
		c.e.log.Info("payment for an invoice never pushed to xero: skipped (backfill covers history)",
			"payment_id", ch.Get("id").Text, "invoice_id", invoice)
		return
	}
	id := ch.Get("id").Text
	c.queueAs(ch, row{tenant: tenant, entity: EntityPayment, id: id, action: ActionPay,
		dependsEntity: EntityInvoice, dependsID: invoice},
		PaymentPayload{PaymentID: id, InvoiceID: invoice, Amount: ch.Get("amount").Text,
			PaidOn: ch.Get("paid_on").Text, Method: ch.Get("method").Text, Reference: optText(ch.Get("reference"))})
}

// write stores the rows, the wake-up and the entity states: three statements per chunk.
func (c *chunk) write(ctx context.Context, tx pgx.Tx) error {
	if err := writeRows(ctx, tx, c.rows); err != nil {
		return err
	}
	// Invoice states, new and known, in one statement.
	var s entityStates
	for k, st := range c.states {
		if st.dirty {
			s.add(k.entity, k.id, st.tenant, st.issued, st.voided)
		}
	}
	return storeEntityStates(ctx, tx, s)
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
