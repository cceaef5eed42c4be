package daemon_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/xero/xerosim"
)

const tenantB = "5f0c2a7e-3b1d-4c8e-9f6a-7d2e1b0c9a85"

// xeroSetup is a database with Softbooq tenants A and B, and the Xero simulator whose app
// has this test's loopback redirect URL registered.
type xeroSetup struct {
	db  *pgtest.DB
	sim *xerosim.Sim
	env map[string]string
}

// connectedSetup is a xeroSetup with tenantA connected to "Acme Ltd" through the real
// connect command.
func connectedSetup(t *testing.T) *xeroSetup {
	t.Helper()
	x := newXeroSetup(t, "Acme Ltd")
	if r := x.connect(t, "--tenant", tenantA); r.code != 0 {
		t.Fatalf("connect: exit %d\n%s", r.code, r.stderr)
	}
	return x
}

func newXeroSetup(t *testing.T, orgs ...string) *xeroSetup {
	t.Helper()
	db := pgtest.New(t)
	db.Exec(t, `INSERT INTO core.tenants (id, name) VALUES ($1, 'Tenant A'), ($2, 'Tenant B')`, tenantA, tenantB)
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	client := xerosim.DefaultClient()
	client.RedirectURIs = []string{redirect}
	sim, srv := xerosim.NewServer(t, xerosim.Config{Clients: []xerosim.Client{client}})
	for _, name := range orgs {
		sim.MustAddOrg(xerosim.DefaultOrg(name))
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "token-key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	env := dbEnv(db, map[string]string{
		"XEROSYNC_XERO_CLIENT_ID":     client.ID,
		"XEROSYNC_XERO_CLIENT_SECRET": client.Secret,
		"XEROSYNC_XERO_LOGIN_URL":     srv.URL,
		"XEROSYNC_XERO_IDENTITY_URL":  srv.URL,
		"XEROSYNC_XERO_API_URL":       srv.URL,
		"XEROSYNC_XERO_REDIRECT_URL":  redirect,
		"XEROSYNC_TOKEN_KEY_FILE":     keyFile,
	})
	return &xeroSetup{db: db, sim: sim, env: env}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// urlWatcher is connect's stdout: it keeps everything and hands over the first line that is
// the authorisation URL, which a test then opens as the user's browser would.
type urlWatcher struct {
	tlog
	once sync.Once
	urls chan string
	rest []byte
	mu   sync.Mutex
}

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.tlog.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.rest[:i])
		w.rest = w.rest[i+1:]
		if strings.HasPrefix(line, "http") && strings.Contains(line, xerosim.AuthorizePath) {
			w.once.Do(func() { w.urls <- line })
		}
	}
}

// connect runs `xerosync connect` and plays the browser: it follows the printed URL to the
// simulator, which consents at once and redirects to connect's loopback listener.
func (x *xeroSetup) connect(t *testing.T, args ...string) result {
	t.Helper()
	return x.connectWith(t, func(ctx context.Context, u string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("browser: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("browser: the redirect page answered %d", resp.StatusCode)
		}
	}, args...)
}

