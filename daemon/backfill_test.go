package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// Softbooq ids of the backfill fixture: customers c*, invoices i*, payments p*.
const (
	c1 = "c0000000-0000-4000-8000-000000000001" // never queued: its upsert precedes its first invoice
	c2 = "c0000000-0000-4000-8000-000000000002" // linked already (entities)
	c3 = "c0000000-0000-4000-8000-000000000003" // queued already by capture (outbox)
	i1 = "a0000000-0000-4000-8000-000000000001" // paid, two payments
	i2 = "a0000000-0000-4000-8000-000000000002" // issued, one payment
	i3 = "a0000000-0000-4000-8000-000000000003" // draft: skipped
	i4 = "a0000000-0000-4000-8000-000000000004" // void after issue: issue, then void
	i5 = "a0000000-0000-4000-8000-000000000005" // before --since: skipped
	i6 = "a0000000-0000-4000-8000-000000000006" // void, never issued: skipped
	i7 = "a0000000-0000-4000-8000-000000000007" // issued, customer c3
	p1 = "b0000000-0000-4000-8000-000000000001"
	p2 = "b0000000-0000-4000-8000-000000000002"
	p3 = "b0000000-0000-4000-8000-000000000003"
)

func seedHistory(t *testing.T, db *pgtest.DB) {
	t.Helper()
	for _, stmt := range []string{
		`INSERT INTO crm.customers (id, tenant_id, name, email, country_code) VALUES
			('` + c1 + `', $1, 'Cust One', 'one@example.com', 'NZ'),
			('` + c2 + `', $1, 'Cust Two', 'two@example.com', 'NZ'),
			('` + c3 + `', $1, 'Cust Three', NULL, NULL)`,
		`INSERT INTO finance.invoices (id, tenant_id, customer_id, number, status, currency, issue_date, due_date, issued_at, voided_at) VALUES
			('` + i5 + `', $1, '` + c1 + `', 'INV-5', 'issued', 'NZD', '2025-12-15', '2026-01-15', '2025-12-15', NULL),
			('` + i1 + `', $1, '` + c1 + `', 'INV-1', 'paid',   'NZD', '2026-02-01', '2026-03-01', '2026-02-01', NULL),
			('` + i3 + `', $1, '` + c1 + `', 'INV-3', 'draft',  'NZD', '2026-02-05', NULL, NULL, NULL),
			('` + i6 + `', $1, '` + c1 + `', 'INV-6', 'void',   'NZD', '2026-02-07', NULL, NULL, '2026-02-08'),
			('` + i4 + `', $1, '` + c1 + `', 'INV-4', 'void',   'NZD', '2026-02-15', NULL, '2026-02-15', '2026-02-16'),
			('` + i2 + `', $1, '` + c2 + `', 'INV-2', 'issued', 'NZD', '2026-03-01', NULL, '2026-03-01', NULL),
			('` + i7 + `', $1, '` + c3 + `', 'INV-7', 'issued', 'NZD', '2026-03-05', NULL, '2026-03-05', NULL)`,
		`INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category, tax_component)
		SELECT id, $1, n, 'line ' || n, 1.5, 100.1250, 'consulting', CASE WHEN n = 1 THEN 'GST15' END
		  FROM finance.invoices, generate_series(1, 2) AS n WHERE tenant_id = $1`,
		`INSERT INTO finance.payments (id, tenant_id, invoice_id, amount, paid_on, method, reference) VALUES
			('` + p2 + `', $1, '` + i1 + `', 50.00, '2026-02-20', 'card', NULL),
			('` + p1 + `', $1, '` + i1 + `', 100.25, '2026-02-10', 'bank_transfer', 'first'),
			('` + p3 + `', $1, '` + i2 + `', 10.00, '2026-03-02', 'cash', NULL)`,
		`INSERT INTO xerosync.entities (entity, entity_id, tenant_id, xero_id) VALUES ('contact', '` + c2 + `', $1, gen_random_uuid())`,
		`INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, payload, payload_hash, state)
		VALUES ($1, 'contact', '` + c3 + `', 'upsert', '{}', '\x00', 'done')`,
	} {
		db.Exec(t, stmt, tenantA)
	}
}

// outboxRow is a backfilled row as the test reads it.
type outboxRow struct {
	entity, entityID, action, depEntity, depID, payload string
	hash                                                []byte
	lsnNull                                             bool
}

