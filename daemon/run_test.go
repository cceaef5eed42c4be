package daemon_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
)

// slotActive reports whether a process consumes the test database's slot.
func slotActive(t *testing.T, db *pgtest.DB) bool {
	t.Helper()
	var active bool
	err := db.Pool.QueryRow(context.Background(), "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = $1), false)", db.Name).Scan(&active)
	if err != nil {
		t.Fatal(err)
	}
	return active
}

func testLeaderStandbyTakeover(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, nil)

	a := startDaemon(t, "a", env)
	a.waitHealth(t, 30*time.Second, "a to lead and be healthy", isLeaderOK)
	if !slotActive(t, db) {
		t.Fatal("a leads and is healthy, but the slot is not being consumed")
	}

	// /status and /metrics, while a leads, with a failed row so there is a queue to count.
	insertRow(t, db, tenantA, "failed", "PeriodLocked")
	// A row in flight for 10 minutes: its outcome is not being recorded (an operator's lock
	// on it, say). It shows in /healthz (degraded, with its age) and in /metrics.
	tenantB := "6c7d8e9f-0000-4000-8000-00000000000b"
	stuck := insertRow(t, db, tenantB, "in_flight", "")
	db.Exec(t, "UPDATE xerosync.outbox SET last_attempt_at = now() - interval '10 minutes' WHERE id = $1", stuck)
	var st daemon.Status
	if code, body := a.get(t, "/status", &st); code != http.StatusOK || !st.Slot.Exists || !st.Slot.Active {
		t.Errorf("/status: %d %s", code, body)
	}
	// Capture's lag and heartbeat age exist once a heartbeat has come back through the slot,
	// which a healthy leader need not have seen yet (on a loaded machine it had not).
	var metrics string
	waitFor(t, 30*time.Second, "the first heartbeat back through the slot", func() bool {
		_, metrics = a.get(t, "/metrics", nil)
		return strings.Contains(metrics, "xerosync_heartbeat_age_seconds") && strings.Contains(metrics, "xerosync_capture_lag_seconds")
	}, nil)
	for _, name := range []string{
		`xerosync_outbox_rows{slot="` + db.Name + `",state="failed",tenant_id="` + tenantA + `"} 1`,
		"xerosync_outbox_oldest_pending_age_seconds", "xerosync_capture_lag_seconds",
		`xerosync_outbox_oldest_in_flight_age_seconds{slot="` + db.Name + `",tenant_id="` + tenantB + `"} 6`,
		"xerosync_heartbeat_age_seconds", "xerosync_replication_slot_retained_wal_bytes",
		"xerosync_replication_slot_confirmed_lag_bytes", "xerosync_replication_slot_active",
		`xerosync_replication_slot_wal_status{slot="` + db.Name + `",status="reserved"} 1`,
		"xerosync_replication_spill_bytes_total", `xerosync_leader{slot="` + db.Name + `"} 1`,
		`xerosync_database_up{slot="` + db.Name + `"} 1`,
		// What monitoring/alerts.yml alerts on: health as /healthz says it (degraded: a
		// failed row), the tenant's connection state, failed rows by code.
		`xerosync_health_status{slot="` + db.Name + `",status="degraded"} 1`,
		`xerosync_health_status{slot="` + db.Name + `",status="ok"} 0`,
		`xerosync_tenant_connection{slot="` + db.Name + `",state="disconnected",tenant_id="` + tenantA + `"} 1`,
		`xerosync_tenant_connection{slot="` + db.Name + `",state="auth_failed",tenant_id="` + tenantA + `"} 0`,
		`xerosync_outbox_failed_rows{code="PeriodLocked",slot="` + db.Name + `",tenant_id="` + tenantA + `"} 1`,
	} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}

	// A second daemon on the same slot waits as a healthy standby.
	b := startDaemon(t, "b", env)
	h := b.waitHealth(t, 30*time.Second, "b to be a healthy standby", func(code int, h daemon.Health) bool {
		return code == http.StatusOK && h.Checks["database"].State == daemon.CheckOK
	})
	if h.Role != "standby" || h.Checks["replication"].State != daemon.CheckSkip {
		t.Fatalf("b: %+v, want a standby", h)
	}

	// Failed rows make the leader degraded, still 200.
	h = a.waitHealth(t, 10*time.Second, "a to report degraded", func(code int, h daemon.Health) bool {
		return code == http.StatusOK && h.Status == daemon.StatusDegraded
	})
	byTenant := map[string]daemon.HealthTenant{}
	for _, ht := range h.Tenants {
		byTenant[ht.TenantID] = ht
	}
	if ht := byTenant[tenantA]; len(h.Tenants) != 2 || ht.Failed != 1 || ht.Connection != "disconnected" || ht.StuckInFlightSeconds != 0 {
		t.Errorf("tenants = %+v", h.Tenants)
	}
	if ht := byTenant[tenantB]; ht.StuckInFlightSeconds < 590 || ht.Failed != 0 {
		t.Errorf("the stuck row's tenant = %+v, want it reported stuck for 10 minutes", ht)
	}

	// The leader stops (SIGTERM); b takes over within SPEC's 15 seconds.
	if code := a.stop(t); code != 0 {
		t.Fatalf("a exited with %d, want 0", code)
	}
	stopped := time.Now()
	b.waitHealth(t, 15*time.Second, "b to take over", func(code int, h daemon.Health) bool {
		return code == http.StatusOK && h.Role == "leader" && h.Checks["replication"].State == daemon.CheckOK
	})
	t.Logf("b took over %s after a stopped", time.Since(stopped).Round(time.Millisecond))
}

