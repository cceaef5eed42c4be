package outbox_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
)

// backfillDB is a database holding one tenant's history: two customers, c1 never queued and
// c2 linked; i1 paid (two payments), i2 voided after issue, i3 a draft, i4 before the start.
func backfillDB(t *testing.T) (db *pgtest.DB, tenant string) {
	t.Helper()
	db = pgtest.New(t)
	if err := db.Pool.QueryRow(context.Background(), "INSERT INTO core.tenants (name) VALUES ('acme') RETURNING id::text").Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO crm.customers (id, tenant_id, name, email) VALUES
			('c0000000-0000-4000-8000-000000000001', $1, 'One', 'one@example.com'),
			('c0000000-0000-4000-8000-000000000002', $1, 'Two', NULL)`,
		`INSERT INTO finance.invoices (id, tenant_id, customer_id, number, status, currency, issue_date, issued_at, voided_at) VALUES
			('a0000000-0000-4000-8000-000000000001', $1, 'c0000000-0000-4000-8000-000000000001', 'INV-1', 'paid',   'NZD', '2026-02-01', '2026-02-01', NULL),
			('a0000000-0000-4000-8000-000000000002', $1, 'c0000000-0000-4000-8000-000000000002', 'INV-2', 'void',   'NZD', '2026-02-02', '2026-02-02', '2026-02-03'),
			('a0000000-0000-4000-8000-000000000003', $1, 'c0000000-0000-4000-8000-000000000001', 'INV-3', 'draft',  'NZD', '2026-02-03', NULL, NULL),
			('a0000000-0000-4000-8000-000000000004', $1, 'c0000000-0000-4000-8000-000000000001', 'INV-4', 'issued', 'NZD', '2025-12-01', '2025-12-01', NULL)`,
		`INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category)
		SELECT id, $1, 1, 'line', 1, 100, 'consulting' FROM finance.invoices WHERE tenant_id = $1`,
		`INSERT INTO finance.payments (id, tenant_id, invoice_id, amount, paid_on, method) VALUES
			('b0000000-0000-4000-8000-000000000001', $1, 'a0000000-0000-4000-8000-000000000001', 60, '2026-02-10', 'cash'),
			('b0000000-0000-4000-8000-000000000002', $1, 'a0000000-0000-4000-8000-000000000001', 40, '2026-02-11', 'cash')`,
		`INSERT INTO xerosync.entities (entity, entity_id, tenant_id, xero_id) VALUES ('contact', 'c0000000-0000-4000-8000-000000000002', $1, gen_random_uuid())`,
	} {
		db.Exec(t, stmt, tenant)
	}
	return db, tenant
}

func since(t *testing.T) xero.Date {
	d, err := xero.ParseDate("2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// backfillRows lists the backfilled rows as "entity-suffix action", in id order, checking
// that each has no WAL position.
func backfillRows(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT entity, right(entity_id::text, 1), action, commit_lsn IS NULL AND commit_idx IS NULL
		FROM xerosync.outbox WHERE source = 'backfill' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var entity, n, action string
		var noLSN bool
		if err := rows.Scan(&entity, &n, &action, &noLSN); err != nil {
			t.Fatal(err)
		}
		if !noLSN {
			t.Errorf("%s %s %s has a WAL position", entity, n, action)
		}
		out = append(out, entity+n+" "+action)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Backfill queues the history once, in order, reports its progress pass by pass, and a
// second run queues nothing.
func TestBackfillQueuesHistoryOnce(t *testing.T) {
	t.Parallel()
	db, tenant := backfillDB(t)
	var progress []outbox.BackfillProgress
	p := outbox.BackfillParams{DB: db.Pool, Tenant: tenant, Since: since(t), Slot: "none",
		Progress:          func(bp outbox.BackfillProgress) { progress = append(progress, bp) },
		WaitingForCapture: func(string, int) { t.Error("waited for capture, which never ran here") },
	}
	res, err := outbox.Backfill(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := outbox.BackfillResult{Invoices: 2, Voids: 1, Contacts: 1, Payments: 2, InvoicesDone: true}
	if res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if got, want := backfillRows(t, db), []string{"contact1 upsert", "invoice1 issue", "invoice2 issue", "invoice2 void", "payment1 pay", "payment2 pay"}; !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	wantProgress := []outbox.BackfillProgress{
		{Pass: "invoices", Done: 2, Total: 2}, {Pass: "invoices", Done: 2, Total: 2, Finished: true},
		{Pass: "payments", Done: 2, Total: 2}, {Pass: "payments", Done: 2, Total: 2, Finished: true},
	}
	if !slices.Equal(progress, wantProgress) {
		t.Errorf("progress %+v, want %+v", progress, wantProgress)
	}

	progress = nil
	res, err = outbox.Backfill(context.Background(), p)
	if err != nil || res != (outbox.BackfillResult{InvoicesDone: true}) {
		t.Fatalf("second run: %+v, %v; want nothing queued", res, err)
	}
	if len(backfillRows(t, db)) != 6 {
		t.Error("the second run queued rows")
	}
}

// Payments wait for capture to read past them; when it does not in time, the invoices stay
// queued and the error says what to do.
func TestBackfillWaitsForCapture(t *testing.T) {
	t.Parallel()
	db, tenant := backfillDB(t)
	db.Exec(t, `INSERT INTO xerosync.checkpoint (slot_name, lsn) VALUES ('slot', '0/1')`)
	var waited []int
	res, err := outbox.Backfill(context.Background(), outbox.BackfillParams{DB: db.Pool, Tenant: tenant, Since: since(t), Slot: "slot",
		CaptureWait:       300 * time.Millisecond,
		WaitingForCapture: func(_ string, n int) { waited = append(waited, n) },
	})
	if err == nil || !strings.Contains(err.Error(), "2 payments are not queued yet: capture (slot slot) is at 0/1") {
		t.Fatalf("error %v", err)
	}
	if !res.InvoicesDone || res.Invoices != 2 || res.Payments != 0 || !slices.Equal(waited, []int{2}) {
		t.Errorf("result %+v, waited %v", res, waited)
	}
	if got := backfillRows(t, db); len(got) != 4 {
		t.Errorf("rows %q: the invoice pass's rows should stay", got)
	}
}
