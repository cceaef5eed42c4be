package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/softbooq/xerosync/cdc"
)

// load is Softbooq writing while its schema changes: one transaction after another, each a
// new customer, an invoice issued with two lines and a payment of it. Column names come from
// cols, so a test can rename a column the way Softbooq's migration would (the application
// changes with it); pause holds the writer between transactions.
type load struct {
	s    *setup
	mu   sync.Mutex // held by the writer during a transaction, by pause in between
	cols map[string]string
	// tables maps a table to the name the application now writes it by.
	tables map[string]string
	done   chan struct{}
	stop   chan struct{}

	n    int      // transactions committed
	xids []uint32 // their transaction ids, in commit order
	err  error
}

func startLoad(s *setup) *load {
	l := &load{s: s, cols: map[string]string{}, tables: map[string]string{}, done: make(chan struct{}), stop: make(chan struct{})}
	go l.run()
	s.t.Cleanup(l.end)
	return l
}

// col is the name of table's column as the application now writes it.
func (l *load) col(table, name string) string {
	if c, ok := l.cols[table+"."+name]; ok {
		return c
	}
	return name
}

// tbl is table's name as the application now writes it.
func (l *load) tbl(table string) string {
	if t, ok := l.tables[table]; ok {
		return t
	}
	return table
}

func (l *load) run() {
	defer close(l.done)
	ctx := context.Background()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		l.mu.Lock()
		xid, err := l.write(ctx, i)
		if err == nil {
			l.n++
			l.xids = append(l.xids, xid)
		}
		l.mu.Unlock()
		if err != nil {
			l.err = err
			return
		}
	}
}