// connectWith runs `xerosync connect` and hands the authorisation URL it prints to browse,
// which plays the browser.
func (x *xeroSetup) connectWith(t *testing.T, browse func(ctx context.Context, authURL string), args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stdout := &urlWatcher{tlog: tlog{t: t}, urls: make(chan string, 1)}
	stderr := &tlog{t: t, name: "stderr"}
	done := make(chan int, 1)
	go func() {
		done <- daemon.MainWith(ctx, daemon.MainParams{
			Args: append([]string{"--config", emptyConfig(t), "connect"}, args...),
			Env:  x.env, Stdout: stdout, Stderr: stderr,
		})
	}()
	var code int
	select {
	case u := <-stdout.urls:
		browse(ctx, u)
		code = <-done
	case code = <-done:
	}
	t.Logf("stdout of connect %s:\n%s", strings.Join(args, " "), stdout.String())
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// connection is a tenant's xerosync.connections row.
type connection struct {
	state, xeroTenant, connID, org string
	sealed                         []byte
	from, until                    *string
}

func readConnection(t *testing.T, db *pgtest.DB, tenant string) (connection, bool) {
	t.Helper()
	var c connection
	err := db.Pool.QueryRow(context.Background(), `
		SELECT state, coalesce(xero_tenant_id, ''), coalesce(xero_connection_id, ''), coalesce(org_name, ''),
		       token_sealed, queue_from_lsn::text, queue_until_lsn::text
		  FROM xerosync.connections WHERE tenant_id = $1`, tenant).
		Scan(&c.state, &c.xeroTenant, &c.connID, &c.org, &c.sealed, &c.from, &c.until)
	if err != nil {
		return c, false
	}
	return c, true
}

// accessTokens are the bearer tokens the simulator saw on /connections calls.
func accessTokens(sim *xerosim.Sim) []string {
	var out []string
	for _, r := range sim.Requests() {
		if r.Endpoint == xerosim.ConnectionsPath {
			out = append(out, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}
	}
	return out
}

func testConnect(t *testing.T) {
	t.Parallel()
	x := newXeroSetup(t, "Acme Ltd", "Beta Ltd")
	orgs := map[string]string{}
	for _, st := range x.sim.State().Orgs {
		orgs[st.Name] = st.TenantID
	}

	// Two organisations granted and no --org: exit 1 listing both by name and id, nothing
	// linked, and the consent's connections removed again.
	r := x.connect(t, "--tenant", tenantA)
	if r.code != daemon.ExitFailure {
		t.Fatalf("connect without --org: exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"--org", `"Acme Ltd"`, orgs["Acme Ltd"], `"Beta Ltd"`, orgs["Beta Ltd"]} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the multi-organisation error does not contain %q:\n%s", want, r.stderr)
		}
	}
	if c, ok := readConnection(t, x.db, tenantA); ok && c.state == "connected" {
		t.Errorf("tenant linked although no organisation was chosen: %+v", c)
	}
	if n := len(x.sim.Connections()); n != 0 {
		t.Errorf("%d connections left at Xero after the refused connect, want 0", n)
	}

	// --org by name, case-insensitively: linked, the other organisation's connection removed.
	r = x.connect(t, "--tenant", tenantA, "--org", "ACME ltd")
	if r.code != 0 {
		t.Fatalf("connect --org: exit %d\n%s", r.code, r.stderr)
	}
	c, ok := readConnection(t, x.db, tenantA)
	if !ok || c.state != "connected" || c.xeroTenant != orgs["Acme Ltd"] || c.org != "Acme Ltd" || c.connID == "" ||
		c.from == nil || c.until != nil {
		t.Fatalf("connection after connect = %+v", c)
	}
	conns := x.sim.Connections()
	if len(conns) != 1 || conns[0].TenantID != orgs["Acme Ltd"] || !strings.EqualFold(conns[0].ID, c.connID) {
		t.Errorf("connections at Xero = %+v, want only Acme's (%s)", conns, c.connID)
	}
	// Encrypted at rest: neither the access token nor any part of it is in the row.
	tokens := accessTokens(x.sim)
	if len(tokens) == 0 || len(c.sealed) == 0 {
		t.Fatalf("no token seen (%d) or stored (%d bytes)", len(tokens), len(c.sealed))
	}
	for _, tok := range tokens {
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 8 && bytes.Contains(c.sealed, []byte(part)) {
				t.Errorf("token_sealed contains the access token in clear")
			}
		}
	}
	if strings.Contains(r.stdout+r.stderr, tokens[len(tokens)-1]) {
		t.Error("connect printed the access token")
	}
	for _, want := range []string{`"Acme Ltd"`, "xerosync backfill --tenant " + tenantA, `removed the connection to "Beta Ltd" that this authorisation made`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("connect's output does not contain %q", want)
		}
	}

	// One organisation per tenant: B cannot take Acme (by its Xero tenant id), and A's
	// connection survives the attempt.
	r = x.connect(t, "--tenant", tenantB, "--org", orgs["Acme Ltd"])
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "already linked to Softbooq tenant "+tenantA) {
		t.Fatalf("linking a linked organisation: exit %d\n%s", r.code, r.stderr)
	}
	if c, ok := readConnection(t, x.db, tenantB); ok && c.state == "connected" {
		t.Errorf("tenant B linked: %+v", c)
	}
	if conns := x.sim.Connections(); len(conns) != 1 || conns[0].TenantID != orgs["Acme Ltd"] {
		t.Errorf("connections at Xero after B's refused connect = %+v, want Acme's", conns)
	}
	// B can take Beta.
	if r := x.connect(t, "--tenant", tenantB, "--org", "beta ltd"); r.code != 0 {
		t.Fatalf("connect B to Beta: exit %d\n%s", r.code, r.stderr)
	}

	// A tenant Softbooq does not have is refused before any browser step.
	r = runCmd(t, x.env, "connect", "--tenant", "00000000-0000-4000-8000-000000000001")
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "no Softbooq tenant") || strings.Contains(r.stdout, "http") {
		t.Errorf("unknown tenant: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func testConnectTimeout(t *testing.T) {
	t.Parallel()
	x := newXeroSetup(t, "Acme Ltd")
	// Nobody opens the URL.
	r := runCmd(t, x.env, "connect", "--tenant", tenantA, "--timeout", "200ms")
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "no authorisation arrived within 200ms") {
		t.Fatalf("timeout: exit %d\n%s", r.code, r.stderr)
	}
	if _, ok := readConnection(t, x.db, tenantA); ok {
		t.Error("a connection row exists after a timed-out connect")
	}
}

