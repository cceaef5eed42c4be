package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// tlog writes a test's logs through t.Log.
type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) { return pgtest.LogWriter(l.t).Write(p) }

// setup is a database with one connected tenant and capture running into the enqueuer.
type setup struct {
	t       *testing.T
	db      *pgtest.DB
	tenant  string
	cfg     cdc.Config // capture's, as started
	capture *cdc.Capture
	// stopCapture stops capture (and waits for it); the test's end does it too.
	stopCapture func()

	mu       sync.Mutex
	maxChunk int
	applies  int
	// The source transactions (xids) of changes handed to the enqueuer, and of those whose
	// Apply has returned.
	handed, applied map[uint32]bool
}

// xidState reports whether the enqueuer was handed changes of xid, and whether that Apply
// returned.
func (s *setup) xidState(xid uint32) (handed, applied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handed[xid], s.applied[xid]
}

func newSetup(t *testing.T, cfg cdc.Config) *setup {
	t.Helper()
	return newSetupOn(t, pgtest.New(t), cfg)
}

// newSetupOn is newSetup on a database of the test's own cluster.
func newSetupOn(t *testing.T, db *pgtest.DB, cfg cdc.Config) *setup {
	t.Helper()
	s := &setup{t: t, db: db, handed: map[uint32]bool{}, applied: map[uint32]bool{}}
	s.tenant = s.newTenant("acme", "connected")
	log := slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	enq := outbox.NewEnqueuer(outbox.EnqueuerConfig{Logger: log})
	cfg.DB, cfg.ConnString, cfg.Slot, cfg.Logger, cfg.Columns = db.Pool, db.URL, db.Name, log, outbox.SourceColumns()
	cfg.Sink = cdc.SinkFunc(func(ctx context.Context, tx pgx.Tx, changes []cdc.Change) error {
		s.mu.Lock()
		s.maxChunk, s.applies = max(s.maxChunk, len(changes)), s.applies+1
		xids := map[uint32]bool{}
		for i := range changes {
			xids[changes[i].Txn.Xid] = true
		}
		maps.Copy(s.handed, xids)
		s.mu.Unlock()
		err := enq.Apply(ctx, tx, changes)
		s.mu.Lock()
		maps.Copy(s.applied, xids)
		s.mu.Unlock()
		return err
	})
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	s.cfg = cfg
	s.capture, s.stopCapture = startCapture(t, cfg)
	waitFor(t, 30*time.Second, "capture streaming", func() bool { return s.capture.Status().Streaming })
	return s
}

// runCapture runs capture until the test ends (Run must then return nil) and waits until it
// streams.
func runCapture(t testing.TB, cfg cdc.Config) *cdc.Capture {
	t.Helper()
	c, _ := startCapture(t, cfg)
	waitFor(t, 30*time.Second, "capture streaming", func() bool { return c.Status().Streaming })
	return c
}