func (l *load) write(ctx context.Context, i int) (uint32, error) {
	tx, err := l.s.db.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var xid8 string
	var cust, inv string
	if err := tx.QueryRow(ctx, fmt.Sprintf(`INSERT INTO crm.customers (%s, name, %s) VALUES ($1, $2, $3)
		RETURNING id::text, pg_current_xact_id()::text`, l.col("crm.customers", "tenant_id"), l.col("crm.customers", "email")),
		l.s.tenant, fmt.Sprint("load ", i), fmt.Sprintf("load%d@example.com", i)).Scan(&cust, &xid8); err != nil {
		return 0, fmt.Errorf("customer: %w", err)
	}
	if err := tx.QueryRow(ctx, fmt.Sprintf(`INSERT INTO finance.invoices (tenant_id, customer_id, number, %s, currency, issue_date)
		VALUES ($1, $2, $3, 'issued', 'NZD', '2026-11-01') RETURNING id::text`, l.col("finance.invoices", "status")),
		l.s.tenant, cust, fmt.Sprint("L-", i)).Scan(&inv); err != nil {
		return 0, fmt.Errorf("invoice: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category)
		VALUES ($1, $2, 1, 'a', 10, 'consulting'), ($1, $2, 2, 'b', 5.5, 'consulting')`, inv, l.s.tenant); err != nil {
		return 0, fmt.Errorf("lines: %w", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s, invoice_id, amount, paid_on, method)
		VALUES ($1, $2, $3, '2026-11-02', 'card')`, l.tbl("finance.payments"), l.col("finance.payments", "tenant_id")), l.s.tenant, inv, fmt.Sprintf("%d.25", i+1)); err != nil {
		return 0, fmt.Errorf("payment: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	full, err := strconv.ParseUint(xid8, 10, 64)
	return uint32(full), err // the WAL carries the 32-bit xid
}

// count is the number of transactions committed so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// await waits until n more transactions have committed.
func (l *load) await(n int) {
	l.s.t.Helper()
	target := l.count() + n
	waitFor(l.s.t, time.Minute, fmt.Sprint(n, " more load transactions"), func() bool {
		select {
		case <-l.done:
			l.s.t.Fatalf("load stopped: %v", l.err)
		default:
		}
		return l.count() >= target
	})
}

// while runs f with the writer held between two transactions: a migration under load.
func (l *load) while(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// end stops the writer and fails the test if it had failed.
func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	if l.err != nil {
		l.s.t.Errorf("load: %v", l.err)
	}
}

// wantAllQueued checks the outbox against Softbooq's tables: every customer, invoice and
// payment queued exactly once, each invoice with its two lines, each payment with its
// amount, and nothing else.
func wantAllQueued(t *testing.T, s *setup) {
	t.Helper()
	for _, q := range []struct{ what, sql string }{
		{"customers without exactly one upsert", `SELECT count(*) FROM crm.customers c
			WHERE (SELECT count(*) FROM xerosync.outbox o WHERE o.entity = 'contact' AND o.entity_id = c.id) <> 1`},
		{"invoices without exactly one issue of two lines", `SELECT count(*) FROM finance.invoices i
			WHERE (SELECT count(*) FROM xerosync.outbox o WHERE o.entity = 'invoice' AND o.action = 'issue' AND o.entity_id = i.id
			       AND json_array_length(o.payload->'lines') = 2 AND o.payload->>'number' = i.number) <> 1`},
		{"payments without exactly one pay of their amount", `SELECT count(*) FROM finance.payments p
			WHERE (SELECT count(*) FROM xerosync.outbox o WHERE o.entity = 'payment' AND o.entity_id = p.id
			       AND o.payload->>'amount' = p.amount::text) <> 1`},
		{"outbox rows of nothing in Softbooq", `SELECT count(*) FROM xerosync.outbox o
			WHERE NOT EXISTS (SELECT FROM crm.customers WHERE id = o.entity_id)
			  AND NOT EXISTS (SELECT FROM finance.invoices WHERE id = o.entity_id)
			  AND NOT EXISTS (SELECT FROM finance.payments WHERE id = o.entity_id)`},
	} {
		if n := s.one("SELECT (" + q.sql + ")::text"); n != "0" {
			t.Errorf("%s: %s", q.what, n)
		}
	}
}

// Softbooq's migrations that leave what we read alone — a column added, a column we do not
// read dropped, types widened, an index built — are taken in stride while it writes: every
// change is queued once and right, across the new relation messages.
func TestSchemaChangesWeDoNotReadUnderLoad(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	l := startLoad(s)
	l.await(20)
	for _, ddl := range []string{
		`ALTER TABLE crm.customers ADD COLUMN loyalty_tier text DEFAULT 'gold'`,
		`ALTER TABLE finance.invoices ADD COLUMN po_number text, ADD COLUMN memo text`,
		`ALTER TABLE crm.customers DROP COLUMN notes`,
		`ALTER TABLE finance.invoices DROP COLUMN voided_at`,
		`ALTER TABLE finance.payments ALTER COLUMN amount TYPE numeric(20,2)`,
		`ALTER TABLE finance.invoice_lines ALTER COLUMN quantity TYPE numeric(20,4)`,
		`ALTER TABLE crm.customers ALTER COLUMN phone TYPE varchar(200)`, // text → varchar: a new type, same text
		`CREATE INDEX ON finance.payments (method, paid_on)`,
		`CREATE INDEX ON crm.customers (lower(email))`,
	} {
		s.db.Exec(t, ddl) // concurrently with the writer: it waits for the table's lock
		l.await(10)
	}
	l.end()
	s.sync()
	if err := s.capture.Status().Err; err != nil {
		t.Fatalf("capture reports %v", err)
	}
	if n := s.one("SELECT count(*)::text FROM finance.invoices"); n == "0" {
		t.Fatal("no load written")
	}
	wantAllQueued(t, s)
}

// A column the enqueuer reads, renamed while Softbooq writes, stops capture with an error
// naming the table and the column: nothing is read as "unchanged" or empty. Transactions
// written before the rename whose capture reads the table stop it too, until the column is
// renamed back; then capture gets through them and stops at the first transaction written
// with the new name. Nothing of that transaction or after it is queued, the stored position
// stays before it, and a restarted capture stops at that same transaction again: it is never
// skipped. (A renamed finance.invoices.status once left an issued invoice unqueued and
// dropped its payment, and a renamed finance.payments.tenant_id dropped payments without a
// log line: a missing column read as "unchanged".)
func TestRenamedColumnStopsCaptureUnderLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ table, column string }{
		{"finance.invoices", "status"},
		{"finance.payments", "tenant_id"},
		{"crm.customers", "email"},
	} {
		t.Run(tc.table+"."+tc.column, func(t *testing.T) {
			t.Parallel()
			s := newSetup(t, cdc.Config{ReconnectMax: 200 * time.Millisecond})
			l := startLoad(s)
			l.await(20)
			var firstAfter int // index in l.xids of the first transaction written with the new name
			l.while(func() {
				s.db.Exec(t, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s_renamed", tc.table, tc.column, tc.column))
				l.cols[tc.table+"."+tc.column] = tc.column + "_renamed"
				firstAfter = l.n
			})
			l.await(5)
			l.end()
			waitFor(t, time.Minute, "capture to stop on the renamed column", func() bool {
				err := s.capture.Status().Err
				return err != nil && strings.Contains(err.Error(), fmt.Sprintf("%q", tc.column)) &&
					strings.Contains(err.Error(), tc.table)
			})

			s.db.Exec(t, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s_renamed TO %s", tc.table, tc.column, tc.column))
			schemaErr := waitSchemaError(t, s.capture)
			if schemaErr.Table != tc.table || schemaErr.Column != tc.column {
				t.Fatalf("capture stopped on %s column %q, want %s %q: %v", schemaErr.Table, schemaErr.Column, tc.table, tc.column, schemaErr)
			}
			if want := l.xids[firstAfter]; schemaErr.Xid != want {
				t.Fatalf("capture stopped at transaction %d, want %d (the first written after the rename)", schemaErr.Xid, want)
			}
			wantStoppedBefore(t, s, schemaErr.CommitLSN)
			wantQueuedUpTo(t, s, l.xids[:firstAfter])

			// The transactions written under the other name still carry it in the WAL: a
			// restarted capture resumes at the same transaction and stops there again.
			s.stopCapture()
			c, _ := startCapture(t, s.cfg)
			again := waitSchemaError(t, c)
			if again.Xid != schemaErr.Xid || again.CommitLSN != schemaErr.CommitLSN {
				t.Fatalf("after a restart capture stopped at %d (%s), want %d (%s)", again.Xid, again.CommitLSN, schemaErr.Xid, schemaErr.CommitLSN)
			}
			wantStoppedBefore(t, s, schemaErr.CommitLSN)
		})
	}
}

// A column we read, dropped while Softbooq writes (crm.customers.phone: a Xero-held field),
// stops capture with an error naming the table and the column, and nothing wrong is queued.
// It stops where it first needs the column: at the first transaction written without it
// (the relation no longer has it), or earlier, at a transaction written before the drop
// whose capture reads the table (the column is gone from the table too). Either way nothing
// from the drop on is queued, every row queued before the stop is right, and a restarted
// capture stops at the same place.
func TestDroppedColumnStopsCaptureUnderLoad(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{ReconnectMax: 200 * time.Millisecond})
	l := startLoad(s)
	l.await(20)
	var firstAfter int
	l.while(func() {
		s.db.Exec(t, `ALTER TABLE crm.customers DROP COLUMN phone`)
		firstAfter = l.n
	})
	l.await(5)
	l.end()
	stopped := func(c *cdc.Capture) string {
		var msg string
		waitFor(t, time.Minute, "capture to stop on the dropped column", func() bool {
			err := c.Status().Err
			if err == nil {
				return false
			}
			msg = err.Error()
			return strings.Contains(msg, "crm.customers") && strings.Contains(msg, `"phone"`)
		})
		return msg
	}
	first := stopped(s.capture)
	wantQueuedRight(t, s, 3*firstAfter)
	s.stopCapture()
	c, _ := startCapture(t, s.cfg)
	if again := stopped(c); strings.SplitN(again, ":", 2)[0] != strings.SplitN(first, ":", 2)[0] {
		t.Fatalf("after a restart capture stopped at %q, want where it stopped before: %q", again, first)
	}
	wantQueuedRight(t, s, 3*firstAfter)
}

// A watched table renamed out from under the publication while Softbooq writes (the
// publication follows the table, so its changes keep coming under the new name) stops capture
// at the first transaction that writes it under the new name, naming both names: the rows are
// neither dropped as "not ours" nor read as another table's. A restarted capture, which learns
// the relation afresh, stops at the same transaction.
func TestRenamedTableStopsCaptureUnderLoad(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{ReconnectMax: 200 * time.Millisecond})
	l := startLoad(s)
	l.await(20)
	var firstAfter int
	l.while(func() {
		s.db.Exec(t, `ALTER TABLE finance.payments RENAME TO payments_v2`)
		l.tables["finance.payments"] = "finance.payments_v2"
		firstAfter = l.n
	})
	l.await(5)
	l.end()
	schemaErr := waitSchemaError(t, s.capture)
	if schemaErr.Table != "finance.payments" || schemaErr.RenamedTo != "finance.payments_v2" {
		t.Fatalf("capture stopped with %v, want finance.payments renamed to finance.payments_v2", schemaErr)
	}
	if want := l.xids[firstAfter]; schemaErr.Xid != want {
		t.Fatalf("capture stopped at transaction %d, want %d (the first written after the rename)", schemaErr.Xid, want)
	}
	wantStoppedBefore(t, s, schemaErr.CommitLSN)
	wantQueuedUpTo(t, s, l.xids[:firstAfter])
	// A restarted capture does not get as far as the stream: the table it reads is gone, and
	// it says so, with the rename that undoes it, for the daemon to stop on (a SetupError).
	s.stopCapture()
	c, err := cdc.New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var setupErr *cdc.SetupError
	if err := c.Run(ctx); !errors.As(err, &setupErr) ||
		!strings.Contains(setupErr.Problem, "source table finance.payments does not exist") ||
		!strings.Contains(setupErr.Fix, "ALTER TABLE finance.payments_v2 RENAME TO payments") {
		t.Fatalf("a restarted capture returned %v, want a SetupError naming finance.payments and the rename back", err)
	}
	wantStoppedBefore(t, s, schemaErr.CommitLSN)
}

