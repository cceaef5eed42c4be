package daemon_test

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
)

const tenantA = "0b7d4c3e-8f1a-4e55-9a3c-2d6f1e0b9c47"

// TestUsage covers what needs no database: help, usage mistakes, and the commands not built
// yet. A database URL is set, so a usage error cannot be a config error in disguise.
func TestUsage(t *testing.T) {
	t.Parallel()
	env := map[string]string{"XEROSYNC_DATABASE_URL": "postgres://xerosync:hunter2@127.0.0.1:1/none"}
	type usageCase struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}
	tests := []usageCase{
		{"help", []string{"--help"}, 0, "usage: xerosync [--config FILE] COMMAND", ""},
		{"help command", []string{"help", "retry"}, 0, "--tenant ID --code CODE", ""},
		{"no command", nil, 2, "", "no command given"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--verbose", "status"}, 2, "", "flag provided but not defined: -verbose"},
		{"unknown flag", []string{"status", "--all"}, 2, "", "xerosync status --help"},
		{"stray argument", []string{"status", "extra"}, 2, "", `unexpected argument "extra"`},
		{"bad tenant", []string{"status", "--tenant", "acme"}, 2, "", "not a tenant id"},
		{"retry nothing", []string{"retry"}, 2, "", "give --id N, or --tenant ID --code CODE"},
		{"retry both", []string{"retry", "--id", "3", "--tenant", tenantA, "--code", "X"}, 2, "", "not both"},
		{"retry code alone", []string{"retry", "--code", "PeriodLocked"}, 2, "", "go together"},
		{"backfill bad date", []string{"backfill", "--tenant", tenantA, "--since", "last year"}, 2, "", "not a date"},
		{"connect needs tenant", []string{"connect"}, 2, "", "--tenant ID is required"},
		{"rotate-key needs --new", []string{"rotate-key"}, 2, "", "--new FILE is required"},
	}
	for _, cmd := range []string{"run", "connect", "disconnect", "backfill", "status", "retry", "check", "migrate", "resync", "rotate-key", "version", "completion"} {
		tests = append(tests, usageCase{cmd + " help", []string{cmd, "--help"}, 0, "usage: xerosync [--config FILE] " + cmd, ""})
	}
	// The commands that call Xero need its credentials and the token key: configuration
	// problems (exit 2), all named at once, before any work.
	for _, cmd := range []string{"connect", "disconnect", "backfill", "check"} {
		tests = append(tests, usageCase{cmd + " needs xero config", []string{cmd, "--tenant", tenantA}, 2, "", "config: xero.client_id"},
			usageCase{cmd + " needs token key", []string{cmd, "--tenant", tenantA}, 2, "", "config: token.key_file"})
	}
	tests = append(tests, usageCase{"connect bad timeout", []string{"connect", "--tenant", tenantA, "--timeout", "0s"}, 2, "", "--timeout must be positive"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, env, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d", r.code, tc.code)
			}
			if !strings.Contains(r.stdout, tc.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tc.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Error("output contains the database password")
			}
		})
	}
}

func testConfigErrors(t *testing.T) {
	t.Parallel()
	// Every problem at once, one line each, naming the key; exit 2 before any work.
	r := runCmd(t, map[string]string{
		"XEROSYNC_HTTP_ADDR":    "localhost",
		"XEROSYNC_LOG_LEVEL":    "loud",
		"XEROSYNC_DATABASE_SLT": "x",
	}, "run")
	if r.code != daemon.ExitUsage {
		t.Fatalf("exit code %d, want 2", r.code)
	}
	for _, key := range []string{"database.url", "http.addr", "log.level", "XEROSYNC_DATABASE_SLT"} {
		if n := strings.Count(r.stderr, "config: "+key); n != 1 {
			t.Errorf("stderr names %s %d times, want once:\n%s", key, n, r.stderr)
		}
	}

	// An explicit --config that does not exist is a problem too (the default path is not).
	ctx := context.Background()
	stderr := &tlog{t: t, name: "stderr"}
	code := daemon.Main(ctx, []string{"--config", "/nonexistent/xerosync.toml", "status"},
		map[string]string{"XEROSYNC_DATABASE_URL": "postgres://127.0.0.1:1/x"}, &tlog{t: t, name: "stdout"}, stderr)
	if code != daemon.ExitUsage || !strings.Contains(stderr.String(), "/nonexistent/xerosync.toml") {
		t.Errorf("missing --config file: exit %d, stderr:\n%s", code, stderr)
	}
}