func testReconnectAuthFailed(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	before, _ := readConnection(t, x.db, tenantA)
	// The refresh token died; capture went on queueing, so the tenant has waiting rows.
	x.db.Exec(t, `UPDATE xerosync.connections SET state = 'auth_failed', last_error = 'refresh token rejected (invalid_grant)' WHERE tenant_id = $1`, tenantA)
	row := insertRow(t, x.db, tenantA, "pending", "")

	r := x.connect(t, "--tenant", tenantA)
	if r.code != 0 || !strings.Contains(r.stdout, "reconnected") {
		t.Fatalf("reconnect: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	after, _ := readConnection(t, x.db, tenantA)
	if after.state != "connected" || bytes.Equal(after.sealed, before.sealed) || after.xeroTenant != before.xeroTenant {
		t.Errorf("after reconnect: %+v", after)
	}
	// The queue resumes where it was: same window, the waiting row untouched.
	if after.from == nil || before.from == nil || *after.from != *before.from || after.until != nil {
		t.Errorf("capture window moved: before %v, after %v-%v", *before.from, after.from, after.until)
	}
	var state string
	if err := x.db.Pool.QueryRow(context.Background(), "SELECT state FROM xerosync.outbox WHERE id = $1", row).Scan(&state); err != nil || state != "pending" {
		t.Errorf("queued row: %s, %v", state, err)
	}
	var lastError *string
	if err := x.db.Pool.QueryRow(context.Background(), "SELECT last_error FROM xerosync.connections WHERE tenant_id = $1", tenantA).Scan(&lastError); err != nil || lastError != nil {
		t.Errorf("last_error after reconnect = %v, %v; want NULL", lastError, err)
	}
}

func testDisconnect(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	row := insertRow(t, x.db, tenantA, "pending", "")

	r := runCmd(t, x.env, "disconnect", "--tenant", tenantA)
	if r.code != 0 {
		t.Fatalf("disconnect: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(x.sim.Connections()); n != 0 {
		t.Errorf("%d connections at Xero after disconnect, want 0", n)
	}
	if x.sim.Calls(http.MethodDelete, xerosim.ConnectionsPath+"/{id}", http.StatusNoContent) != 1 {
		t.Error("disconnect did not DELETE the connection")
	}
	if x.sim.Calls(http.MethodPost, xerosim.RevocationPath, http.StatusOK) != 1 {
		t.Error("disconnect did not revoke the tokens")
	}
	c, _ := readConnection(t, x.db, tenantA)
	if c.state != "disconnected" || c.sealed != nil || c.until == nil || c.from == nil {
		t.Errorf("connection after disconnect = %+v", c)
	}
	var state string
	if err := x.db.Pool.QueryRow(context.Background(), "SELECT state FROM xerosync.outbox WHERE id = $1", row).Scan(&state); err != nil || state != "pending" {
		t.Errorf("queued row after disconnect: %s, %v; want it untouched", state, err)
	}
	if !strings.Contains(r.stdout, "1 queued rows wait untouched") {
		t.Errorf("disconnect does not say what happens to the queued row:\n%s", r.stdout)
	}

	// Again: nothing to do, and said so.
	if r := runCmd(t, x.env, "disconnect", "--tenant", tenantA); r.code != 0 || !strings.Contains(r.stdout, "already disconnected") {
		t.Errorf("second disconnect: exit %d\n%s", r.code, r.stdout)
	}
	// Commands that need Xero refuse a disconnected tenant with what to do.
	if r := runCmd(t, x.env, "backfill", "--tenant", tenantA); r.code != 1 || !strings.Contains(r.stderr, "xerosync connect --tenant "+tenantA) {
		t.Errorf("backfill of a disconnected tenant: exit %d\n%s", r.code, r.stderr)
	}

	// Connecting again opens a new window that starts now.
	if r := x.connect(t, "--tenant", tenantA); r.code != 0 {
		t.Fatalf("connect again: exit %d\n%s", r.code, r.stderr)
	}
	again, _ := readConnection(t, x.db, tenantA)
	var later bool
	if err := x.db.Pool.QueryRow(context.Background(), "SELECT $1::pg_lsn >= $2::pg_lsn", again.from, c.until).Scan(&later); err != nil {
		t.Fatal(err)
	}
	if again.state != "connected" || again.until != nil || !later {
		t.Errorf("window after reconnecting a disconnected tenant: %v-%v (disconnected at %v)", again.from, again.until, *c.until)
	}
}