// waitSchemaError waits until capture reports a *cdc.SchemaError and returns it.
func waitSchemaError(t *testing.T, c *cdc.Capture) *cdc.SchemaError {
	t.Helper()
	var schemaErr *cdc.SchemaError
	waitFor(t, time.Minute, "capture to stop on the schema change", func() bool {
		return errors.As(c.Status().Err, &schemaErr)
	})
	return schemaErr
}

// wantStoppedBefore checks that neither the stored position nor any outbox row reaches the
// transaction that commits at lsn.
func wantStoppedBefore(t *testing.T, s *setup, lsn pglogrepl.LSN) {
	t.Helper()
	if past := s.one(`SELECT (lsn > $1::pg_lsn)::text FROM xerosync.checkpoint WHERE slot_name = $2`, lsn.String(), s.db.Name); past != "false" {
		t.Errorf("stored position is past the unreadable transaction at %s", lsn)
	}
	if n := s.one(`SELECT count(*)::text FROM xerosync.outbox WHERE commit_lsn >= $1::pg_lsn`, lsn.String()); n != "0" {
		t.Errorf("%s outbox rows from the unreadable transaction or later", n)
	}
}

// wantQueuedUpTo checks that exactly the load transactions xids are queued, each right.
func wantQueuedUpTo(t *testing.T, s *setup, xids []uint32) {
	t.Helper()
	// Each load transaction queued a contact, an invoice and a payment: three rows apiece.
	if got, want := s.one(`SELECT count(*)::text FROM xerosync.outbox`), strconv.Itoa(3*len(xids)); got != want {
		t.Errorf("outbox holds %s rows, want %s: three for each of the %d transactions before the rename", got, want, len(xids))
	}
	wantQueuedRight(t, s, 3*len(xids))
}

