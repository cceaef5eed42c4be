package outbox_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
)

// A commit is in the WAL before other sessions see it: logical decoding hands it over once
// it is flushed, and the committing session leaves the proc array only after its synchronous
// standby answers. Here that standby never answers until the test lets it: the server names
// one in synchronous_standby_names, its default is synchronous_commit = local (so capture and
// everyone else go on), and Softbooq's writers set synchronous_commit = on. Their commits are
// durable and decoded, but invisible. Everything capture reads from the tables for them —
// an invoice's lines, the customer an invoice needs — must be read once they are visible,
// never as "not there". (Capture once queued such invoices without lines, and Xero refused
// them.)
func TestReadsWaitUntilCommitVisible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := pgtest.Own(t, pgtest.LocalConfig{}) // stopped after capture (cleanups run last first)
	url, err := cl.CreateDatabase(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	// The standby that never answers. Set in the configuration file and read at start, so
	// that it holds from the first commit (a reload reaches the checkpointer, which releases
	// and holds commits, a moment later).
	for _, sql := range []string{`ALTER SYSTEM SET synchronous_standby_names = 'never_answers'`, `ALTER SYSTEM SET synchronous_commit = 'local'`} {
		if err := adminExec(ctx, cl.URL("postgres"), sql); err != nil {
			t.Fatal(err)
		}
	}
	// A server whose sessions default to REPEATABLE READ: capture's transaction must still
	// take a new snapshot per statement, or no wait could ever see the commits.
	if err := adminExec(ctx, cl.URL("postgres"), `ALTER DATABASE app SET default_transaction_isolation = 'repeatable read'`); err != nil {
		t.Fatal(err)
	}
	if err := cl.Restart(ctx, false); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url+"&pool_max_conns=20") // three writers held, capture, the test
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newSetupOn(t, &pgtest.DB{Cluster: cl, Name: "app", URL: url, Pool: pool}, cdc.Config{})
	cust := s.customer("Known Ltd")
	draft := s.invoiceWithLines(ctx, pool, cust, "DRAFT-1", "draft", 1)
	s.sync()

	// Three writers whose commits stay invisible: an invoice inserted issued, a draft issued
	// with its last line, a new customer invoiced in the transaction that creates it.
	type writer struct {
		name string
		xid  uint32
		done chan error
	}
	writers := []*writer{
		{name: "inserted issued"}, {name: "draft issued"}, {name: "new customer invoiced"},
	}
	var newCustomer string
	for i, w := range writers {
		w.done = make(chan error, 1)
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var xid8 string
		if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text, set_config('synchronous_commit', 'on', true)`).Scan(&xid8, new(string)); err != nil {
			t.Fatal(err)
		}
		full, _ := strconv.ParseUint(xid8, 10, 64)
		w.xid = uint32(full)
		switch i {
		case 0:
			s.invoiceWithLines(ctx, tx, cust, "ISSUED-1", "issued", 2)
		case 1:
			s.lines(ctx, tx, draft, 2, 2)
			if _, err := tx.Exec(ctx, `UPDATE finance.invoices SET status = 'issued', issued_at = now() WHERE id = $1`, draft); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := tx.QueryRow(ctx, `INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, 'New Ltd', 'new@example.com') RETURNING id::text`, s.tenant).Scan(&newCustomer); err != nil {
				t.Fatal(err)
			}
			s.invoiceWithLines(ctx, tx, newCustomer, "NEW-1", "issued", 2)
		}
		go func() { w.done <- tx.Commit(ctx) }()
		// One commit at a time, so that their order in the WAL (and the outbox's) is this one.
		waitFor(t, time.Minute, "writer "+w.name+" held by the synchronous standby", func() bool {
			return scalar(t, s.db, `SELECT count(*)::text FROM pg_stat_activity WHERE wait_event = 'SyncRep'`) == strconv.Itoa(i+1)
		})
	}
	// Each commit is durable and waits for the standby; capture has it. Either the enqueuer
	// handled it already (it read tables that did not show it yet), or capture waits for it
	// to become visible.
	waitFor(t, time.Minute, "the writers held by the synchronous standby", func() bool {
		return scalar(t, s.db, `SELECT count(*)::text FROM pg_stat_activity WHERE wait_event = 'SyncRep'`) == "3"
	})
	waitFor(t, time.Minute, "capture to handle or wait for the invisible commits", func() bool {
		all := true
		for _, w := range writers {
			if handed, applied := s.xidState(w.xid); !handed || !applied {
				all = false
			}
		}
		return all || scalar(t, s.db, `SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_visible_in_snapshot%' AND pid <> pg_backend_pid()`) != "0"
	})
	for _, w := range writers {
		select {
		case err := <-w.done:
			t.Fatalf("%s: committed (%v) before the standby answered: the test holds nothing", w.name, err)
		default:
		}
	}

	// The standby "answers": the commits become visible.
	for _, sql := range []string{`ALTER SYSTEM RESET synchronous_standby_names`, `SELECT pg_reload_conf()`} {
		if err := adminExec(ctx, cl.URL("postgres"), sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range writers {
		if err := <-w.done; err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
	}
	wantActions(t, s, "contact/upsert", "invoice/issue", "invoice/issue", "contact/upsert", "invoice/issue")
	rows := s.rows()
	for i, number := range map[int]string{1: "ISSUED-1", 2: "DRAFT-1", 4: "NEW-1"} {
		r := rows[i]
		if lines, _ := r.Payload["lines"].([]any); r.Payload["number"] != number || len(lines) != 2 {
			t.Errorf("row %d: invoice %v with %d lines, want %s with 2", i, r.Payload["number"], len(lines), number)
		}
	}
	if r := rows[3]; r.EntityID != newCustomer || r.Payload["email"] != "new@example.com" {
		t.Errorf("row 3: %s %v, want the new customer's contact", r.EntityID, r.Payload)
	}
}

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// invoiceWithLines inserts an invoice of customer with n lines through db.
func (s *setup) invoiceWithLines(ctx context.Context, db querier, customer, number, status string, n int) string {
	s.t.Helper()
	var id string
	if err := db.QueryRow(ctx, `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date)
		VALUES ($1, $2, $3, $4, 'NZD', '2026-11-01') RETURNING id::text`, s.tenant, customer, number, status).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	s.lines(ctx, db, id, 1, n)
	return id
}

// lines inserts lines from..to of an invoice through db.
func (s *setup) lines(ctx context.Context, db querier, invoice string, from, to int) {
	s.t.Helper()
	for p := from; p <= to; p++ {
		if _, err := db.Exec(ctx, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category)
			VALUES ($1, $2, $3, $4, 10, 'consulting')`, invoice, s.tenant, p, fmt.Sprint("line ", p)); err != nil {
			s.t.Fatal(err)
		}
	}
}

// adminExec runs one statement on a fresh connection to url.
func adminExec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
