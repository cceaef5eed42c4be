package main_test

// Tests of the built binary, as systemd and an operator run it: exit codes, the health
// endpoint following PostgreSQL down and up, sd_notify on a NOTIFY_SOCKET, leadership
// moving after a kill -9, and the connect → backfill path against the simulator. The
// in-process tests of package daemon cover each command's logic; these show the binary
// itself behaves.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds xerosync once per test run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xerosync-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "xerosync")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type proc struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	code   int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func env(extra map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "NO_COLOR=1"}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

func start(t *testing.T, vars map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), out: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env(vars)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, p.out.String())
		}
	})
	return p
}

func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(limit):
		t.Fatalf("%v did not exit within %s", p.cmd.Args, limit)
		return -1
	}
}

func run(t *testing.T, vars map[string]string, args ...string) (int, string) {
	t.Helper()
	p := start(t, vars, args...)
	return p.wait(t, 2*time.Minute), p.out.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type health struct {
	Status string `json:"status"`
	Role   string `json:"role"`
}

func getHealth(addr string) (int, health) {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, health{}
	}
	defer resp.Body.Close()
	var h health
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return resp.StatusCode, h
}

func dbVars(db *pgtest.DB, addr string) map[string]string {
	return map[string]string{
		"XEROSYNC_DATABASE_URL":  db.URL,
		"XEROSYNC_DATABASE_SLOT": db.Name,
		"XEROSYNC_HTTP_ADDR":     addr,
	}
}

func TestBinaryExitCodes(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	vars := dbVars(db, freeAddr(t))
	cases := []struct {
		name  string
		vars  map[string]string
		args  []string
		code  int
		wants string
	}{
		{"no command", vars, nil, 2, "usage"},
		{"unknown command", vars, []string{"frobnicate"}, 2, "frobnicate"},
		{"missing explicit config", vars, []string{"--config", "/nonexistent/xerosync.toml", "migrate"}, 2, "/nonexistent/xerosync.toml"},
		{"bad value names the key", map[string]string{"XEROSYNC_DATABASE_URL": db.URL, "XEROSYNC_LOG_LEVEL": "loud"}, []string{"migrate"}, 2, "log.level"},
		{"no database url", map[string]string{}, []string{"migrate"}, 2, "database.url"},
		{"help", vars, []string{"run", "--help"}, 0, "usage: xerosync"},
		{"migrate", vars, []string{"migrate"}, 0, ""},
		{"migrate again", vars, []string{"migrate"}, 0, ""},
		{"status", vars, []string{"status"}, 0, ""},
		{"retry of nothing", vars, []string{"retry", "--id", "99999"}, 1, "99999"},
		{"connect without xero settings", vars, []string{"connect", "--tenant", "0b7d4c3e-8f1a-4e55-9a3c-2d6f1e0b9c47"}, 2, "xero.client_id"},
	}
	for _, c := range cases {
		code, out := run(t, c.vars, c.args...)
		if code != c.code || !strings.Contains(out, c.wants) {
			t.Errorf("%s: xerosync %v exited %d, want %d with %q in:\n%s", c.name, c.args, code, c.code, c.wants, out)
		}
	}
}

// /healthz is 503 while PostgreSQL is down and 200 again once it is back; the daemon itself
// keeps running through the outage.
func TestBinaryHealthFollowsPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := pgtest.Own(t, pgtest.LocalConfig{})
	url := appDatabase(t, cl)
	addr := freeAddr(t)
	d := start(t, map[string]string{"XEROSYNC_DATABASE_URL": url, "XEROSYNC_HTTP_ADDR": addr}, "run")
	pgtest.Eventually(t, time.Minute, "healthz 200 as leader", func() bool {
		code, h := getHealth(addr)
		return code == 200 && h.Role == "leader"
	})
	if err := cl.Stop(false); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, time.Minute, "healthz 503 with PostgreSQL down", func() bool {
		code, h := getHealth(addr)
		return code == 503 && h.Status == "down"
	})
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 2*time.Minute, "healthz 200 again", func() bool {
		code, _ := getHealth(addr)
		return code == 200
	})
	select {
	case <-d.exited:
		t.Fatalf("the daemon exited during the outage (%d)", d.code)
	default:
	}
}

func appDatabase(t *testing.T, cl *pgtest.Cluster) string {
	t.Helper()
	url, err := cl.CreateDatabase(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// systemd's Type=notify protocol: READY=1 once serving, STOPPING=1 on SIGTERM, then exit 0.
func TestBinaryNotifiesSystemd(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	vars := dbVars(db, freeAddr(t))
	vars["NOTIFY_SOCKET"] = sock
	vars["WATCHDOG_USEC"] = "2000000"
	d := start(t, vars, "run")
	want := func(state string) {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, state) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s on NOTIFY_SOCKET", state)
			}
		}
	}
	want("READY=1")
	want("WATCHDOG=1")
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	want("STOPPING=1")
	if code := d.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

