package outbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
)

// TestResyncRules is outbox.Resync at its own API, in a plain transaction standing for the
// snapshot's: what the lost WAL would have queued is queued once, with capture's rules, and
// nothing else; a second run queues nothing. The tenant connected on 2026-06-01; rows dated
// before it are history (backfill's), rows after it changed while it was connected.
func TestResyncRules(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const (
		tA = "11111111-0000-4000-8000-00000000000a" // connected on 2026-06-01
		tB = "11111111-0000-4000-8000-00000000000b" // connected after the new slot's start
		tC = "11111111-0000-4000-8000-00000000000c" // disconnected before the lost position
		tD = "11111111-0000-4000-8000-00000000000d" // disconnected while the slot was lost

		cuOld     = "c2222222-0000-4000-8000-000000000001" // never queued, untouched since before the connect: nothing
		cuNew     = "c2222222-0000-4000-8000-000000000002" // inserted since: upsert
		cuQueued  = "c2222222-0000-4000-8000-000000000003" // queued with its current fields: nothing
		cuChanged = "c2222222-0000-4000-8000-000000000004" // queued with other fields: upsert
		cuOld2    = "c2222222-0000-4000-8000-000000000005" // never queued, invoiced since: upsert before the invoice
		cuB       = "c2222222-0000-4000-8000-000000000006" // tenant B's: nothing

		invHistory = "a2222222-0000-4000-8000-000000000001" // issued before the connect: nothing
		invNew     = "a2222222-0000-4000-8000-000000000002" // issued since: issue (after cuOld2's contact)
		invDraftV  = "a2222222-0000-4000-8000-000000000003" // voided without an issue: nothing
		invIssV    = "a2222222-0000-4000-8000-000000000004" // issued and voided since: issue, void
		invQV      = "a2222222-0000-4000-8000-000000000005" // issue queued, voided since: void
		invQ       = "a2222222-0000-4000-8000-000000000006" // issue queued, paid

		payQueued = "b2222222-0000-4000-8000-000000000001" // has a row: nothing
		payNew    = "b2222222-0000-4000-8000-000000000002" // no row: pay
		payOnVoid = "b2222222-0000-4000-8000-000000000003" // on a voided invoice: nothing
	)
	_, queuedHash := outbox.ContactUpsert(cuQueued, outbox.ContactFields{Name: "Queued"})
	for _, stmt := range []string{
		`INSERT INTO core.tenants (id, name) VALUES ('` + tA + `', 'a'), ('` + tB + `', 'b'), ('` + tC + `', 'c'), ('` + tD + `', 'd')`,
		`INSERT INTO xerosync.connections (tenant_id, state, queue_from_lsn, queue_until_lsn, connected_at) VALUES
			('` + tA + `', 'connected', '0/10', NULL, '2026-06-01'),
			('` + tB + `', 'connected', 'FFFFFFFF/0', NULL, '2026-06-01'),
			('` + tC + `', 'disconnected', '0/10', '0/20', '2026-06-01'),
			('` + tD + `', 'disconnected', '0/10', 'FFFFFFFF/0', '2026-06-01')`,
		`INSERT INTO crm.customers (id, tenant_id, name, created_at, updated_at) VALUES
			('` + cuOld + `', '` + tA + `', 'Old', '2026-01-01', '2026-01-01'),
			('` + cuNew + `', '` + tA + `', 'New', '2026-07-01', '2026-07-01'),
			('` + cuQueued + `', '` + tA + `', 'Queued', '2026-06-02', '2026-07-01'),
			('` + cuChanged + `', '` + tA + `', 'Changed', '2026-06-02', '2026-06-02'),
			('` + cuOld2 + `', '` + tA + `', 'Old Two', '2026-01-01', '2026-01-01'),
			('` + cuB + `', '` + tB + `', 'B', '2026-07-01', '2026-07-01')`,
		`INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, payload, payload_hash, state) VALUES
			('` + tA + `', 'contact', '` + cuQueued + `', 'upsert', '{}', '\x` + fmt.Sprintf("%x", queuedHash) + `', 'done'),
			('` + tA + `', 'contact', '` + cuChanged + `', 'upsert', '{}', '\x00', 'done'),
			('` + tA + `', 'invoice', '` + invQV + `', 'issue', '{}', NULL, 'done'),
			('` + tA + `', 'invoice', '` + invQ + `', 'issue', '{}', NULL, 'done'),
			('` + tA + `', 'payment', '` + payQueued + `', 'pay', '{}', NULL, 'pending')`,
		`INSERT INTO finance.invoices (id, tenant_id, customer_id, number, status, currency, issued_at, created_at, updated_at) VALUES
			('` + invHistory + `', '` + tA + `', '` + cuOld + `', 'H-1', 'issued', 'NZD', '2026-01-05', '2026-01-05', '2026-01-05'),
			('` + invNew + `', '` + tA + `', '` + cuOld2 + `', 'N-1', 'issued', 'NZD', '2026-07-02', '2026-07-02', '2026-07-02'),
			('` + invDraftV + `', '` + tA + `', '` + cuNew + `', 'D-1', 'void', 'NZD', NULL, '2026-07-02', '2026-07-03'),
			('` + invIssV + `', '` + tA + `', '` + cuNew + `', 'V-1', 'void', 'NZD', '2026-07-03', '2026-07-03', '2026-07-04'),
			('` + invQV + `', '` + tA + `', '` + cuQueued + `', 'Q-1', 'void', 'NZD', '2026-06-03', '2026-06-03', '2026-07-04'),
			('` + invQ + `', '` + tA + `', '` + cuQueued + `', 'Q-2', 'paid', 'NZD', '2026-06-03', '2026-06-03', '2026-07-04')`,
		`INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category)
			SELECT id, tenant_id, 1, 'work', 100, 'consulting' FROM finance.invoices`,
		`INSERT INTO xerosync.entities (entity, entity_id, tenant_id, issued) VALUES
			('invoice', '` + invQV + `', '` + tA + `', true), ('invoice', '` + invQ + `', '` + tA + `', true)`,
		`INSERT INTO finance.payments (id, tenant_id, invoice_id, amount, paid_on, method, created_at) VALUES
			('` + payQueued + `', '` + tA + `', '` + invQ + `', 40, '2026-06-05', 'cash', '2026-06-05'),
			('` + payNew + `', '` + tA + `', '` + invQ + `', 60, '2026-07-05', 'cash', '2026-07-05'),
			('` + payOnVoid + `', '` + tA + `', '` + invQV + `', 10, '2026-07-05', 'cash', '2026-07-05')`,
	} {
		db.Exec(t, stmt)
	}
	var start pglogrepl.LSN
	var s string
	if err := db.Pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	start, _ = pglogrepl.ParseLSN(s)
	snap := cdc.Snapshot{Start: start, Stored: 0x100}

	resync := func() outbox.ResyncResult {
		t.Helper()
		var res outbox.ResyncResult
		err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
			var err error
			res, err = outbox.Resync(ctx, tx, snap)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := resync()
	want := outbox.ResyncResult{
		Tenants:           []outbox.ResyncTenant{{Tenant: tA, Customers: 5, Contacts: 3, Invoices: 2, Voids: 2, Payments: 1}},
		DisconnectedInGap: []string{tD},
	}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("first resync: %+v\nwant %+v", res, want)
	}
	rows, err := db.Pool.Query(ctx, `SELECT entity || ' ' || entity_id || ' ' || action FROM xerosync.outbox WHERE source = 'resync' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []string{
		"contact " + cuChanged + " upsert", "contact " + cuNew + " upsert", // in creation order
		"contact " + cuOld2 + " upsert", "invoice " + invNew + " issue",
		"invoice " + invIssV + " issue", "invoice " + invIssV + " void",
		"invoice " + invQV + " void",
		"payment " + payNew + " pay",
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRows) {
		t.Errorf("rows queued, in id order:\n%v\nwant\n%v", got, wantRows)
	}

	// Again: everything is recorded now, nothing is queued twice.
	res = resync()
	want.Tenants[0] = outbox.ResyncTenant{Tenant: tA, Customers: 5}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("second resync: %+v\nwant %+v", res, want)
	}
}
