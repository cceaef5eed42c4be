package cdc_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
)

// pgxExec runs one statement on a fresh connection to url.
func pgxExec(ctx context.Context, url, sql string) (pgconn.CommandTag, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer conn.Close(ctx)
	return conn.Exec(ctx, sql)
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// recorder is a sink that writes every change into a table of the same database, inside the
// capture transaction: a duplicate would violate the primary key, a loss shows as a gap.
type recorder struct{}

const recorderTable = `CREATE TABLE public.captured (
	commit_lsn pg_lsn, idx int, tbl text, op text, id text, name text, notes_kind int,
	PRIMARY KEY (commit_lsn, idx))`

func (r *recorder) Apply(ctx context.Context, tx pgx.Tx, changes []cdc.Change) error {
	b := &pgx.Batch{}
	for i := range changes {
		ch := &changes[i]
		idx := ch.Txn.Seq
		ch.Txn.Seq++
		b.Queue(`INSERT INTO public.captured VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			ch.Txn.CommitLSN.String(), idx, ch.Schema+"."+ch.Table, ch.Op.String(),
			ch.Get("id").Text, ch.Get("name").Text, int(ch.Get("notes").Kind))
	}
	return tx.SendBatch(ctx, b).Close()
}

type setup struct {
	db      *pgtest.DB
	tenant  string
	slot    string
	rec     *recorder
	capture *cdc.Capture
	cancel  context.CancelFunc
	done    chan error
}

func newSetup(t *testing.T, cfg cdc.Config) *setup {
	t.Helper()
	db := pgtest.New(t)
	db.Exec(t, recorderTable)
	s := &setup{db: db, rec: &recorder{}}
	if err := db.Pool.QueryRow(context.Background(), "INSERT INTO core.tenants (name) VALUES ('acme') RETURNING id::text").Scan(&s.tenant); err != nil {
		t.Fatal(err)
	}
	// Slots are cluster-wide: one per test database.
	s.slot = db.Name
	cfg.DB, cfg.ConnString, cfg.Sink, cfg.Slot = db.Pool, db.URL, s.rec, s.slot
	cfg.Logger = slog.New(slog.NewTextHandler(pgtest.LogWriter(t), nil))
	cfg.HeartbeatInterval = cmp.Or(cfg.HeartbeatInterval, 200*time.Millisecond)
	cfg.StatusInterval = cmp.Or(cfg.StatusInterval, 200*time.Millisecond)
	cfg.ReconnectMax = cmp.Or(cfg.ReconnectMax, time.Second)
	c, err := cdc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.capture = c
	return s
}

func (s *setup) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- s.capture.Run(ctx) }()
	t.Cleanup(func() { s.stop(t) })
	waitFor(t, 30*time.Second, "capture streaming", func() bool { return s.capture.Status().Streaming })
}

func (s *setup) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("capture returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("capture did not stop")
	}
	s.cancel = nil
}

// waitInactive waits until the server has noticed the stopped capture's disconnection.
func (s *setup) waitInactive(t *testing.T) {
	t.Helper()
	waitFor(t, 30*time.Second, "slot inactive", func() bool {
		return count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND active`, s.slot) == 0
	})
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	pgtest.Eventually(t, limit, what, ok)
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestCaptureRowChangesInCommitOrder(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	s.start(t)
	ctx := context.Background()
	var id string
	if err := s.db.Pool.QueryRow(ctx, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'Ada') RETURNING id::text`, s.tenant).Scan(&id); err != nil {
		t.Fatal(err)
	}
	s.db.Exec(t, `UPDATE crm.customers SET name = 'Ada L' WHERE id = $1`, id)
	s.db.Exec(t, `DELETE FROM crm.customers WHERE id = $1`, id)
	waitFor(t, 30*time.Second, "3 changes", func() bool { return count(t, s.db.Pool, "SELECT count(*) FROM captured") == 3 })

	rows, _ := s.db.Pool.Query(ctx, `SELECT op, id, name FROM captured ORDER BY commit_lsn, idx`)
	type row struct{ Op, ID, Name string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"insert", id, "Ada"}, {"update", id, "Ada L"}, {"delete", id, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("captured %v, want %v", got, want)
	}
	// The slot is confirmed up to what is stored, and no further.
	waitFor(t, 10*time.Second, "slot confirmed", func() bool {
		return count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots s JOIN xerosync.checkpoint c ON c.slot_name = s.slot_name
			WHERE s.confirmed_flush_lsn = c.lsn AND c.lsn >= (SELECT max(commit_lsn) FROM captured)`) == 1
	})
}

