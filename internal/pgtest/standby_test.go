package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/internal/pgtest"
)

// A standby made by StartStandby streams the primary's commits (synchronously: a commit
// returns only once the standby has it), keeps a failover logical slot in sync on
// PostgreSQL 17+, and after the primary's crash and the standby's promotion holds every
// acknowledged commit and the slot.
func TestStandbyFailover(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary := pgtest.Own(t, pgtest.LocalConfig{})
	standby, err := primary.StartStandby(ctx, pgtest.StandbyConfig{Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Close() })

	pconn := connect(t, ctx, primary.URL("postgres"))
	var version int
	if err := pconn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int / 10000`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pconn, `CREATE TABLE t (n int)`)
	if version >= 17 {
		mustExec(t, pconn, `SELECT pg_create_logical_replication_slot('s', 'pgoutput', false, false, true)`)
	}
	mustExec(t, pconn, `INSERT INTO t SELECT generate_series(1, 100)`)

	sconn := connect(t, ctx, standby.URL("postgres"))
	// Synchronous: the insert returned, so the standby has it (flushed; replay follows).
	pgtest.Eventually(t, time.Minute, "the standby replays the insert", func() bool {
		var n int
		return sconn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n) == nil && n == 100
	})
	if version >= 17 {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("standby log:\n%s\nprimary log:\n%s", standby.LogTail(3000), primary.LogTail(3000))
			}
		})
		// A slot is synchronised only once it has moved past the standby's catalog xmin, as a
		// consumer's confirmations move it: here, a logged snapshot and an advance.
		pgtest.Eventually(t, time.Minute, "the failover slot is synchronised to the standby", func() bool {
			mustExec(t, pconn, `SELECT pg_log_standby_snapshot()`)
			mustExec(t, pconn, `SELECT pg_replication_slot_advance('s', pg_current_wal_lsn())`)
			var synced bool
			err := sconn.QueryRow(ctx, `SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 's'`).Scan(&synced)
			return err == nil && synced
		})
	}
	sconn.Close(ctx)

	if err := primary.Stop(true); err != nil {
		t.Fatal(err)
	}
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	nconn := connect(t, ctx, standby.URL("postgres"))
	mustExec(t, nconn, `INSERT INTO t VALUES (101)`)
	var n int
	if err := nconn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 101 {
		t.Fatalf("after promotion: %d rows, %v; want 101", n, err)
	}
	if version >= 17 {
		var slots int
		if err := nconn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's'`).Scan(&slots); err != nil || slots != 1 {
			t.Fatalf("the promoted standby has %d slots named s (%v), want 1", slots, err)
		}
	}
}

func connect(t *testing.T, ctx context.Context, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
