package daemon_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
)

// Softbooq ids of the resync fixture: customers rc*, invoices ri*, payments rp*.
const (
	rc1 = "c0000000-0000-4000-8000-00000000a001" // email changed in the gap
	rc2 = "c0000000-0000-4000-8000-00000000a002" // renamed and renamed back in the gap; email changed after resync
	rc3 = "c0000000-0000-4000-8000-00000000a003" // only notes changed in the gap
	rc4 = "c0000000-0000-4000-8000-00000000a004" // inserted in the gap
	ri1 = "a0000000-0000-4000-8000-00000000a001" // issued and paid before the loss
	ri2 = "a0000000-0000-4000-8000-00000000a002" // issued before, voided in the gap
	ri3 = "a0000000-0000-4000-8000-00000000a003" // issued before, paid in the gap
	ri4 = "a0000000-0000-4000-8000-00000000a004" // drafted and issued in the gap (customer rc4)
	ri5 = "a0000000-0000-4000-8000-00000000a005" // issued and voided in the gap
	ri6 = "a0000000-0000-4000-8000-00000000a006" // inserted issued in the gap and paid (customer rc3)
	rp1 = "b0000000-0000-4000-8000-00000000a001"
	rp2 = "b0000000-0000-4000-8000-00000000a002"
	rp3 = "b0000000-0000-4000-8000-00000000a003"
)