// Two daemons: one leads, the other waits; after the leader is killed with SIGKILL the other
// takes over within SPEC's 15 seconds.
func TestBinaryLeaderTakeover(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a, b := freeAddr(t), freeAddr(t)
	pa := start(t, dbVars(db, a), "run")
	pgtest.Eventually(t, time.Minute, "a leads", func() bool {
		code, h := getHealth(a)
		return code == 200 && h.Role == "leader"
	})
	start(t, dbVars(db, b), "run")
	pgtest.Eventually(t, time.Minute, "b waits as standby", func() bool {
		code, h := getHealth(b)
		return code == 200 && h.Role == "standby"
	})
	killed := time.Now()
	_ = pa.cmd.Process.Kill()
	pgtest.Eventually(t, time.Minute, "b leads", func() bool {
		code, h := getHealth(b)
		return code == 200 && h.Role == "leader"
	})
	took := time.Since(killed)
	t.Logf("takeover after kill -9: %s", took.Round(10*time.Millisecond))
	if took > 15*time.Second {
		t.Fatalf("takeover took %s; SPEC §4 allows 15s", took)
	}
}

// The operator path through the binary: connect with the real OAuth flow (the test plays the
// browser), backfill twice (the second run queues nothing), and a backfill into a locked
// period refused.
func TestBinaryConnectAndBackfill(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var tenant string
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO core.tenants (name) VALUES ('Acme') RETURNING id::text`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, `INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, 'Buyer', 'b@example.com')`, tenant)
	db.Exec(t, `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date)
		SELECT $1, id, 'H-1', 'issued', 'NZD', '2026-08-01' FROM crm.customers`, tenant)
	sim, org, vars := connectedTenant(t, db, tenant, xerosim.Config{})
	count := func() int {
		var n int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM xerosync.outbox WHERE tenant_id = $1`, tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if code, out := run(t, vars, "backfill", "--tenant", tenant, "--since", "2026-01-01"); code != 0 {
		t.Fatalf("backfill exited %d:\n%s", code, out)
	}
	first := count()
	if first != 2 { // the contact, then the invoice
		t.Fatalf("backfill queued %d rows, want 2", first)
	}
	if code, out := run(t, vars, "backfill", "--tenant", tenant, "--since", "2026-01-01"); code != 0 || count() != first {
		t.Fatalf("second backfill exited %d and left %d rows (want %d):\n%s", code, count(), first, out)
	}
	if err := sim.UpdateOrg(org, func(o *xerosim.OrgConfig) { o.PeriodLockDate = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC) }); err != nil {
		t.Fatal(err)
	}
	if code, out := run(t, vars, "backfill", "--tenant", tenant, "--since", "2026-03-01"); code != 1 || !strings.Contains(out, "lock") {
		t.Fatalf("backfill into a locked period exited %d, want 1 naming the lock date:\n%s", code, out)
	}
	// check: the invoice has no lines, the organisation is fine: passes, or names problems.
	if code, out := run(t, vars, "check", "--tenant", tenant); code != 0 {
		t.Fatalf("check exited %d:\n%s", code, out)
	}
	if code, out := run(t, vars, "status", "--tenant", tenant, "--json"); code != 0 || !strings.Contains(out, `"pending": 2`) {
		t.Fatalf("status exited %d:\n%s", code, out)
	}
	if code, out := run(t, vars, "retry", "--tenant", tenant, "--code", "ValidationError"); code != 0 {
		t.Fatalf("retry by code exited %d:\n%s", code, out)
	}
	if code, out := run(t, vars, "disconnect", "--tenant", tenant); code != 0 {
		t.Fatalf("disconnect exited %d:\n%s", code, out)
	}
	var state string
	if err := db.Pool.QueryRow(context.Background(), `SELECT state FROM xerosync.connections WHERE tenant_id = $1`, tenant).Scan(&state); err != nil || state != "disconnected" {
		t.Fatalf("after disconnect the connection is %q (%v)", state, err)
	}
	if len(sim.Connections()) != 0 {
		t.Fatalf("the Xero connection is still there: %+v", sim.Connections())
	}
}