// startCapture runs capture until stop is called or the test ends; Run must then return nil.
func startCapture(t testing.TB, cfg cdc.Config) (c *cdc.Capture, stop func()) {
	t.Helper()
	c, err := cdc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("capture: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

func (s *setup) newTenant(name, connection string) string {
	var id string
	if err := s.db.Pool.QueryRow(context.Background(), "INSERT INTO core.tenants (name) VALUES ($1) RETURNING id::text", name).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	if connection != "" {
		s.connect(id, connection)
	}
	return id
}

// connect records a connection as `xerosync connect` does: changes committed from now on queue.
func (s *setup) connect(tenant, state string) {
	s.db.Exec(s.t, `INSERT INTO xerosync.connections (tenant_id, state, queue_from_lsn, queue_until_lsn)
		VALUES ($1, $2, pg_current_wal_lsn(), CASE WHEN $2 = 'disconnected' THEN pg_current_wal_lsn() END)`, tenant, state)
}

func (s *setup) one(sql string, args ...any) string {
	s.t.Helper()
	return scalar(s.t, s.db, sql, args...)
}

// scalar runs a query of one text value.
func scalar(t testing.TB, db *pgtest.DB, sql string, args ...any) string {
	t.Helper()
	var v string
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func (s *setup) customer(name string, extra ...string) string {
	cols, vals := "tenant_id, name", "$1, $2"
	args := []any{s.tenant, name}
	for i := 0; i+1 < len(extra); i += 2 {
		args = append(args, extra[i+1])
		cols += ", " + extra[i]
		vals += fmt.Sprintf(", $%d", len(args))
	}
	return s.one(fmt.Sprintf("INSERT INTO crm.customers (%s) VALUES (%s) RETURNING id::text", cols, vals), args...)
}

// sync waits until capture has stored everything committed so far.
func (s *setup) sync() {
	s.t.Helper()
	syncCapture(s.t, s.db)
}

// syncCapture waits until the capture of db (its slot is named after it) has stored
// everything committed so far.
func syncCapture(t testing.TB, db *pgtest.DB) {
	t.Helper()
	target := scalar(t, db, "SELECT pg_current_wal_lsn()::text")
	waitFor(t, 60*time.Second, "capture to reach "+target, func() bool {
		var ok bool
		_ = db.Pool.QueryRow(context.Background(), "SELECT lsn >= $1::pg_lsn FROM xerosync.checkpoint WHERE slot_name = $2", target, db.Name).Scan(&ok)
		return ok
	})
}

type outboxRow struct {
	Entity, EntityID, Action string
	DependsEntity            *string
	DependsID                *string
	Payload                  map[string]any
}

func (s *setup) rows() []outboxRow {
	s.t.Helper()
	rows, err := s.db.Pool.Query(context.Background(), `SELECT entity, entity_id::text, action, depends_entity,
		depends_entity_id::text, payload FROM xerosync.outbox ORDER BY id`)
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[outboxRow])
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *setup) actions() []string {
	var out []string
	for _, r := range s.rows() {
		out = append(out, r.Entity+"/"+r.Action)
	}
	return out
}

func waitFor(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	pgtest.Eventually(t, limit, what, ok)
}

func wantActions(t *testing.T, s *setup, want ...string) {
	t.Helper()
	s.sync()
	if got := s.actions(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("outbox holds %v, want %v", got, want)
	}
}

func TestCustomerChanges(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	id := s.customer("Ada Ltd", "email", "ada@example.com", "country_code", "NZ")
	wantActions(t, s, "contact/upsert")

	// Only fields Xero holds count.
	s.db.Exec(t, "UPDATE crm.customers SET notes = 'likes tea', updated_at = now() WHERE id = $1", id)
	wantActions(t, s, "contact/upsert")
	s.db.Exec(t, "UPDATE crm.customers SET phone = '+64 9 555' WHERE id = $1", id)
	wantActions(t, s, "contact/upsert", "contact/upsert")
	// Setting a field to what it already is queues nothing either.
	s.db.Exec(t, "UPDATE crm.customers SET phone = '+64 9 555', name = 'Ada Ltd' WHERE id = $1", id)
	wantActions(t, s, "contact/upsert", "contact/upsert")
	s.db.Exec(t, "UPDATE crm.customers SET archived_at = now() WHERE id = $1", id)
	s.db.Exec(t, "UPDATE crm.customers SET archived_at = NULL WHERE id = $1", id)
	wantActions(t, s, "contact/upsert", "contact/upsert", "contact/upsert", "contact/upsert")

	rows := s.rows()
	if rows[0].Payload["email"] != "ada@example.com" || rows[0].Payload["country_code"] != "NZ" || rows[0].Payload["customer_id"] != id {
		t.Errorf("first payload %v", rows[0].Payload)
	}
	if rows[1].Payload["phone"] != "+64 9 555" {
		t.Errorf("second payload %v", rows[1].Payload)
	}
	if rows[2].Payload["archived"] != true || rows[3].Payload["archived"] != false {
		t.Errorf("archive payloads %v / %v", rows[2].Payload, rows[3].Payload)
	}
	if rows[0].DependsEntity != nil {
		t.Errorf("a contact depends on nothing, got %v", *rows[0].DependsEntity)
	}

	// Deleting queues nothing.
	s.db.Exec(t, "DELETE FROM crm.customers WHERE id = $1", id)
	wantActions(t, s, "contact/upsert", "contact/upsert", "contact/upsert", "contact/upsert")
}

// An unchanged TOASTed value keeps its last queued content: never NULL, never blank.
func TestUnchangedToastKeepsValue(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	long := pgtest.RandomText(100_000) // incompressible, so stored out of line
	id := s.customer("Toast Co", "address_line1", long, "notes", pgtest.RandomText(50_000))
	s.db.Exec(t, "UPDATE crm.customers SET name = 'Toast Co Ltd' WHERE id = $1", id)
	s.db.Exec(t, "UPDATE crm.customers SET notes = $2 WHERE id = $1", id, pgtest.RandomText(60_000))
	wantActions(t, s, "contact/upsert", "contact/upsert")
	r := s.rows()[1]
	if r.Payload["name"] != "Toast Co Ltd" || r.Payload["address_line1"] != long {
		t.Fatalf("update payload lost the unchanged TOAST value: name=%v address_line1 has %d chars",
			r.Payload["name"], len(fmt.Sprint(r.Payload["address_line1"])))
	}
}

// A customer whose contact was never queued and whose update carries unchanged TOAST: the
// value is read from the table, not taken as empty.
func TestUnchangedToastWithoutHistory(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	other := s.newTenant("later", "")
	long := pgtest.RandomText(100_000)
	id := s.one("INSERT INTO crm.customers (tenant_id, name, address_line1) VALUES ($1, 'Old', $2) RETURNING id::text", other, long)
	s.connect(other, "connected")
	s.db.Exec(t, "UPDATE crm.customers SET name = 'Old Co' WHERE id = $1", id)
	wantActions(t, s, "contact/upsert")
	if r := s.rows()[0]; r.Payload["address_line1"] != long || r.Payload["name"] != "Old Co" {
		t.Fatalf("payload %v…", fmt.Sprint(r.Payload)[:80])
	}
}

func (s *setup) invoice(customer, number, status string) string {
	id := s.one(`INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date, due_date, reference, amounts_tax)
		VALUES ($1, $2, $3, $4, 'NZD', '2026-11-01', '2026-11-30', 'PO-7', 'inclusive') RETURNING id::text`, s.tenant, customer, number, status)
	for i, price := range []string{"100.1250", "0.0001"} {
		s.db.Exec(s.t, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, discount_rate, revenue_category, tax_component)
			VALUES ($1, $2, $3, $4, 2.5, $5, 12.5, 'consulting', CASE WHEN $3 = 1 THEN 'GST15' END)`, id, s.tenant, i+1, fmt.Sprint("line ", i+1), price)
	}
	return id
}

func TestInvoiceLifecycle(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	cust := s.customer("Buyer")
	inv := s.invoice(cust, "INV-1", "draft")
	wantActions(t, s, "contact/upsert") // a draft is not pushed

	// "Send Invoice": one transaction sets issued.
	s.db.Exec(t, "UPDATE finance.invoices SET status = 'issued', issued_at = now() WHERE id = $1", inv)
	wantActions(t, s, "contact/upsert", "invoice/issue")
	r := s.rows()[1]
	if *r.DependsEntity != "contact" || *r.DependsID != cust {
		t.Errorf("issue depends on %v %v, want contact %s", *r.DependsEntity, *r.DependsID, cust)
	}
	b, _ := json.Marshal(r.Payload)
	for _, want := range []string{`"number":"INV-1"`, `"unit_price":"100.1250"`, `"unit_price":"0.0001"`, `"quantity":"2.5000"`,
		`"discount_rate":"12.50"`, `"tax_component":"GST15"`, `"tax_component":null`, `"amounts_tax":"inclusive"`, `"reference":"PO-7"`, `"issue_date":"2026-11-01"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("issue payload lacks %s: %s", want, b)
		}
	}

	// Paid pushes nothing itself; the payment does, after the invoice.
	pay := s.one(`INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method, reference) VALUES ($1, $2, 50.25, '2026-11-05', 'card', 'R1') RETURNING id::text`, s.tenant, inv)
	s.db.Exec(t, "UPDATE finance.invoices SET status = 'paid' WHERE id = $1", inv)
	s.db.Exec(t, "UPDATE finance.invoices SET status = 'issued' WHERE id = $1", inv) // re-issue is not a second issue
	wantActions(t, s, "contact/upsert", "invoice/issue", "payment/pay")
	r = s.rows()[2]
	if r.EntityID != pay || *r.DependsEntity != "invoice" || *r.DependsID != inv || r.Payload["amount"] != "50.25" || r.Payload["method"] != "card" {
		t.Errorf("payment row %+v", r)
	}

	s.db.Exec(t, "UPDATE finance.invoices SET status = 'void', voided_at = now() WHERE id = $1", inv)
	s.db.Exec(t, "UPDATE finance.invoices SET reference = 'again' WHERE id = $1", inv)
	wantActions(t, s, "contact/upsert", "invoice/issue", "payment/pay", "invoice/void")
	if r := s.rows()[3]; *r.DependsEntity != "invoice" || *r.DependsID != inv || r.Payload["number"] != "INV-1" {
		t.Errorf("void row %+v", r)
	}
}

func TestInvoiceEdgeCases(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	cust := s.customer("Buyer")
	s.sync()
	// Imported history: inserted already paid, lines in the same transaction.
	tx, err := s.db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var paid string
	if err := tx.QueryRow(context.Background(), `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date)
		VALUES ($1, $2, 'OLD-1', 'paid', 'NZD', '2025-01-01') RETURNING id::text`, s.tenant, cust).Scan(&paid); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category)
		VALUES ($1, $2, 1, 'old work', 10, 'consulting')`, paid, s.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method) VALUES ($1, $2, 10, '2025-01-02', 'cash')`, s.tenant, paid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A draft voided before it was ever issued pushes nothing.
	draft := s.invoice(cust, "D-1", "draft")
	s.db.Exec(t, "UPDATE finance.invoices SET status = 'void' WHERE id = $1", draft)
	// Issued and voided in quick succession: created, then voided (no gap in Xero's numbers).
	quick := s.invoice(cust, "Q-1", "issued")
	s.db.Exec(t, "UPDATE finance.invoices SET status = 'void' WHERE id = $1", quick)
	wantActions(t, s, "contact/upsert", "invoice/issue", "payment/pay", "invoice/issue", "invoice/void")
	if lines := s.rows()[1].Payload["lines"].([]any); len(lines) != 1 {
		t.Errorf("imported invoice has %d lines, want 1", len(lines))
	}
	// Deleting an invoice pushes nothing.
	s.db.Exec(t, "DELETE FROM finance.invoice_lines WHERE invoice_id = $1", draft)
	s.db.Exec(t, "DELETE FROM finance.invoices WHERE id = $1", draft)
	wantActions(t, s, "contact/upsert", "invoice/issue", "payment/pay", "invoice/issue", "invoice/void")
}