func backfilledRows(t *testing.T, db *pgtest.DB) []outboxRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT entity, entity_id::text, action, coalesce(depends_entity, ''), coalesce(depends_entity_id::text, ''),
		       payload::text, payload_hash, commit_lsn IS NULL AND commit_idx IS NULL
		  FROM xerosync.outbox WHERE source = 'backfill' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.entity, &r.entityID, &r.action, &r.depEntity, &r.depID, &r.payload, &r.hash, &r.lsnNull); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func testBackfill(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	seedHistory(t, x.db)

	r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-01")
	if r.code != 0 {
		t.Fatalf("backfill: exit %d\n%s", r.code, r.stderr)
	}
	got := backfilledRows(t, x.db)
	want := []string{
		"contact " + c1 + " upsert",
		"invoice " + i1 + " issue after contact " + c1,
		"invoice " + i4 + " issue after contact " + c1,
		"invoice " + i4 + " void after invoice " + i4,
		"invoice " + i2 + " issue after contact " + c2,
		"invoice " + i7 + " issue after contact " + c3,
		"payment " + p1 + " pay after invoice " + i1,
		"payment " + p2 + " pay after invoice " + i1,
		"payment " + p3 + " pay after invoice " + i2,
	}
	var have []string
	for _, row := range got {
		s := row.entity + " " + row.entityID + " " + row.action
		if row.depEntity != "" {
			s += " after " + row.depEntity + " " + row.depID
		}
		have = append(have, s)
		if !row.lsnNull {
			t.Errorf("%s has a commit position", s)
		}
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Fatalf("backfilled rows, in id order:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	// The contact's payload and hash are the enqueuer's, so capture compares a later change
	// of the customer with what backfill queued.
	var cp outbox.ContactPayload
	if err := json.Unmarshal([]byte(got[0].payload), &cp); err != nil {
		t.Fatal(err)
	}
	if body, hash := outbox.ContactUpsert(cp.CustomerID, cp.ContactFields); string(body) != got[0].payload || !bytes.Equal(got[0].hash, hash) {
		t.Errorf("contact payload %s hash %x, want the enqueuer's %s %x", got[0].payload, got[0].hash, body, hash)
	}
	for _, w := range []string{`"name":"Cust One"`, `"email":"one@example.com"`, `"country_code":"NZ"`, `"archived":false`} {
		if !strings.Contains(got[0].payload, w) {
			t.Errorf("contact payload lacks %s: %s", w, got[0].payload)
		}
	}
	for _, w := range []string{`"number":"INV-1"`, `"issue_date":"2026-02-01"`, `"due_date":"2026-03-01"`, `"amounts_tax":"exclusive"`,
		`"quantity":"1.5000"`, `"unit_price":"100.1250"`, `"tax_component":"GST15"`, `"tax_component":null`, `"currency":"NZD"`} {
		if !strings.Contains(got[1].payload, w) {
			t.Errorf("invoice payload lacks %s: %s", w, got[1].payload)
		}
	}
	if !strings.Contains(got[6].payload, `"amount":"100.25"`) || !strings.Contains(got[6].payload, `"paid_on":"2026-02-10"`) ||
		!strings.Contains(got[6].payload, `"reference":"first"`) {
		t.Errorf("payment payload: %s", got[6].payload)
	}
	// Capture must never issue (or void) these again.
	var issued, voided int
	if err := x.db.Pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE issued), count(*) FILTER (WHERE voided)
		  FROM xerosync.entities WHERE entity = 'invoice' AND tenant_id = $1`, tenantA).Scan(&issued, &voided); err != nil {
		t.Fatal(err)
	}
	if issued != 4 || voided != 1 {
		t.Errorf("entities: %d invoices issued, %d voided; want 4 and 1", issued, voided)
	}
	// The estimate comes first: 4 invoices, 1 contact (a directory refresh and a create), 3
	// payments: a call a kind, and the refresh.
	for _, w := range []string{"estimate: 4 invoices, 1 new contacts and 3 payments cost about 4 Xero calls", "about 4s",
		"queued 4 invoices (1 of them voided after issue", "1 contacts and 3 payments"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "queued 4/4 invoices") || !strings.Contains(r.stderr, "queued 3/3 payments") {
		t.Errorf("no progress lines:\n%s", r.stderr)
	}

	// Twice: nothing new.
	r = runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-01")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to backfill") {
		t.Fatalf("second backfill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := len(backfilledRows(t, x.db)); n != len(want) {
		t.Fatalf("second backfill queued %d more rows", n-len(want))
	}

	// A payment of a queued invoice that capture may still read: backfill waits until capture
	// has read past it, then queues it only if capture did not.
	const p4 = "b0000000-0000-4000-8000-000000000004"
	x.db.Exec(t, `INSERT INTO finance.payments (id, tenant_id, invoice_id, amount, paid_on, method) VALUES ('`+p4+`', $1, '`+i2+`', 5.00, '2026-03-03', 'cash')`, tenantA)
	x.db.Exec(t, `INSERT INTO xerosync.checkpoint (slot_name, lsn) VALUES ($1, '0/1')`, x.db.Name)
	stderr := &tlog{t: t, name: "stderr"}
	done := make(chan int, 1)
	go func() {
		done <- daemon.Main(context.Background(), []string{"--config", emptyConfig(t), "backfill", "--tenant", tenantA, "--since", "2026-01-01"},
			x.env, &tlog{t: t, name: "stdout"}, stderr)
	}()
	waitFor(t, 30*time.Second, "backfill to wait for capture", func() bool { return strings.Contains(stderr.String(), "waiting for capture") }, nil)
	select {
	case code := <-done:
		t.Fatalf("backfill returned (%d) before capture caught up", code)
	default:
	}
	x.db.Exec(t, `UPDATE xerosync.checkpoint SET lsn = pg_current_wal_lsn() WHERE slot_name = $1`, x.db.Name)
	if code := <-done; code != 0 {
		t.Fatalf("backfill after capture caught up: exit %d", code)
	}
	rows := backfilledRows(t, x.db)
	if last := rows[len(rows)-1]; len(rows) != len(want)+1 || last.entityID != p4 || last.depID != i2 {
		t.Errorf("after the wait: %d rows, last %+v; want %s queued", len(rows), rows[len(rows)-1], p4)
	}
}

func testBackfillLockDate(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	seedHistory(t, x.db)
	org := x.sim.State().Orgs[0].TenantID
	if err := x.sim.UpdateOrg(org, func(c *xerosim.OrgConfig) {
		c.PeriodLockDate = time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	}); err != nil {
		t.Fatal(err)
	}

	r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-31")
	if r.code != daemon.ExitFailure {
		t.Fatalf("backfill into the lock: exit %d, want 1", r.code)
	}
	for _, w := range []string{"period lock date, 2026-01-31", "--since 2026-02-01", "--force", "nothing was queued"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("refusal does not say %q:\n%s", w, r.stderr)
		}
	}
	if n := len(backfilledRows(t, x.db)); n != 0 {
		t.Fatalf("refused backfill queued %d rows", n)
	}

	// Under both locks the later one binds, and the date suggested is past both.
	if err := x.sim.UpdateOrg(org, func(c *xerosim.OrgConfig) {
		c.EndOfYearLockDate = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	}); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2025-06-01"); r.code != 1 ||
		!strings.Contains(r.stderr, "period lock date, 2026-01-31") || !strings.Contains(r.stderr, "--since 2026-02-01") {
		t.Errorf("under both locks: exit %d\n%s", r.code, r.stderr)
	}

	// The end-of-year lock is named as such.
	if err := x.sim.UpdateOrg(org, func(c *xerosim.OrgConfig) {
		c.EndOfYearLockDate = time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	}); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2025-06-01"); r.code != 1 || !strings.Contains(r.stderr, "end of year lock date, 2026-01-31") {
		t.Errorf("end-of-year lock: exit %d\n%s", r.code, r.stderr)
	}

	r = runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-31", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "warning:") {
		t.Fatalf("backfill --force: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := len(backfilledRows(t, x.db)); n != 9 {
		t.Errorf("backfill --force queued %d rows, want 9", n)
	}
}

// testBackfillAfterPrune: an operator prunes done rows, or truncates the outbox, then runs
// backfill. What Xero already holds (a Xero id in xerosync.entities) is never queued again,
// whatever happened to its rows; what never reached Xero is queued again (issue 10 defect 4).
func testBackfillAfterPrune(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	seedHistory(t, x.db)
	if r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-01"); r.code != 0 {
		t.Fatalf("backfill: exit %d\n%s", r.code, r.stderr)
	}
	// The dispatcher pushed c1's contact, INV-1 and its first payment p1, and nothing else.
	for _, id := range []string{c1, i1, p1} {
		x.db.Exec(t, `UPDATE xerosync.outbox SET state = 'done', xero_id = gen_random_uuid() WHERE entity_id = $1`, id)
		x.db.Exec(t, `INSERT INTO xerosync.entities AS e (entity, entity_id, tenant_id, xero_id)
			SELECT entity, entity_id, tenant_id, xero_id FROM xerosync.outbox WHERE entity_id = $1
			ON CONFLICT (entity, entity_id) DO UPDATE SET xero_id = EXCLUDED.xero_id`, id)
	}
	// Pruned by hand (done rows deleted): backfill queues nothing, p1 above all.
	x.db.Exec(t, "DELETE FROM xerosync.outbox WHERE state = 'done'")
	if r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-01"); r.code != 0 || !strings.Contains(r.stdout, "nothing to backfill") {
		t.Fatalf("backfill after a prune: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Truncated: what reached Xero stays out; what did not is queued again, in order.
	x.db.Exec(t, "TRUNCATE xerosync.outbox")
	if r := runCmd(t, x.env, "backfill", "--tenant", tenantA, "--since", "2026-01-01"); r.code != 0 {
		t.Fatalf("backfill after a truncate: exit %d\n%s", r.code, r.stderr)
	}
	want := []string{
		"invoice " + i4 + " issue", "invoice " + i4 + " void", "invoice " + i2 + " issue",
		"contact " + c3 + " upsert", "invoice " + i7 + " issue",
		"payment " + p2 + " pay", "payment " + p3 + " pay",
	}
	var have []string
	for _, row := range backfilledRows(t, x.db) {
		have = append(have, row.entity+" "+row.entityID+" "+row.action)
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Fatalf("backfilled after a truncate, in id order:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}