// An unchanged TOASTed column arrives as Unchanged, never as NULL (LESSONS 6).
func TestUnchangedToastIsNotNull(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	s.start(t)
	ctx := context.Background()
	big := strings.Repeat("notes that do not compress: ", 1) + pgtest.RandomText(200_000)
	var id string
	if err := s.db.Pool.QueryRow(ctx, `INSERT INTO crm.customers (tenant_id, name, notes) VALUES ($1, 'Bo', $2) RETURNING id::text`, s.tenant, big).Scan(&id); err != nil {
		t.Fatal(err)
	}
	s.db.Exec(t, `UPDATE crm.customers SET name = 'Bo B' WHERE id = $1`, id)
	waitFor(t, 30*time.Second, "2 changes", func() bool { return count(t, s.db.Pool, "SELECT count(*) FROM captured") == 2 })
	if n := count(t, s.db.Pool, `SELECT count(*) FROM captured WHERE op = 'update' AND notes_kind = $1`, int(cdc.Unchanged)); n != 1 {
		t.Fatalf("update did not carry notes as Unchanged")
	}
}

// Stopping and starting again neither skips nor repeats a change, also when changes are
// written while capture is down.
func TestResumeNeitherSkipsNorRepeats(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	insert := func(from, to int) {
		for i := from; i < to; i++ {
			s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, $2)`, s.tenant, fmt.Sprint("c", i))
		}
	}
	s.start(t)
	insert(0, 50)
	waitFor(t, 30*time.Second, "first 50", func() bool { return count(t, s.db.Pool, "SELECT count(*) FROM captured") >= 20 })
	s.stop(t)
	insert(50, 100)
	s.start(t)
	insert(100, 150)
	waitFor(t, 30*time.Second, "150 changes", func() bool { return count(t, s.db.Pool, "SELECT count(*) FROM captured") == 150 })
	if n := count(t, s.db.Pool, "SELECT count(DISTINCT name) FROM captured"); n != 150 {
		t.Fatalf("%d distinct names captured, want 150", n)
	}
}

// The slot's confirmed position moves while only tables outside the publication change:
// neither a busy sibling table nor silence pins WAL (LESSONS 5).
func TestSlotAdvancesWhileWatchedTablesIdle(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	s.db.Exec(t, `CREATE TABLE public.unrelated (id serial PRIMARY KEY, v text)`)
	s.start(t)
	var first string
	waitFor(t, 30*time.Second, "slot confirmed", func() bool {
		return s.db.Pool.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&first) == nil
	})
	for range 200 {
		s.db.Exec(t, `INSERT INTO public.unrelated (v) VALUES (repeat('x', 1000))`)
	}
	var walNow string
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&walNow); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "confirmed_flush_lsn past the unrelated writes", func() bool {
		return count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn >= $2::pg_lsn`, s.slot, walNow) == 1
	})
	if n := count(t, s.db.Pool, "SELECT count(*) FROM captured"); n != 0 {
		t.Fatalf("captured %d unrelated changes", n)
	}
	// The heartbeat comes back through the slot and is recorded.
	waitFor(t, 30*time.Second, "heartbeat", func() bool { return !s.capture.Status().LastHeartbeat.IsZero() })
	if n := count(t, s.db.Pool, `SELECT count(*) FROM xerosync.checkpoint WHERE heartbeat_at IS NOT NULL`); n != 1 {
		t.Fatal("heartbeat_at not stored")
	}
}