// A customer created before the tenant connected gets its contact queued ahead of its first
// invoice; a payment of an invoice never pushed is skipped.
func TestContactQueuedBeforeFirstInvoice(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	late := s.newTenant("late", "")
	cust := s.one("INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, 'Early Bird', 'e@b.com') RETURNING id::text", late)
	old := s.one(`INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency) VALUES ($1, $2, 'PRE-1', 'issued', 'NZD') RETURNING id::text`, late, cust)
	s.connect(late, "connected")
	s.db.Exec(t, `INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method) VALUES ($1, $2, 5, '2026-01-01', 'cash')`, late, old)
	s.one(`INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency) VALUES ($1, $2, 'POST-1', 'issued', 'NZD') RETURNING id::text`, late, cust)
	wantActions(t, s, "contact/upsert", "invoice/issue")
	if r := s.rows()[0]; r.EntityID != cust || r.Payload["email"] != "e@b.com" {
		t.Fatalf("ensured contact %+v", r)
	}
}

func TestOnlyConnectedTenantsQueue(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	never := s.newTenant("never", "")
	gone := s.newTenant("gone", "disconnected")
	waiting := s.newTenant("waiting", "auth_failed")
	for _, tenant := range []string{never, gone, waiting} {
		s.db.Exec(t, "INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'x')", tenant)
	}
	wantActions(t, s, "contact/upsert")
	if got := s.one("SELECT tenant_id::text FROM xerosync.outbox"); got != waiting {
		t.Fatalf("queued for %s, want the auth_failed tenant %s (its rows wait)", got, waiting)
	}
}

