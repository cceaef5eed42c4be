package outbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softbooq/xerosync/cdc"
)

// NotifyChannel is the channel notified (payload: tenant id) when rows are queued, by capture or
// backfill (writeRows); the notification is delivered when the queueing transaction commits.
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

// Apply queues the outbox rows for changes, inside the capture transaction tx: it loads what
// the changes need (load), lets plan decide the rows, and writes them. The decisions are
// all in plan, table-tested without PostgreSQL (plan_test.go).
func (e *Enqueuer) Apply(ctx context.Context, tx pgx.Tx, changes []cdc.Change) error {
	l, err := e.load(ctx, tx, changes)
	if err != nil {
		return err
	}
	p := plan(l, changes)
	for _, n := range p.notes {
		e.log.Log(ctx, n.level, n.msg, n.attrs...)
	}
	// Three statements per chunk: the rows, the wake-up and the entity states.
	if err := writeRows(ctx, tx, p.rows); err != nil {
		return err
	}
	return storeEntityStates(ctx, tx, p.entities)
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

// load reads, in a few round trips for the whole chunk, what the changes need: which tenants
// are connected, what was last queued of each entity, and the rows the WAL does not carry
// (planLoads and planReads decide which).
func (e *Enqueuer) load(ctx context.Context, tx pgx.Tx, changes []cdc.Change) (*loaded, error) {
	l := &loaded{states: map[entityKey]*entityState{}}
	keys := planLoads(changes)
	if len(keys.tenants) == 0 {
		return l, nil
	}
	if err := l.loadConnections(ctx, tx, keys.tenants); err != nil {
		return nil, err
	}
	if err := l.loadStates(ctx, tx, keys.contacts, keys.invoices); err != nil {
		return nil, err
	}
	r := planReads(l, changes)
	if len(r.xids) > 0 {
		if err := e.awaitVisible(ctx, tx, r.xids); err != nil {
			return nil, err
		}
	}
	if len(r.customers) > 0 {
		if err := l.fetchCustomers(ctx, tx, r.customers); err != nil {
			return nil, err
		}
	}
	if len(r.invoices) > 0 {
		if err := l.fetchInvoices(ctx, tx, r.invoices); err != nil {
			return nil, err
		}
	}
	return l, nil
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
func (l *loaded) loadStates(ctx context.Context, tx pgx.Tx, contacts, invoices []string) error {
	if len(contacts) > 0 {
		rows, err := tx.Query(ctx, lastContactHashesSQL, contacts)
		if err != nil {
			return fmt.Errorf("read last queued contacts: %w", err)
		}
		type lastHash struct {
			ID   string
			Hash []byte
		}
		hashes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[lastHash])
		if err != nil {
			return fmt.Errorf("read last queued contacts: %w", err)
		}
		for _, h := range hashes {
			l.states[entityKey{EntityContact, h.ID}] = &entityState{hash: h.Hash}
		}
	}
	if len(contacts) == 0 && len(invoices) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, loadEntitiesSQL, contacts, invoices)
	if err != nil {
		return fmt.Errorf("load entities: %w", err)
	}
	type stored struct {
		Entity, ID     string
		Issued, Voided bool
	}
	entities, err := pgx.CollectRows(rows, pgx.RowToStructByPos[stored])
	if err != nil {
		return fmt.Errorf("load entities: %w", err)
	}
	for _, e := range entities {
		k := entityKey{e.Entity, e.ID}
		st := l.states[k]
		if st == nil {
			st = &entityState{}
			l.states[k] = st
		}
		st.stored, st.issued, st.voided = true, e.Issued, e.Voided
	}
	return nil
}

func (l *loaded) loadConnections(ctx context.Context, tx pgx.Tx, tenants []string) error {
	rows, err := tx.Query(ctx, connectedTenantsSQL, tenants)
	if err != nil {
		return fmt.Errorf("read connected tenants: %w", err)
	}
	defer rows.Close()
	l.connected = map[string]window{}
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
		l.connected[id] = w
	}
	return rows.Err()
}

func (l *loaded) fetchCustomers(ctx context.Context, tx pgx.Tx, ids []string) error {
	rows, err := tx.Query(ctx, fetchCustomersSQL, ids)
	if err != nil {
		return readError("crm.customers", err)
	}
	defer rows.Close()
	l.customers = map[string]ContactFields{}
	for rows.Next() {
		var id, tenant string
		var f ContactFields
		if err := rows.Scan(&id, &tenant, &f.Name, &f.FirstName, &f.LastName, &f.Email, &f.Phone, &f.TaxNumber,
			&f.AddressLine1, &f.AddressLine2, &f.City, &f.Region, &f.PostalCode, &f.CountryCode, &f.Archived); err != nil {
			return fmt.Errorf("read customers: %w", err)
		}
		l.customers[id] = f
	}
	return rows.Err()
}

func (l *loaded) fetchInvoices(ctx context.Context, tx pgx.Tx, ids []string) error {
	l.invoices = map[string]*InvoicePayload{}
	rows, err := tx.Query(ctx, fetchInvoicesSQL, ids)
	if err != nil {
		return readError("finance.invoices", err)
	}
	headers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*InvoicePayload, error) {
		p := &InvoicePayload{Lines: []InvoiceLine{}}
		err := r.Scan(&p.InvoiceID, &p.Number, &p.Currency, &p.IssueDate, &p.DueDate, &p.Reference, &p.AmountsTax)
		return p, err
	})
	if err != nil {
		return fmt.Errorf("read invoices: %w", err)
	}
	for _, p := range headers {
		l.invoices[p.InvoiceID] = p
	}
	return readInvoiceLines(ctx, tx, ids, func(id string, line InvoiceLine) {
		if p := l.invoices[id]; p != nil {
			p.Lines = append(p.Lines, line)
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
	type invoiceLine struct {
		invoiceID string
		line      InvoiceLine
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (invoiceLine, error) {
		var il invoiceLine
		l := &il.line
		err := r.Scan(&il.invoiceID, &l.Position, &l.Description, &l.Quantity, &l.UnitPrice, &l.DiscountRate,
			&l.RevenueCategory, &l.TaxComponent, &l.ItemCode)
		return il, err
	})
	if err != nil {
		return fmt.Errorf("read invoice lines: %w", err)
	}
	for _, il := range lines {
		add(il.invoiceID, il.line)
	}
	return nil
}
