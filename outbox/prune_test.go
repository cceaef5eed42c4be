package outbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
)

// Retention deletes old finished rows, and keeps what is still read: each contact's newest
// row (capture's hash), and the rows of an entity an unfinished row depends on.
func TestPruneKeepsWhatIsStillRead(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := scalar(t, db, "INSERT INTO core.tenants (name) VALUES ('t') RETURNING id::text")
	contact, invoice, paid, failedPay := scalar(t, db, "SELECT gen_random_uuid()::text"), scalar(t, db, "SELECT gen_random_uuid()::text"),
		scalar(t, db, "SELECT gen_random_uuid()::text"), scalar(t, db, "SELECT gen_random_uuid()::text")
	row := func(entity, id, action, state string, age time.Duration, dep string) int64 {
		var depE, depID any
		if dep != "" {
			depE, depID = "invoice", dep
		}
		return scalarInt(t, db, `INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, state, payload, depends_entity, depends_entity_id, updated_at)
			VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, now() - $8::interval) RETURNING id`, tenant, entity, id, action, state, depE, depID, age.String())
	}
	const old, recent = 100 * 24 * time.Hour, time.Hour
	oldContact := row("contact", contact, "upsert", "done", old, "")
	newestContact := row("contact", contact, "upsert", "done", old, "")
	issue := row("invoice", invoice, "issue", "done", old, "")
	failed := row("payment", failedPay, "pay", "failed", old, invoice)
	oldPaid := row("payment", paid, "pay", "done", old, invoice)
	cancelled := row("payment", scalar(t, db, "SELECT gen_random_uuid()::text"), "pay", "cancelled", old, invoice)
	recentDone := row("payment", scalar(t, db, "SELECT gen_random_uuid()::text"), "pay", "done", recent, invoice)

	n, err := outbox.Prune(context.Background(), db.Pool, 90*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(context.Background(), "SELECT id FROM xerosync.outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{newestContact, issue, failed, recentDone}
	if n != 3 || !slices.Equal(left, want) {
		t.Fatalf("pruned %d, left %v; want 3 pruned (%d, %d, %d), %v left", n, left, oldContact, oldPaid, cancelled, want)
	}
}

func scalarInt(t *testing.T, db *pgtest.DB, sql string, args ...any) int64 {
	t.Helper()
	var v int64
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