// The dispatcher is woken by a notification when rows commit: no polling on the hot path.
func TestNotifiesOnCommit(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+outbox.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	s.customer("Woken")
	n, err := conn.Conn().WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Payload != s.tenant {
		t.Fatalf("notification payload %q, want tenant %s", n.Payload, s.tenant)
	}
}

// One source transaction of 200,000 rows is captured in bounded chunks, all committed once.
func TestHugeTransactionInChunks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("200,000 rows")
	}
	s := newSetup(t, cdc.Config{ChunkSize: 1000})
	s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name, email)
		SELECT $1, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 200000) g`, s.tenant)
	s.sync()
	if n := s.one("SELECT count(*)::text FROM xerosync.outbox"); n != "200000" {
		t.Fatalf("outbox has %s rows, want 200000", n)
	}
	if n := s.one("SELECT count(DISTINCT entity_id)::text FROM xerosync.outbox"); n != "200000" {
		t.Fatalf("%s distinct customers", n)
	}
	if n := s.one("SELECT count(DISTINCT commit_lsn)::text FROM xerosync.outbox"); n != "1" {
		t.Fatalf("rows of one source transaction carry %s commit LSNs", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxChunk > 1000 || s.applies < 200 {
		t.Fatalf("largest chunk %d changes over %d calls: the transaction was not streamed in chunks", s.maxChunk, s.applies)
	}
}

// A table of the same name in another schema, added to the publication, is not Softbooq's:
// its rows queue nothing, while Softbooq's own keep queueing. (The enqueuer once matched the
// table name alone, and a staging copy of customers became Xero contacts.)
func TestSameNameInAnotherSchemaIsNotSoftbooq(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	s.db.Exec(t, `CREATE SCHEMA staging;
		CREATE TABLE staging.customers (LIKE crm.customers INCLUDING ALL);
		CREATE TABLE staging.invoices (LIKE finance.invoices INCLUDING ALL);
		CREATE TABLE staging.payments (LIKE finance.payments INCLUDING ALL);
		ALTER PUBLICATION xerosync ADD TABLE staging.customers, staging.invoices, staging.payments`)
	cust := s.customer("Real Ltd")
	inv := s.invoice(cust, "INV-1", "issued")
	wantActions(t, s, "contact/upsert", "invoice/issue")

	s.db.Exec(t, `INSERT INTO staging.customers (tenant_id, name) VALUES ($1, 'Staged Ltd')`, s.tenant)
	s.db.Exec(t, `INSERT INTO staging.invoices (tenant_id, customer_id, number, status, currency)
		VALUES ($1, $2, 'STAGED-1', 'issued', 'NZD')`, s.tenant, cust)
	s.db.Exec(t, `INSERT INTO staging.payments (tenant_id, invoice_id, amount, paid_on, method)
		VALUES ($1, $2, 5, '2026-11-02', 'cash')`, s.tenant, inv)
	// A Softbooq change after them: capture got past the staging rows and kept going.
	s.customer("Later Ltd")
	wantActions(t, s, "contact/upsert", "invoice/issue", "contact/upsert")
	if got := s.rows()[2].Payload["name"]; got != "Later Ltd" {
		t.Fatalf("third row is %v, want the Softbooq customer Later Ltd", got)
	}
}