func testMigrate(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	// pgtest's databases come migrated; start from none of ours, as a new install does.
	db.Exec(t, "DROP SCHEMA xerosync CASCADE")
	env := dbEnv(db, nil)

	r := runCmd(t, env, "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "applied 0001_init.sql") {
		t.Fatalf("first migrate: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM xerosync.schema_migrations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations: %d rows, %v", n, err)
	}
	r = runCmd(t, env, "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("second migrate: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	var after int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM xerosync.schema_migrations").Scan(&after); err != nil || after != n {
		t.Fatalf("schema_migrations after the second run: %d rows (want %d), %v", after, n, err)
	}

	// An unreachable database is a failure (exit 1) that names the database without its password.
	r = runCmd(t, map[string]string{"XEROSYNC_DATABASE_URL": "postgres://xerosync:hunter2@127.0.0.1:1/none?connect_timeout=5"}, "migrate")
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "cannot connect to the database") || strings.Contains(r.stderr, "hunter2") {
		t.Fatalf("unreachable database: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// insertRow queues an outbox row in the given state and returns its id.
func insertRow(t *testing.T, db *pgtest.DB, tenant, state, code string) int64 {
	t.Helper()
	var id int64
	var codeArg any
	if code != "" {
		codeArg = code
	}
	err := db.Pool.QueryRow(context.Background(), `
		INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, state, payload, last_error_code)
		VALUES ($1, 'invoice', gen_random_uuid(), 'issue', $2, '{}', $3) RETURNING id`, tenant, state, codeArg).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func retryRequested(t *testing.T, db *pgtest.DB, id int64) bool {
	t.Helper()
	var flag bool
	if err := db.Pool.QueryRow(context.Background(), "SELECT retry_requested FROM xerosync.outbox WHERE id = $1", id).Scan(&flag); err != nil {
		t.Fatal(err)
	}
	return flag
}

func testRetry(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, nil)
	one := insertRow(t, db, tenantA, "failed", "TaxRateNotFound")
	currency1 := insertRow(t, db, tenantA, "failed", "CurrencyNotEnabled")
	currency2 := insertRow(t, db, tenantA, "pending", "CurrencyNotEnabled")
	otherTenant := insertRow(t, db, tenantB, "failed", "CurrencyNotEnabled")
	done := insertRow(t, db, tenantA, "done", "")

	if r := runCmd(t, env, "retry", "--id", itoa(one)); r.code != 0 {
		t.Fatalf("retry --id: exit %d\n%s", r.code, r.stderr)
	}
	if !retryRequested(t, db, one) || retryRequested(t, db, currency1) {
		t.Fatal("retry --id flagged the wrong rows")
	}

	r := runCmd(t, env, "retry", "--tenant", tenantA, "--code", "CurrencyNotEnabled")
	if r.code != 0 || !strings.Contains(r.stdout, "2 rows flagged") {
		t.Fatalf("retry --code: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if !retryRequested(t, db, currency1) || !retryRequested(t, db, currency2) || retryRequested(t, db, otherTenant) {
		t.Fatal("retry --tenant --code flagged the wrong rows")
	}

	// Nothing to retry is said, with exit 1 for a row asked for by id.
	if r := runCmd(t, env, "retry", "--id", itoa(done)); r.code != 1 || !strings.Contains(r.stderr, "is done") || retryRequested(t, db, done) {
		t.Fatalf("retry of a done row: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := runCmd(t, env, "retry", "--id", "999999"); r.code != 1 || !strings.Contains(r.stderr, "no outbox row 999999") {
		t.Fatalf("retry of a missing row: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func testStatus(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, nil)
	db.Exec(t, `INSERT INTO xerosync.connections (tenant_id, state, org_name, last_error) VALUES ($1, 'auth_failed', 'Acme Ltd', 'refresh token expired')`, tenantA)
	insertRow(t, db, tenantA, "pending", "")
	insertRow(t, db, tenantA, "failed", "PeriodLocked")
	insertRow(t, db, tenantA, "failed", "PeriodLocked")

	r := runCmd(t, env, "status", "--json")
	if r.code != 0 {
		t.Fatalf("status --json: exit %d\n%s", r.code, r.stderr)
	}
	var st daemon.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if len(st.Tenants) != 1 {
		t.Fatalf("tenants = %+v, want one", st.Tenants)
	}
	got := st.Tenants[0]
	if got.TenantID != tenantA || got.Connection != "auth_failed" || got.Organisation != "Acme Ltd" ||
		got.Pending != 1 || got.Failed != 2 || got.FailuresByCode["PeriodLocked"] != 2 {
		t.Errorf("tenant = %+v", got)
	}
	if st.Slot.Name != db.Name || st.Slot.Exists {
		t.Errorf("slot = %+v, want %s, not yet created", st.Slot, db.Name)
	}
	if f := st.Slot.Failover; f.Ready || f.Reason == "" {
		t.Errorf("failover = %+v, want not ready, with the reason", f)
	}

	r = runCmd(t, env, "status", "--tenant", tenantA)
	for _, want := range []string{"Acme Ltd", "auth_failed", "PeriodLocked 2", "xerosync connect --tenant " + tenantA} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status text does not contain %q:\n%s", want, r.stdout)
		}
	}

	// --watch reads again every interval until interrupted (here by the deadline), which is
	// a clean stop; off a terminal the renderings simply follow each other.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	stdout := &tlog{t: t}
	code := daemon.Main(ctx, []string{"status", "--config", emptyConfig(t), "--watch", "--interval", "400ms"}, env, stdout, &tlog{t: t, name: "stderr"})
	if n := strings.Count(stdout.String(), "PeriodLocked 2"); code != 0 || n < 2 || strings.Contains(stdout.String(), "\x1b") {
		t.Errorf("status --watch: exit %d, %d renderings, want at least 2 without escapes:\n%s", code, n, stdout)
	}
}

// Polled reads (/healthz, /metrics) count only unfinished rows (outbox.TestStats shows that
// they read indexes only); `status` counts the history too.
func TestStatusCountsHistoryOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	for _, state := range []string{"pending", "in_flight", "failed", "done", "done", "cancelled"} {
		insertRow(t, db, tenantA, state, "")
	}
	polled, err := daemon.ReadStatus(ctx, db.Pool, db.Name, "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"pending": 1, "in_flight": 1, "failed": 1}
	if len(polled.Tenants) != 1 || !maps.Equal(polled.Tenants[0].Rows, want) {
		t.Errorf("polled status rows = %+v, want %v", polled.Tenants, want)
	}
	full, err := daemon.ReadStatus(ctx, db.Pool, db.Name, tenantA, true)
	if err != nil {
		t.Fatal(err)
	}
	want["done"], want["cancelled"] = 2, 1
	if len(full.Tenants) != 1 || !maps.Equal(full.Tenants[0].Rows, want) || full.Tenants[0].OldestPendingSeconds <= 0 {
		t.Errorf("full status = %+v, want rows %v", full.Tenants, want)
	}

}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Status shows each organisation's Xero budget as the dispatcher last saved it, and why its
// rows wait only while that save is fresh (a stopped daemon's reason is not current).
func testStatusBudget(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	env := dbEnv(db, nil)
	db.Exec(t, `INSERT INTO xerosync.connections (tenant_id, state, org_name, xero_tenant_id) VALUES ($1, 'connected', 'Acme Ltd', 'org-a'), ($2, 'connected', 'Beta Ltd', 'org-b')`, tenantA, tenantB)
	db.Exec(t, `INSERT INTO xerosync.xero_budget (xero_tenant_id, minute_remaining, day_remaining, day_limit, waiting, saved_at)
		VALUES ('org-a', 42, 900, 1000, 'day_pacing', now()), ('org-b', 5, 10, 1000, 'day_spent', now() - interval '1 hour')`)
	r := runCmd(t, env, "status", "--json")
	var st daemon.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	by := map[string]daemon.TenantStatus{}
	for _, ts := range st.Tenants {
		by[ts.TenantID] = ts
	}
	a, b := by[tenantA], by[tenantB]
	if a.Budget == nil || a.Budget.MinuteRemaining == nil || *a.Budget.MinuteRemaining != 42 || *a.Budget.DayRemaining != 900 || a.Waiting != "day_pacing" {
		t.Errorf("tenant A: budget %+v, waiting %q; want 42 and 900 left, day_pacing", a.Budget, a.Waiting)
	}
	if b.Budget == nil || *b.Budget.DayRemaining != 10 || b.Waiting != "" {
		t.Errorf("tenant B: budget %+v, waiting %q; want 10 left, no reason from an hour-old save", b.Budget, b.Waiting)
	}
}