// testLockLostStopsCapture shows that a leader whose lock connection dies stops capturing
// at once and waits as standby, and leads again when the lock is free.
func testLockLostStopsCapture(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := startDaemon(t, "a", dbEnv(db, nil))
	a.waitHealth(t, 30*time.Second, "a to lead", isLeaderOK)

	// The test takes the lock the moment a's session ends, so a cannot simply take it back.
	ctx := context.Background()
	thief, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close(ctx)
	locked := make(chan error, 1)
	go func() {
		_, err := thief.Exec(ctx, "SELECT pg_advisory_lock(hashtext('xerosync:' || $1::text))", db.Name)
		locked <- err
	}()
	waitFor(t, 10*time.Second, "the test to wait for the lock", func() bool {
		var waiting bool
		err := db.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1)", thief.PgConn().PID()).Scan(&waiting)
		return err == nil && waiting
	}, nil)
	db.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'xerosync leader'", db.Name)
	select {
	case err := <-locked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the test did not get the lock after a's lock session was terminated")
	}

	waitFor(t, 10*time.Second, "a to stop capturing", func() bool { return !slotActive(t, db) }, nil)
	a.waitHealth(t, 10*time.Second, "a to be standby", func(code int, h daemon.Health) bool {
		return code == http.StatusOK && h.Role == "standby"
	})
	// And still standby after trying the lock three more times: it must not capture without
	// the lock. Counted in polls, not seconds: each shows in pg_stat_activity as the lock
	// connection's last query, with its own query_start.
	polls := map[time.Time]bool{}
	waitFor(t, 30*time.Second, "a to try the lock three more times", func() bool {
		var at time.Time
		err := db.Pool.QueryRow(ctx, `SELECT query_start FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'xerosync leader' AND query LIKE '%pg_try_advisory_lock%'`, db.Name).Scan(&at)
		if err == nil {
			polls[at] = true
		}
		return len(polls) > 3
	}, nil)
	if slotActive(t, db) {
		t.Fatal("a captures although the test holds the lock")
	}
	if _, h := a.health(t); h.Role != "standby" {
		t.Fatalf("a is %s although the test holds the lock", h.Role)
	}

	if err := thief.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a.waitHealth(t, 15*time.Second, "a to lead again", isLeaderOK)
}

// testNotify checks the sd_notify messages on a socket standing in for systemd's.
func testNotify(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	dir, err := shortTempDir(t)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	})
	defer wg.Wait()
	defer conn.Close()
	seen := func(msg string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			if m == msg {
				return true
			}
		}
		return false
	}
	messages := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(got, " | ")
	}

	a := startDaemon(t, "a", dbEnv(db, map[string]string{
		"NOTIFY_SOCKET": sock,
		"WATCHDOG_USEC": "400000",
	}))
	waitFor(t, 30*time.Second, "READY=1", func() bool { return seen("READY=1") }, messages)
	waitFor(t, 10*time.Second, "WATCHDOG=1", func() bool { return seen("WATCHDOG=1") }, messages)
	waitFor(t, 30*time.Second, "the leader STATUS", func() bool { return seen("STATUS=leader: capturing from slot " + db.Name) }, messages)
	if code := a.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	waitFor(t, 10*time.Second, "STOPPING=1", func() bool { return seen("STOPPING=1") }, messages)
}