// wantQueuedRight checks that at most max rows are queued and that each queued invoice and
// payment is right.
func wantQueuedRight(t *testing.T, s *setup, max int) {
	t.Helper()
	if got, _ := strconv.Atoi(s.one(`SELECT count(*)::text FROM xerosync.outbox`)); got > max {
		t.Errorf("outbox holds %d rows, more than the %d of the transactions before the change", got, max)
	}
	payments := "finance.payments"
	if s.one(`SELECT (to_regclass('finance.payments') IS NULL)::text`) == "true" {
		payments = "finance.payments_v2" // TestRenamedTableStopsCaptureUnderLoad's
	}
	if n := s.one(`SELECT count(*)::text FROM xerosync.outbox o JOIN finance.invoices i ON i.id = o.entity_id
		WHERE o.action = 'issue' AND (json_array_length(o.payload->'lines') <> 2 OR o.payload->>'number' <> i.number)`); n != "0" {
		t.Errorf("%s issued invoices queued wrong", n)
	}
	if n := s.one(`SELECT count(*)::text FROM xerosync.outbox o JOIN ` + payments + ` p ON p.id = o.entity_id
		WHERE o.payload->>'amount' <> p.amount::text OR o.tenant_id <> p.tenant_id`); n != "0" {
		t.Errorf("%s payments queued wrong", n)
	}
}