// outboxCounts counts the outbox rows by entity/action.
func outboxCounts(t *testing.T, db *pgtest.DB) map[string]int {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT entity || '/' || action, count(*) FROM xerosync.outbox GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitDrained waits until every outbox row is done, and fails on a failed one.
func waitDrained(t *testing.T, db *pgtest.DB, what string) {
	t.Helper()
	var open, failed int
	var last string
	waitFor(t, 60*time.Second, what, func() bool {
		err := db.Pool.QueryRow(context.Background(), `
			SELECT count(*) FILTER (WHERE state IN ('pending', 'in_flight')), count(*) FILTER (WHERE state = 'failed'),
			       coalesce(string_agg(id || ' ' || entity || '/' || action || ' ' || state || ' ' || coalesce(last_error, ''), '; ') FILTER (WHERE state <> 'done'), '')
			  FROM xerosync.outbox`).Scan(&open, &failed, &last)
		if err != nil {
			t.Fatal(err)
		}
		if failed > 0 {
			t.Fatalf("failed outbox rows: %s", last)
		}
		return open == 0
	}, func() string { return "unfinished rows: " + last })
}

// waitSlotInactive waits until no process holds the test database's slot.
func waitSlotInactive(t *testing.T, db *pgtest.DB) {
	t.Helper()
	waitFor(t, 30*time.Second, "slot "+db.Name+" inactive", func() bool { return !slotActive(t, db) }, nil)
}

// captureOneAndStop is the resync tests' opening: tenant connected, a daemon leads, one
// customer (insert, with args) is captured into the outbox, and the daemon stops cleanly.
func captureOneAndStop(t *testing.T, db *pgtest.DB, env map[string]string, tenant, insert string, args ...any) {
	t.Helper()
	db.Exec(t, `INSERT INTO core.tenants (id, name) VALUES ($1, 'acme')`, tenant)
	db.Exec(t, `INSERT INTO xerosync.connections (tenant_id, state, org_name, queue_from_lsn, connected_at)
		VALUES ($1, 'connected', 'Acme', pg_current_wal_lsn(), now())`, tenant)
	a := startDaemon(t, "a", env)
	a.waitHealth(t, 30*time.Second, "a to lead", isLeaderOK)
	db.Exec(t, insert, args...)
	waitFor(t, 30*time.Second, "the customer queued", func() bool { return outboxCounts(t, db)["contact/upsert"] == 1 }, nil)
	if code := a.stop(t); code != 0 {
		t.Fatalf("a exited with %d", code)
	}
}

// testResyncSlotLost is issue 11's slot loss on the default PostgreSQL (15): a daemon
// captures and pushes a tenant, the daemon stops and the slot is dropped, Softbooq goes on
// (customers changed in Xero-held fields and not, invoices issued, voided and paid), then
// `xerosync resync` and the daemon again. Every change reaches Xero once, and what was queued
// before the loss is not queued again.
func testResyncSlotLost(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	db := x.db
	db.Exec(t, `INSERT INTO integrations.xero_account_mappings VALUES ($1, 'consulting', '200')`, tenantA)
	db.Exec(t, `INSERT INTO integrations.xero_payment_accounts VALUES ($1, 'bank_transfer', '090')`, tenantA)
	org := x.sim.State().Orgs[0].TenantID
	invoice := func(id, customer, number, status string) {
		issuedAt := "NULL"
		if status != "draft" {
			issuedAt = "now()"
		}
		db.Exec(t, `INSERT INTO finance.invoices (id, tenant_id, customer_id, number, status, currency, issue_date, due_date, issued_at)
			VALUES ($1, $2, $3, $4, $5, 'NZD', current_date, current_date + 30, `+issuedAt+`)`, id, tenantA, customer, number, status)
		db.Exec(t, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category)
			VALUES ($1, $2, 1, 'work', 1, 100, 'consulting')`, id, tenantA)
	}
	// A draft with its lines, then "Send Invoice": how Softbooq issues.
	issue := func(id, customer, number string) {
		db.Exec(t, `BEGIN; INSERT INTO finance.invoices (id, tenant_id, customer_id, number, status, currency, issue_date, due_date)
			VALUES ('`+id+`', '`+tenantA+`', '`+customer+`', '`+number+`', 'draft', 'NZD', current_date, current_date + 30);
			INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category)
			VALUES ('`+id+`', '`+tenantA+`', 1, 'work', 1, 100, 'consulting'); COMMIT`)
		db.Exec(t, `UPDATE finance.invoices SET status = 'issued', issued_at = now(), updated_at = now() WHERE id = $1`, id)
	}
	pay := func(id, inv, ref string) {
		db.Exec(t, `INSERT INTO finance.payments (id, tenant_id, invoice_id, amount, paid_on, method, reference)
			VALUES ($1, $2, $3, 100.00, current_date, 'bank_transfer', $4)`, id, tenantA, inv, ref)
		db.Exec(t, `UPDATE finance.invoices SET status = 'paid', updated_at = now() WHERE id = $1`, inv)
	}

	// Before the loss: captured and pushed.
	a := startDaemon(t, "a", x.env)
	a.waitHealth(t, 30*time.Second, "a to lead", isLeaderOK)
	db.Exec(t, `INSERT INTO crm.customers (id, tenant_id, name, email, country_code) VALUES
		($1, $4, 'Cust One', 'one@example.com', 'NZ'), ($2, $4, 'Cust Two', 'two@example.com', 'NZ'), ($3, $4, 'Cust Three', 'three@example.com', NULL)`,
		rc1, rc2, rc3, tenantA)
	invoice(ri1, rc1, "RS-1", "issued")
	invoice(ri2, rc2, "RS-2", "issued")
	invoice(ri3, rc1, "RS-3", "issued")
	pay(rp1, ri1, "P1")
	waitFor(t, 60*time.Second, "the changes before the loss in Xero", func() bool {
		return len(x.sim.Invoices(org)) == 3 && len(x.sim.Payments(org)) == 1
	}, nil)
	waitDrained(t, db, "the outbox drained before the loss")
	if code := a.stop(t); code != 0 {
		t.Fatalf("a exited with %d", code)
	}
	before := outboxCounts(t, db)

	// The slot is lost; Softbooq goes on. (The server ends the stopped daemon's walsender a
	// moment after the daemon has gone.)
	waitSlotInactive(t, db)
	db.Exec(t, `SELECT pg_drop_replication_slot($1)`, db.Name)
	db.Exec(t, `UPDATE crm.customers SET email = 'one-new@example.com', updated_at = now() WHERE id = $1`, rc1)
	db.Exec(t, `UPDATE crm.customers SET name = 'Temporary', updated_at = now() WHERE id = $1`, rc2)
	db.Exec(t, `UPDATE crm.customers SET name = 'Cust Two', updated_at = now() WHERE id = $1`, rc2)
	db.Exec(t, `UPDATE crm.customers SET notes = 'rang on Tuesday', updated_at = now() WHERE id = $1`, rc3)
	db.Exec(t, `INSERT INTO crm.customers (id, tenant_id, name, email, country_code) VALUES ($1, $2, 'Cust Four', 'four@example.com', 'AU')`, rc4, tenantA)
	db.Exec(t, `UPDATE finance.invoices SET status = 'void', voided_at = now(), updated_at = now() WHERE id = $1`, ri2)
	pay(rp2, ri3, "P2")
	issue(ri4, rc4, "RS-4")
	issue(ri5, rc1, "RS-5")
	db.Exec(t, `UPDATE finance.invoices SET status = 'void', voided_at = now(), updated_at = now() WHERE id = $1`, ri5)
	db.Exec(t, `UPDATE finance.invoices SET reference = 'internal note', updated_at = now() WHERE id = $1`, ri1) // Xero is not told of invoice edits
	invoice(ri6, rc3, "RS-6", "issued")
	pay(rp3, ri6, "P3")

	// The daemon refuses the lost slot; resync recovers it.
	if code, out := runUntilExit(t, x.env); code != daemon.ExitFailure || !strings.Contains(out, "xerosync resync") {
		t.Errorf("run with the slot gone: exit %d, want 1 and resync advised\n%s", code, out)
	}
	r := runCmd(t, x.env, "resync")
	if r.code != 0 {
		t.Fatalf("resync: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"slot " + db.Name + " was missing (xerosync had captured up to ",
		"tenant " + tenantA + ": 4 customers compared; queued 2 contact upserts, 3 invoice issues, 2 voids, 2 payments",
		"start xerosync",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("resync's output lacks %q", want)
		}
	}
	after := outboxCounts(t, db)
	delta := map[string]int{"contact/upsert": 2, "invoice/issue": 3, "invoice/void": 2, "payment/pay": 2}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if after[k]-before[k] != delta[k] {
			t.Errorf("%s: %d rows before resync, %d after; want %d more", k, before[k], after[k], delta[k])
		}
	}
	var resyncRows int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM xerosync.outbox WHERE source = 'resync'`).Scan(&resyncRows); err != nil {
		t.Fatal(err)
	}
	if resyncRows != 9 {
		t.Errorf("%d rows with source resync, want 9", resyncRows)
	}
	// On 17 and later the new slot is a failover slot, as capture's own are.
	var failoverRight bool
	if err := db.Pool.QueryRow(context.Background(), `
		SELECT coalesce((to_jsonb(s) ->> 'failover')::boolean, false) = (current_setting('server_version_num')::int >= 170000)
		  FROM pg_replication_slots s WHERE slot_name = $1`, db.Name).Scan(&failoverRight); err != nil || !failoverRight {
		t.Errorf("the new slot's failover flag is wrong for this version (%v)", err)
	}
	// A second resync finds a healthy slot and changes nothing.
	if r := runCmd(t, x.env, "resync"); r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "healthy") {
		t.Errorf("second resync: exit %d, want 1 (healthy)\n%s", r.code, r.stderr)
	}

	// The daemon again: it streams from the new slot's start and pushes everything once.
	b := startDaemon(t, "b", x.env)
	b.waitHealth(t, 30*time.Second, "b to lead", isLeaderOK)
	db.Exec(t, `UPDATE crm.customers SET email = 'two-new@example.com', updated_at = now() WHERE id = $1`, rc2)
	waitFor(t, 60*time.Second, "every change in Xero", func() bool {
		ok := len(x.sim.Invoices(org)) == 6 && len(x.sim.Payments(org)) == 3
		for _, c := range x.sim.Contacts(org) {
			ok = ok && (c.ContactNumber != rc2 || c.EmailAddress == "two-new@example.com")
		}
		return ok
	}, nil)
	waitDrained(t, db, "the outbox drained after resync")

	for _, c := range []string{rc1, rc2, rc3, rc4} {
		if n := x.sim.ContactCreations(org, c); n != 1 {
			t.Errorf("contact %s created %d times, want 1", c, n)
		}
	}
	wantStatus := map[string]string{"RS-1": "PAID", "RS-2": "VOIDED", "RS-3": "PAID", "RS-4": "AUTHORISED", "RS-5": "VOIDED", "RS-6": "PAID"}
	ids := map[string]string{}
	for _, inv := range x.sim.Invoices(org) {
		ids[inv.InvoiceNumber] = inv.InvoiceID
		if inv.Status != wantStatus[inv.InvoiceNumber] {
			t.Errorf("invoice %s is %s in Xero, want %s", inv.InvoiceNumber, inv.Status, wantStatus[inv.InvoiceNumber])
		}
	}
	for number := range wantStatus {
		if n := x.sim.InvoiceCreations(org, number); n != 1 {
			t.Errorf("invoice %s created %d times, want 1", number, n)
		}
	}
	for ref, number := range map[string]string{"P1": "RS-1", "P2": "RS-3", "P3": "RS-6"} {
		if n := x.sim.PaymentCreations(org, ids[number], ref); n != 1 {
			t.Errorf("payment %s on %s created %d times, want 1", ref, number, n)
		}
	}
	emails := map[string]string{rc1: "one-new@example.com", rc2: "two-new@example.com", rc3: "three@example.com", rc4: "four@example.com"}
	for _, c := range x.sim.Contacts(org) {
		if c.EmailAddress != emails[c.ContactNumber] {
			t.Errorf("contact %s (%s) has email %q in Xero, want %q", c.Name, c.ContactNumber, c.EmailAddress, emails[c.ContactNumber])
		}
		if c.ContactNumber == rc2 && c.Name != "Cust Two" {
			t.Errorf("contact %s is named %q in Xero, want Cust Two", rc2, c.Name)
		}
	}
}