// shortTempDir is a temporary directory with a short path: a unix socket path must fit in
// 108 bytes, which t.TempDir's long names can exceed.
func shortTempDir(t *testing.T) (string, error) {
	dir, err := os.MkdirTemp("", "xs")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir, nil
}

// testSetupErrorStops shows that a problem only an administrator can fix stops the daemon
// with exit 1 and the fix, instead of a retry loop.
func testSetupErrorStops(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	// A slot of that name that xerosync did not create: capture must not trust it.
	db.Exec(t, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", db.Name)
	a := startDaemon(t, "a", dbEnv(db, nil))
	select {
	case code := <-a.done:
		// Reported here, not by startDaemon's cleanup, which expects a clean stop.
		a.once.Do(a.cancel)
		if code != daemon.ExitFailure {
			t.Fatalf("exit code %d, want 1", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not stop on a set-up error")
	}
	out := a.stderr.String()
	for _, want := range []string{"xerosync has no stored position", "to fix:", "needs an administrator"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// testCaptureToOutbox shows the wiring end to end: the leader's capture hands Softbooq
// changes to the outbox enqueuer, and /healthz and /metrics count the queued row.
func testCaptureToOutbox(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	var tenant string
	if err := db.Pool.QueryRow(ctx, "INSERT INTO core.tenants (name) VALUES ('acme') RETURNING id::text").Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "INSERT INTO xerosync.connections (tenant_id, state, org_name) VALUES ($1, 'connected', 'Acme')", tenant)
	a := startDaemon(t, "a", dbEnv(db, nil))
	a.waitHealth(t, 30*time.Second, "a to lead", isLeaderOK)

	db.Exec(t, "INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, 'Kiwi Ltd', 'ap@kiwi.example')", tenant)
	h := a.waitHealth(t, 30*time.Second, "the customer to be queued", func(code int, h daemon.Health) bool {
		return code == http.StatusOK && len(h.Tenants) == 1 && h.Tenants[0].Pending == 1
	})
	if h.Tenants[0].TenantID != tenant || h.Tenants[0].Connection != "connected" {
		t.Errorf("tenants = %+v", h.Tenants)
	}
	var entity, action string
	if err := db.Pool.QueryRow(ctx, "SELECT entity, action FROM xerosync.outbox WHERE tenant_id = $1", tenant).Scan(&entity, &action); err != nil {
		t.Fatal(err)
	}
	if entity != "contact" || action != "upsert" {
		t.Errorf("outbox row = %s %s, want contact upsert", entity, action)
	}
	_, metrics := a.get(t, "/metrics", nil)
	if want := `xerosync_outbox_rows{slot="` + db.Name + `",state="pending",tenant_id="` + tenant + `"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// testDatabaseDown shows a daemon that cannot reach its database: it keeps trying, answers
// /healthz with 503 and says why, and still stops cleanly.
func testDatabaseDown(t *testing.T) {
	t.Parallel()
	a := startDaemon(t, "a", map[string]string{
		"XEROSYNC_DATABASE_URL": "postgres://xerosync:hunter2@127.0.0.1:1/softbooq?connect_timeout=2",
		"XEROSYNC_HTTP_ADDR":    "127.0.0.1:0",
	})
	h := a.waitHealth(t, 30*time.Second, "a to report the database down", func(code int, h daemon.Health) bool {
		return code == http.StatusServiceUnavailable && h.Status == daemon.StatusDown && h.Checks["database"].State == daemon.CheckFail
	})
	if h.Role != "standby" {
		t.Errorf("role %q, want standby", h.Role)
	}
	if code := a.stop(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if out := a.stderr.String(); strings.Contains(out, "hunter2") {
		t.Errorf("the database password was logged:\n%s", out)
	}
}

// testHTTPExposedWarning: the daemon itself warns at start when http.addr is not loopback.
// (The database is unreachable: the warning comes before the daemon needs it.)
func testHTTPExposedWarning(t *testing.T) {
	t.Parallel()
	for addr, warn := range map[string]bool{"0.0.0.0:0": true, "127.0.0.1:0": false} {
		a := startDaemon(t, addr, map[string]string{
			"XEROSYNC_DATABASE_URL": "postgres://xerosync@127.0.0.1:1/softbooq?connect_timeout=2",
			"XEROSYNC_HTTP_ADDR":    addr,
		})
		if code := a.stop(t); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if got := strings.Contains(a.stderr.String(), "http.addr is not a loopback address"); got != warn {
			t.Errorf("http.addr %s: warned %v, want %v:\n%s", addr, got, warn, a.stderr)
		}
	}
}