// Without heartbeats, keepalives alone carry the slot past writes to unrelated tables, the
// last of a burst too: one that comes within a second of the previous save waits for its
// turn instead of being dropped (the server sends no further keepalive once we report its
// position received, so a dropped one pinned the slot until some other WAL came along).
func TestKeepalivesAloneAdvanceTheSlot(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{HeartbeatInterval: time.Hour})
	s.db.Exec(t, `CREATE TABLE public.unrelated (id serial PRIMARY KEY, v text)`)
	s.start(t)
	for range 200 {
		s.db.Exec(t, `INSERT INTO public.unrelated (v) VALUES (repeat('x', 1000))`)
	}
	var walNow string
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&walNow); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "confirmed_flush_lsn past the unrelated writes", func() bool {
		return count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots s JOIN xerosync.checkpoint c USING (slot_name)
			WHERE slot_name = $1 AND s.confirmed_flush_lsn >= $2::pg_lsn AND c.lsn >= $2::pg_lsn`, s.slot, walNow) == 1
	})
}

func runErr(t *testing.T, s *setup) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.capture.Run(ctx)
}

func wantSetupError(t *testing.T, err error, contains ...string) {
	t.Helper()
	var se *cdc.SetupError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a SetupError", err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not mention %q", err, c)
		}
	}
}

func TestRoleWithoutReplicationIsOneClearError(t *testing.T) {
	t.Parallel()
	role, err := runAsRole(t, "norepl", "LOGIN")
	wantSetupError(t, err, "REPLICATION", "ALTER ROLE "+role+" REPLICATION")
}

func TestRoleWithoutPublicationRightsGetsTheSQL(t *testing.T) {
	t.Parallel()
	_, err := runAsRole(t, "nopub", "LOGIN REPLICATION")
	wantSetupError(t, err, "CREATE PUBLICATION xerosync FOR TABLE crm.customers, finance.invoices, finance.invoice_lines, finance.payments")
}

// runAsRole runs capture as a new role with the given attributes that may read the source
// tables and write ours, and returns the role and what Run returned.
func runAsRole(t *testing.T, prefix, attributes string) (string, error) {
	t.Helper()
	db := pgtest.New(t)
	role := prefix + "_" + db.Name
	db.Exec(t, fmt.Sprintf(`CREATE ROLE %s %s`, role, attributes))
	t.Cleanup(func() { db.Exec(t, fmt.Sprintf(`DROP OWNED BY %s; DROP ROLE %s`, role, role)) })
	db.Exec(t, fmt.Sprintf(`GRANT USAGE ON SCHEMA crm, finance, xerosync TO %[1]s;
		GRANT SELECT ON ALL TABLES IN SCHEMA crm, finance TO %[1]s;
		GRANT ALL ON ALL TABLES IN SCHEMA xerosync TO %[1]s`, role))
	pool, err := pgxpool.New(context.Background(), db.URLAs(role, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c, _ := cdc.New(cdc.Config{DB: pool, ConnString: db.URLAs(role, ""), Sink: &recorder{}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return role, c.Run(ctx)
}

func TestWalLevelReplicaIsOneClearError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := pgtest.Own(t, pgtest.LocalConfig{Settings: map[string]string{"wal_level": "replica"}})
	pool, err := pgxpool.New(ctx, cl.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c, _ := cdc.New(cdc.Config{DB: pool, ConnString: cl.URL("postgres"), Sink: &recorder{}})
	wantSetupError(t, c.Run(ctx), `wal_level is "replica"`, "ALTER SYSTEM SET wal_level = logical")
}

// A slot that vanished, or that is ahead of us, stops capture with the recovery steps; it is
// never recreated silently (LESSONS 3).
func TestSlotMismatchRefusesToStart(t *testing.T) {
	t.Parallel()
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, cdc.Config{})
		s.start(t)
		s.stop(t)
		s.waitInactive(t)
		s.db.Exec(t, `SELECT pg_drop_replication_slot($1)`, s.slot)
		wantSetupError(t, runErr(t, s), "does not exist", "xerosync resync")
		if n := count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, s.slot); n != 0 {
			t.Fatal("slot was recreated")
		}
	})
	t.Run("ahead", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, cdc.Config{})
		s.start(t)
		s.stop(t)
		s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'lost')`, s.tenant)
		s.waitInactive(t)
		// Someone else consumes the slot past our position.
		s.db.Exec(t, `SELECT * FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', 'xerosync')`, s.slot)
		wantSetupError(t, runErr(t, s), "ahead of xerosync's position", "xerosync resync --force")
	})
	t.Run("not ours", func(t *testing.T) {
		t.Parallel()
		s := newSetup(t, cdc.Config{})
		s.db.Exec(t, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, s.slot)
		wantSetupError(t, runErr(t, s), "no stored position")
	})
	t.Run("foreign", func(t *testing.T) {
		t.Parallel()
		// Another program's slot of the same name, with another output plugin.
		s := newSetup(t, cdc.Config{})
		s.db.Exec(t, `SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, s.slot)
		wantSetupError(t, runErr(t, s), `belongs to plugin "test_decoding"`, "database.slot")
	})
	t.Run("lost", func(t *testing.T) {
		t.Parallel()
		// A cluster of its own: the WAL the slot needs is removed under it.
		ctx := context.Background()
		cl := pgtest.Own(t, pgtest.LocalConfig{Settings: map[string]string{"max_slot_wal_keep_size": "1MB"}})
		url, err := cl.CreateDatabase(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := cdc.EnsureSlot(ctx, pool, "lost"); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS public.churn (v text); INSERT INTO public.churn VALUES ('x'); SELECT pg_switch_wal()`); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
			t.Fatal(err)
		}
		var status string
		if err := pool.QueryRow(ctx, `SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lost'`).Scan(&status); err != nil || status != "lost" {
			t.Fatalf("slot wal_status %q, %v: the test could not make it lost", status, err)
		}
		_, err = cdc.EnsureSlot(ctx, pool, "lost")
		wantSetupError(t, err, "is lost", "xerosync resync")
	})
	t.Run("crash while creating", func(t *testing.T) {
		t.Parallel()
		// We marked the slot as ours, created it, and died before storing where it starts.
		s := newSetup(t, cdc.Config{})
		s.db.Exec(t, `INSERT INTO xerosync.checkpoint (slot_name, lsn) VALUES ($1, NULL)`, s.slot)
		s.db.Exec(t, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, s.slot)
		s.start(t)
		s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'x')`, s.tenant)
		waitFor(t, 30*time.Second, "capture", func() bool { return count(t, s.db.Pool, "SELECT count(*) FROM captured") == 1 })
	})
}

// A PostgreSQL restart in the middle of a stream is survived: capture reconnects and resumes
// where its stored position says, with nothing lost or repeated.
func TestServerRestartMidStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := pgtest.Own(t, pgtest.LocalConfig{})
	url, err := cl.CreateDatabase(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgxExec(ctx, url, recorderTable); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, cl.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var tenant string
	if err := pool.QueryRow(ctx, "INSERT INTO core.tenants (name) VALUES ('t') RETURNING id::text").Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	c, _ := cdc.New(cdc.Config{DB: pool, ConnString: cl.URL("app"), Sink: &recorder{}, ReconnectMax: 500 * time.Millisecond,
		StatusInterval: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(pgtest.LogWriter(t), nil))})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 30*time.Second, "streaming", func() bool { return c.Status().Streaming })

	written := 0
	write := func(n int) {
		t.Helper()
		for range n {
			if _, err := pool.Exec(ctx, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, $2)`, tenant, fmt.Sprint("c", written)); err != nil {
				t.Fatal(err)
			}
			written++
		}
	}
	// Restart returns once the server accepts connections again; the pool's connections
	// died with the old server, so it is reset rather than retried until they are gone.
	restart := func(immediate bool) {
		t.Helper()
		if err := cl.Restart(ctx, immediate); err != nil {
			t.Fatal(err)
		}
		pool.Reset()
	}
	write(100)
	restart(true) // immediate: as in a crash
	write(100)
	restart(false)
	write(100)
	waitFor(t, 60*time.Second, "300 changes after two restarts", func() bool {
		var n int
		_ = pool.QueryRow(ctx, "SELECT count(DISTINCT name) FROM captured").Scan(&n)
		return n == 300
	})
	var total int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM captured").Scan(&total); err != nil || total != 300 {
		t.Fatalf("captured %d rows (%v), want 300", total, err)
	}
}