// testResyncRefuses: resync refuses while a daemon leads (it would replace the slot under
// it), refuses a healthy slot without --force and recreates it with --force, and refuses a
// database where xerosync never captured; each says what to do.
func testResyncRefuses(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, nil)
	if r := runCmd(t, env, "resync"); r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "never captured") {
		t.Errorf("resync before any capture: exit %d, want 1 (never captured)\n%s", r.code, r.stderr)
	}
	a := startDaemon(t, "a", env)
	a.waitHealth(t, 30*time.Second, "a to lead", isLeaderOK)
	r := runCmd(t, env, "resync")
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "a xerosync daemon leads slot "+db.Name) || !strings.Contains(r.stderr, "systemctl stop xerosync") {
		t.Errorf("resync beside a running daemon: exit %d, want 1 with the advice to stop it\n%s", r.code, r.stderr)
	}
	if code := a.stop(t); code != 0 {
		t.Fatalf("a exited with %d", code)
	}
	waitSlotInactive(t, db) // resync waits a few seconds too; this makes it certain
	var before string
	if err := db.Pool.QueryRow(context.Background(), `SELECT lsn::text FROM xerosync.checkpoint WHERE slot_name = $1`, db.Name).Scan(&before); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, env, "resync")
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "exists and is healthy") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("resync with a healthy slot: exit %d, want 1 naming --force\n%s", r.code, r.stderr)
	}
	var after string
	if err := db.Pool.QueryRow(context.Background(), `SELECT lsn::text FROM xerosync.checkpoint WHERE slot_name = $1`, db.Name).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the refused resync moved the position from %s to %s", before, after)
	}
	r = runCmd(t, env, "resync", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "was healthy") || !strings.Contains(r.stdout, "dropped (--force)") {
		t.Errorf("resync --force: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The recreated slot is the daemon's again.
	b := startDaemon(t, "b", env)
	b.waitHealth(t, 30*time.Second, "b to lead on the recreated slot", isLeaderOK)
}

// TestResyncInvalidatedSlot: a slot that PostgreSQL invalidated because it held more WAL
// than max_slot_wal_keep_size (wal_status 'lost') while the daemon was stopped. The daemon
// refuses it; resync drops it, queues what changed meanwhile, and capture continues from the
// new slot.
func TestResyncInvalidatedSlot(t *testing.T) {
	t.Parallel()
	cl := pgtest.Own(t, pgtest.LocalConfig{Settings: map[string]string{"max_slot_wal_keep_size": "1MB"}})
	ctx := context.Background()
	url, err := cl.CreateDatabase(ctx, "resync_lost")
	if err != nil {
		t.Fatal(err)
	}
	db := &pgtest.DB{Cluster: cl, Name: "resync_lost", URL: url}
	if db.Pool, err = pgxpool.New(ctx, url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Pool.Close)
	env := dbEnv(db, map[string]string{"XEROSYNC_DATABASE_SLOT": "xerosync"})
	tenant := "7a1d9c2e-4b3f-4e8a-9c1d-2e3f4a5b6c7d"
	captureOneAndStop(t, db, env, tenant, `INSERT INTO crm.customers (id, tenant_id, name, email) VALUES ($1, $2, 'Cust One', 'one@example.com')`, rc1, tenant)

	// While it is stopped: a change, then enough WAL that PostgreSQL gives up on the slot.
	db.Exec(t, `UPDATE crm.customers SET email = 'one-new@example.com', updated_at = now() WHERE id = $1`, rc1)
	invoiceIssued := func(id, number string) {
		db.Exec(t, `BEGIN; INSERT INTO finance.invoices (id, tenant_id, customer_id, number, status, currency, issue_date, issued_at)
			VALUES ('`+id+`', '`+tenant+`', '`+rc1+`', '`+number+`', 'issued', 'NZD', current_date, now());
			INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category)
			VALUES ('`+id+`', '`+tenant+`', 1, 'work', 100, 'consulting'); COMMIT`)
	}
	invoiceIssued(ri1, "LOST-1")
	db.Exec(t, `CREATE TABLE public.filler (x text)`)
	var status string
	waitFor(t, 60*time.Second, "the slot to be lost", func() bool {
		db.Exec(t, `INSERT INTO public.filler SELECT repeat('x', 100) FROM generate_series(1, 1000)`)
		db.Exec(t, `SELECT pg_switch_wal()`)
		db.Exec(t, `CHECKPOINT`)
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = 'xerosync'`).Scan(&status); err != nil {
			t.Fatal(err)
		}
		return status == "lost"
	}, func() string { return "wal_status " + status })

	if code, out := runUntilExit(t, env); code != daemon.ExitFailure || !strings.Contains(out, "is lost") || !strings.Contains(out, "xerosync resync") {
		t.Errorf("run with a lost slot: exit %d, want 1 and resync advised\n%s", code, out)
	}
	r := runCmd(t, env, "resync")
	if r.code != 0 {
		t.Fatalf("resync: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"slot xerosync was invalidated (", "); dropped",
		"tenant " + tenant + ": 1 customers compared; queued 1 contact upserts, 1 invoice issues",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("resync's output lacks %q", want)
		}
	}
	// PostgreSQL 17 and later say why (invalidation_reason); 15 and 16 only that it is lost.
	if !strings.Contains(r.stdout, "(wal_status lost") && !strings.Contains(r.stdout, "(invalidation_reason wal_removed") {
		t.Errorf("resync's output does not say why the slot was invalidated")
	}
	got := outboxCounts(t, db)
	if fmt.Sprint(got) != fmt.Sprint(map[string]int{"contact/upsert": 2, "invoice/issue": 1}) {
		t.Errorf("outbox after resync: %v, want 2 contact upserts and 1 invoice issue", got)
	}

	// Capture goes on from the new slot: a change after resync is queued once.
	b := startDaemon(t, "b", env)
	b.waitHealth(t, 30*time.Second, "b to lead", isLeaderOK)
	invoiceIssued(ri2, "LOST-2")
	waitFor(t, 30*time.Second, "the invoice issued after resync queued", func() bool { return outboxCounts(t, db)["invoice/issue"] == 2 }, nil)
	if got := outboxCounts(t, db); got["contact/upsert"] != 2 {
		t.Errorf("outbox after the restart: %v; no contact upsert was due", got)
	}
}

// testResyncUnderWrites: Softbooq keeps inserting customers while resync runs. Each insert
// committed before the new slot's start is in the snapshot (resync queues it), each one after
// comes through the slot (capture queues it): every customer gets exactly one upsert, none
// two, none none.
func testResyncUnderWrites(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, nil)
	ctx := context.Background()
	tenant := "3c9e1f2a-5d4b-4a6c-8e7f-9a0b1c2d3e4f"
	captureOneAndStop(t, db, env, tenant, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'before')`, tenant)
	waitSlotInactive(t, db)
	db.Exec(t, `SELECT pg_drop_replication_slot($1)`, db.Name)

	// A writer inserting customers one transaction at a time, through resync and after it.
	wctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	written := make(chan int, 1)
	go func() {
		n := 0
		for wctx.Err() == nil {
			if _, err := db.Pool.Exec(ctx, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'during ' || $2::int)`, tenant, n); err != nil {
				t.Errorf("insert: %v", err)
				break
			}
			n++
		}
		written <- n
	}()
	time.Sleep(200 * time.Millisecond)
	r := runCmd(t, env, "resync")
	if r.code != 0 {
		stop()
		<-written
		t.Fatalf("resync: exit %d\n%s", r.code, r.stderr)
	}
	b := startDaemon(t, "b", env)
	b.waitHealth(t, 30*time.Second, "b to lead", isLeaderOK)
	time.Sleep(200 * time.Millisecond)
	stop()
	n := <-written
	var customers int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM crm.customers WHERE tenant_id = $1`, tenant).Scan(&customers); err != nil {
		t.Fatal(err)
	}
	if customers != n+1 {
		t.Fatalf("%d customers, %d written", customers, n+1)
	}
	// A last customer, after every other write: once capture has queued it, it has queued
	// everything committed before it (it commits in commit order).
	var last string
	if err := db.Pool.QueryRow(ctx, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'last') RETURNING id::text`, tenant).Scan(&last); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the last customer queued", func() bool {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM xerosync.outbox WHERE entity_id = $1`, last).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}, nil)
	var viaResync, twice, none int
	err := db.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM xerosync.outbox WHERE source = 'resync'),
		       (SELECT count(*) FROM (SELECT entity_id FROM xerosync.outbox WHERE entity = 'contact' GROUP BY 1 HAVING count(*) > 1) x),
		       (SELECT count(*) FROM crm.customers c WHERE NOT EXISTS (SELECT 1 FROM xerosync.outbox o WHERE o.entity_id = c.id))`).Scan(&viaResync, &twice, &none)
	if err != nil {
		t.Fatal(err)
	}
	if none > 0 {
		t.Errorf("%d customers never queued", none)
	}
	if twice > 0 {
		t.Errorf("%d customers queued twice", twice)
	}
	t.Logf("%d customers written during the gap and after; %d queued by resync, the rest by capture", n, viaResync)
	if viaResync == 0 || viaResync == n {
		t.Errorf("the writes did not straddle the new slot's start (%d of %d by resync): the boundary was not exercised", viaResync, n)
	}
	t.Log(r.stdout)
}

// testResyncOnSlotLost: with database.on_slot_lost = "resync" the leader recovers a lost
// slot itself before it captures, as `xerosync resync` would, and says so in its log.
func testResyncOnSlotLost(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, map[string]string{"XEROSYNC_DATABASE_ON_SLOT_LOST": "resync"})
	tenant := "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
	captureOneAndStop(t, db, env, tenant, `INSERT INTO crm.customers (id, tenant_id, name, email) VALUES ($1, $2, 'Cust One', 'one@example.com')`, rc1, tenant)
	waitSlotInactive(t, db)
	db.Exec(t, `SELECT pg_drop_replication_slot($1)`, db.Name)
	db.Exec(t, `UPDATE crm.customers SET email = 'one-new@example.com', updated_at = now() WHERE id = $1`, rc1)
	db.Exec(t, `UPDATE crm.customers SET notes = 'not for Xero', updated_at = now() WHERE id = $1`, rc1)

	b := startDaemon(t, "b", env)
	b.waitHealth(t, 30*time.Second, "b to lead on a recreated slot", isLeaderOK)
	if got := outboxCounts(t, db)["contact/upsert"]; got != 2 {
		t.Errorf("%d contact upserts after the leader's resync, want 2", got)
	}
	db.Exec(t, `INSERT INTO crm.customers (id, tenant_id, name) VALUES ($1, $2, 'Cust Four')`, rc4, tenant)
	waitFor(t, 30*time.Second, "a customer inserted after the resync queued", func() bool { return outboxCounts(t, db)["contact/upsert"] == 3 }, nil)
	if log := b.stderr.String(); !strings.Contains(log, "replication slot was lost: recreated") {
		t.Errorf("the leader's log does not say it recreated the slot")
	}
}