// connectedTenant starts the simulator with one organisation and connects tenant to it through
// the binary's real OAuth flow (the test plays the browser). It returns the environment for
// further commands.
func connectedTenant(t *testing.T, db *pgtest.DB, tenant string, cfg xerosim.Config) (*xerosim.Sim, string, map[string]string) {
	t.Helper()
	redirect := "http://" + freeAddr(t) + "/callback"
	client := xerosim.DefaultClient()
	client.RedirectURIs = []string{redirect}
	cfg.Clients = []xerosim.Client{client}
	sim, srv := xerosim.NewServer(t, cfg)
	org := sim.MustAddOrg(xerosim.DefaultOrg("Acme Ltd"))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "token-key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := dbVars(db, freeAddr(t))
	for k, v := range map[string]string{
		"XEROSYNC_XERO_CLIENT_ID": client.ID, "XEROSYNC_XERO_CLIENT_SECRET": client.Secret,
		"XEROSYNC_XERO_LOGIN_URL": srv.URL, "XEROSYNC_XERO_IDENTITY_URL": srv.URL, "XEROSYNC_XERO_API_URL": srv.URL,
		"XEROSYNC_XERO_REDIRECT_URL": redirect, "XEROSYNC_TOKEN_KEY_FILE": keyFile,
	} {
		vars[k] = v
	}

	cmd := exec.Command(binary(t), "connect", "--tenant", tenant)
	cmd.Env = env(vars)
	stdout, _ := cmd.StdoutPipe()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		printed.WriteString(line + "\n")
		if strings.HasPrefix(line, "http") && strings.Contains(line, "/identity/connect/authorize") {
			go func() { // the browser
				resp, err := http.Get(strings.TrimSpace(line))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("connect: %v\n%s%s", err, printed.String(), stderr.String())
	}
	var state, xeroTenant string
	if err := db.Pool.QueryRow(context.Background(), `SELECT state, xero_tenant_id FROM xerosync.connections WHERE tenant_id = $1`, tenant).Scan(&state, &xeroTenant); err != nil {
		t.Fatal(err)
	}
	if state != "connected" || xeroTenant != org {
		t.Fatalf("connection %s to %s, want connected to %s", state, xeroTenant, org)
	}

	return sim, org, vars
}

// SIGTERM while requests are under way: the daemon lets them finish and records what Xero
// did, returns the rest to pending, and exits 0; nothing is left in flight, and after a
// restart every invoice is in Xero exactly once.
func TestBinarySIGTERMMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var tenant string
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO core.tenants (name) VALUES ('Acme') RETURNING id::text`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, `INSERT INTO integrations.xero_account_mappings VALUES ($1, 'sales', '200')`, tenant)
	db.Exec(t, `INSERT INTO crm.customers (tenant_id, name, email) SELECT $1, 'Buyer ' || g, 'b' || g || '@example.com' FROM generate_series(1, 30) g`, tenant)
	db.Exec(t, `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date)
		SELECT $1, id, 'S-' || substr(name, 7), 'issued', 'NZD', '2026-08-01' FROM crm.customers`, tenant)
	db.Exec(t, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category)
		SELECT id, $1, 1, 'work', 10, 'sales' FROM finance.invoices`, tenant)
	// Xero's minute budget is lifted: this test is about stopping, not pacing.
	sim, org, vars := connectedTenant(t, db, tenant, xerosim.Config{Limits: xerosim.Limits{PerMinute: 100_000}})
	if code, out := run(t, vars, "backfill", "--tenant", tenant, "--since", "2026-01-01"); code != 0 {
		t.Fatalf("backfill exited %d:\n%s", code, out)
	}
	// Every Accounting call is slow, so the SIGTERM lands while requests are under way.
	sim.SetFaults(xerosim.Faults{RateLatency: 1, Latency: 700 * time.Millisecond})
	state := func(s string) int {
		var n int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM xerosync.outbox WHERE state = $1`, s).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	d := start(t, vars, "run")
	pgtest.Eventually(t, time.Minute, "rows in flight", func() bool { return state("in_flight") > 0 })
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if n := state("in_flight"); n != 0 {
		t.Fatalf("%d rows left in flight after SIGTERM: their outcome was not recorded", n)
	}
	t.Logf("at SIGTERM: %d done, %d pending", state("done"), state("pending"))

	sim.ClearFaults()
	vars["XEROSYNC_HTTP_ADDR"] = freeAddr(t)
	start(t, vars, "run")
	pgtest.Eventually(t, 2*time.Minute, "everything pushed", func() bool { return state("done") == 60 })
	for i := 1; i <= 30; i++ {
		if n := sim.InvoiceCreations(org, fmt.Sprintf("S-%d", i)); n != 1 {
			t.Errorf("invoice S-%d created %d times", i, n)
		}
	}
	// What the pushes leave in /metrics.
	resp, err := http.Get("http://" + vars["XEROSYNC_HTTP_ADDR"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`xerosync_delivery_attempts_total{code="",entity="invoice",result="done"}`,
		`xerosync_xero_calls_total{operation="PUT /Invoices",status="200"}`,
		`xerosync_xero_rate_limit_remaining{limit="minute",slot=`,
		`xerosync_xero_token_expiry_seconds{slot=`,
		`xerosync_outbox_rows{slot=`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