// The standby status confirms exactly what is durable: stop the capture mid-way through a
// transaction group and the slot is not past our stored position.
func TestConfirmedNeverAheadOfStored(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	s.start(t)
	for i := range 300 {
		s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, $2)`, s.tenant, fmt.Sprint(i))
		if i%50 == 0 {
			n := count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots s JOIN xerosync.checkpoint c USING (slot_name) WHERE s.confirmed_flush_lsn > c.lsn`)
			if n != 0 {
				t.Fatal("slot confirmed past the stored position")
			}
		}
	}
}

// A group takes in source transactions until it holds GroupMax changes (commits count one
// each): a backlog of 60 transactions of 5 changes with GroupMax 100 is three full groups
// and a last one closed by its delay. (Groups were once counted wrongly and cut at a tenth.)
func TestGroupsFillToGroupMax(t *testing.T) {
	t.Parallel()
	var commits atomic.Int32
	s := newSetup(t, cdc.Config{GroupMax: 100, GroupDelay: 2 * time.Second, HeartbeatInterval: time.Hour,
		OnCommit: func(pglogrepl.LSN) { commits.Add(1) }})
	// The slot first, so that it holds the backlog written next.
	ctx := context.Background()
	if err := cdc.EnsurePublication(ctx, s.db.Pool, "xerosync"); err != nil {
		t.Fatal(err)
	}
	if _, err := cdc.EnsureSlot(ctx, s.db.Pool, s.slot); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) SELECT $1, $2 || g FROM generate_series(1, 5) g`, s.tenant, fmt.Sprint(i, "-"))
	}
	s.start(t)
	waitFor(t, 30*time.Second, "the backlog captured", func() bool {
		return count(t, s.db.Pool, `SELECT count(*) FROM public.captured`) == 300
	})
	if n := commits.Load(); n < 3 || n > 5 {
		t.Errorf("%d group commits for 60 transactions of 5 changes, GroupMax 100; want 4", n)
	}
}

// Stopping confirms the slot up to what is stored (SPEC §4: SIGTERM confirms the slot before
// exit), not only at the next periodic status (an hour away here).
func TestStopConfirmsWhatIsStored(t *testing.T) {
	t.Parallel()
	// Stop right after the commit that stores the change, before anything else (a periodic
	// status, an idle keepalive advance) could confirm it.
	var armed atomic.Bool
	var once sync.Once
	committed := make(chan struct{})
	s := newSetup(t, cdc.Config{StatusInterval: time.Hour, HeartbeatInterval: time.Hour,
		OnCommit: func(pglogrepl.LSN) {
			if armed.Load() {
				once.Do(func() { close(committed) })
			}
		}})
	s.start(t)
	armed.Store(true)
	s.db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'Stop Ltd')`, s.tenant)
	select {
	case <-committed:
	case <-time.After(30 * time.Second):
		t.Fatal("the change was not captured")
	}
	s.stop(t)
	s.waitInactive(t)
	var confirmed, stored string
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT s.confirmed_flush_lsn::text, c.lsn::text
		FROM pg_replication_slots s JOIN xerosync.checkpoint c USING (slot_name) WHERE slot_name = $1`, s.slot).Scan(&confirmed, &stored); err != nil {
		t.Fatal(err)
	}
	if confirmed != stored {
		t.Errorf("after stop the slot is confirmed to %s, stored is %s", confirmed, stored)
	}
}

// The least-privilege role of the README: REPLICATION, its own schema, SELECT on the source
// tables, and a publication made by the tables' owner. Capture runs, heartbeat included.
func TestLeastPrivilegeRole(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	role := "xs_" + db.Name
	db.Exec(t, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN REPLICATION;
		ALTER SCHEMA xerosync OWNER TO %[1]s;
		GRANT USAGE ON SCHEMA core, crm, finance, integrations TO %[1]s;
		GRANT SELECT ON core.tenants, crm.customers, finance.invoices, finance.invoice_lines, finance.payments,
			integrations.xero_account_mappings, integrations.xero_tax_mappings, integrations.xero_payment_accounts TO %[1]s;
		CREATE PUBLICATION xerosync FOR TABLE crm.customers, finance.invoices, finance.invoice_lines, finance.payments;`, role))
	// Our tables were made by the migration as the superuser; in production the role makes
	// them itself. Hand them over so the role owns what it writes.
	db.Exec(t, fmt.Sprintf(`DO $$ DECLARE r record; BEGIN
		FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'xerosync' LOOP
			EXECUTE format('ALTER TABLE xerosync.%%I OWNER TO %s', r.tablename);
		END LOOP; END $$`, role))
	db.Exec(t, recorderTable)
	db.Exec(t, fmt.Sprintf(`GRANT ALL ON public.captured TO %s`, role))
	t.Cleanup(func() {
		db.Exec(t, fmt.Sprintf(`DROP PUBLICATION xerosync; REASSIGN OWNED BY %[1]s TO postgres; DROP OWNED BY %[1]s; DROP ROLE %[1]s`, role))
	})
	url := db.URLAs(role, "")
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var tenant string
	if err := db.Pool.QueryRow(context.Background(), "INSERT INTO core.tenants (name) VALUES ('lp') RETURNING id::text").Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	c, _ := cdc.New(cdc.Config{DB: pool, ConnString: url, Slot: db.Name, Sink: &recorder{},
		HeartbeatInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(pgtest.LogWriter(t), nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 30*time.Second, "streaming", func() bool { return c.Status().Streaming })
	db.Exec(t, `INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'least')`, tenant)
	waitFor(t, 30*time.Second, "capture", func() bool { return count(t, db.Pool, "SELECT count(*) FROM captured") == 1 })
	waitFor(t, 30*time.Second, "heartbeat", func() bool { return !c.Status().LastHeartbeat.IsZero() })
}

// On PostgreSQL 17 and later the slot is a failover slot, so that a standby with
// sync_replication_slots keeps it through a promotion: created so, and made so at start when
// an older slot is not.
func TestSlotIsAFailoverSlot(t *testing.T) {
	t.Parallel()
	s := newSetup(t, cdc.Config{})
	if count(t, s.db.Pool, `SELECT current_setting('server_version_num')::int`) < 170000 {
		t.Skip("failover slots need PostgreSQL 17")
	}
	ctx := context.Background()
	if err := cdc.EnsurePublication(ctx, s.db.Pool, "xerosync"); err != nil {
		t.Fatal(err)
	}
	if _, err := cdc.EnsureSlot(ctx, s.db.Pool, s.slot); err != nil {
		t.Fatal(err)
	}
	failover := func() int {
		return count(t, s.db.Pool, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND failover`, s.slot)
	}
	if failover() != 1 {
		t.Fatal("a new slot is not a failover slot")
	}
	// An older slot, made without failover.
	conn, err := pgconn.Connect(ctx, s.db.URL+"&replication=database")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER_REPLICATION_SLOT %q ( FAILOVER false )`, s.slot)).ReadAll(); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if failover() != 0 {
		t.Fatal("the slot is still a failover slot")
	}
	s.start(t)
	waitFor(t, 30*time.Second, "the slot made a failover slot", func() bool { return failover() == 1 })
}
