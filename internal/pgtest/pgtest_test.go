package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/softbooq/xerosync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestNewDatabaseHasBothSchemas(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var wal string
	var n int
	ctx := context.Background()
	if err := db.Pool.QueryRow(ctx, "SHOW wal_level").Scan(&wal); err != nil || wal != "logical" {
		t.Fatalf("wal_level = %q, %v", wal, err)
	}
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE (table_schema, table_name) IN (('crm','customers'),('finance','invoices'),('xerosync','outbox'),('xerosync','checkpoint'))`).Scan(&n)
	if err != nil || n != 4 {
		t.Fatalf("tables found = %d, %v", n, err)
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := pgtest.New(t), pgtest.New(t)
	a.Exec(t, "INSERT INTO core.tenants (name) VALUES ('a')")
	var n int
	if err := b.Pool.QueryRow(context.Background(), "SELECT count(*) FROM core.tenants").Scan(&n); err != nil || n != 0 {
		t.Fatalf("b sees %d tenants (%v)", n, err)
	}
}

// The embedded copy of Softbooq's schema is the contract in ../shared; keep them identical.
func TestSchemaMatchesShared(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("../../../shared/softbooq/schema.sql")
	if err != nil {
		t.Skipf("shared schema not beside the checkout: %v", err)
	}
	if string(want) != pgtest.SoftbooqSchema {
		t.Fatal("internal/pgtest/softbooq.sql differs from ../shared/softbooq/schema.sql: copy it again")
	}
}
