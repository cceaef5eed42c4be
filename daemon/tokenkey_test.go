package daemon_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/tenant"
)

// newKeyFile writes a fresh token key (base64, as the README makes one) and returns its path
// and bytes.
func newKeyFile(t *testing.T, name string) (string, []byte) {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// withKey is env with token.key_file set to path.
func withKey(env map[string]string, path string) map[string]string {
	out := maps.Clone(env)
	out["XEROSYNC_TOKEN_KEY_FILE"] = path
	return out
}

// runUntilExit starts `run` and waits for it to stop by itself, as it must on a
// configuration error.
func runUntilExit(t *testing.T, env map[string]string) (int, string) {
	t.Helper()
	a := startDaemon(t, "run", env)
	select {
	case code := <-a.done:
		a.once.Do(a.cancel) // reported here, not by startDaemon's cleanup
		return code, a.stderr.String()
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not stop")
		return 0, ""
	}
}

// keyOpens reports how the key in keyFile fares with the stored token sets (read only).
func keyOpens(t *testing.T, x *xeroSetup, key []byte) (tenant.KeyReport, error) {
	t.Helper()
	st, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: x.db.Pool, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return st.CheckKey(context.Background())
}

func connState(t *testing.T, x *xeroSetup, tenant string) (state, lastError string) {
	t.Helper()
	var le *string
	if err := x.db.Pool.QueryRow(context.Background(), "SELECT state, last_error FROM xerosync.connections WHERE tenant_id = $1", tenant).Scan(&state, &le); err != nil {
		t.Fatal(err)
	}
	if le != nil {
		lastError = *le
	}
	return state, lastError
}

// A daemon started with a token key that opens none of the stored tokens stops with exit 2
// naming token.key_file and the file, and changes nothing; so do the commands that use a
// tenant's tokens.
func testKeyFileWrong(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	wrong, _ := newKeyFile(t, "rotated-key")
	env := withKey(x.env, wrong)

	code, out := runUntilExit(t, env)
	if code != daemon.ExitUsage || !strings.Contains(out, "config: token.key_file: "+wrong+" opens none of the 1 stored Xero token sets") {
		t.Fatalf("run with a wrong key: exit %d, want 2 naming token.key_file %s:\n%s", code, wrong, out)
	}
	if state, _ := connState(t, x, tenantA); state != "connected" {
		t.Errorf("connection after a refused start: %s, want connected (untouched)", state)
	}
	for _, args := range [][]string{{"backfill", "--tenant", tenantA}, {"check", "--tenant", tenantA}, {"disconnect", "--tenant", tenantA}} {
		r := runCmd(t, env, args...)
		if r.code != daemon.ExitUsage || !strings.Contains(r.stderr, "config: token.key_file: "+wrong) {
			t.Errorf("%s with a wrong key: exit %d, want 2 naming the key file:\n%s", args[0], r.code, r.stderr)
		}
	}
	if n := len(x.sim.Connections()); n != 1 {
		t.Errorf("%d connections at Xero, want the one untouched", n)
	}
}

// A key that opens some tenants' tokens: the others are auth_failed with a message naming
// the key, /healthz is degraded, and the daemon carries on for the rest. A token set that
// stops opening while it runs does the same, and its rows wait without spending attempts.
func testKeyFilePartial(t *testing.T) {
	t.Parallel()
	x := newXeroSetup(t, "Acme Ltd", "Beta Ltd")
	if r := x.connect(t, "--tenant", tenantA, "--org", "Acme Ltd"); r.code != 0 {
		t.Fatalf("connect A: exit %d\n%s", r.code, r.stderr)
	}
	// B is connected with another key file (an operator's shell configured apart from the
	// daemon), so its token set is sealed under that key.
	other, _ := newKeyFile(t, "other-key")
	xb := *x
	xb.env = withKey(x.env, other)
	if r := xb.connect(t, "--tenant", tenantB, "--org", "Beta Ltd"); r.code != 0 {
		t.Fatalf("connect B: exit %d\n%s", r.code, r.stderr)
	}

	a := startDaemon(t, "a", x.env)
	h := a.waitHealth(t, 30*time.Second, "a to lead, degraded by B", func(code int, h daemon.Health) bool {
		return code == http.StatusOK && h.Role == "leader" && h.Status == daemon.StatusDegraded
	})
	conns := map[string]string{}
	for _, tn := range h.Tenants {
		conns[tn.TenantID] = tn.Connection
	}
	if conns[tenantA] != "connected" || conns[tenantB] != "auth_failed" {
		t.Errorf("tenants in /healthz = %+v", h.Tenants)
	}
	keyFile := x.env["XEROSYNC_TOKEN_KEY_FILE"]
	if state, msg := connState(t, x, tenantB); state != "auth_failed" || !strings.Contains(msg, "token.key_file "+keyFile) {
		t.Errorf("B = %s %q, want auth_failed naming token.key_file %s", state, msg, keyFile)
	}

	// While running: A's token set stops opening (here: copied from B's row, which the seal
	// binds to B). A's change is not retried for ever: A becomes auth_failed, naming the key,
	// and the row waits with no attempt spent.
	x.db.Exec(t, "UPDATE xerosync.connections SET token_sealed = (SELECT token_sealed FROM xerosync.connections WHERE tenant_id = $2) WHERE tenant_id = $1", tenantA, tenantB)
	x.db.Exec(t, "INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, 'Kiwi Ltd', 'ap@kiwi.example')", tenantA)
	waitFor(t, 30*time.Second, "A to be auth_failed", func() bool {
		state, msg := connState(t, x, tenantA)
		return state == "auth_failed" && strings.Contains(msg, "token.key_file "+keyFile)
	}, func() string { s, m := connState(t, x, tenantA); return s + " " + m })
	// The claimed row is handed back (refunded) by the lane as it stops: wait for that.
	row := func() (string, int) {
		var state string
		var attempts int
		if err := x.db.Pool.QueryRow(context.Background(), "SELECT state, attempts FROM xerosync.outbox WHERE tenant_id = $1", tenantA).Scan(&state, &attempts); err != nil {
			t.Fatal(err)
		}
		return state, attempts
	}
	waitFor(t, 30*time.Second, "A's row back to pending with no attempt spent", func() bool {
		state, attempts := row()
		return state == "pending" && attempts == 0
	}, func() string { state, attempts := row(); return fmt.Sprintf("%s after %d attempts", state, attempts) })
}

// rotate-key re-seals every token set under the new key in one go: afterwards they open
// under the new key and not the old, and a daemon with the new key pushes.
func testRotateKey(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	oldKey, err := os.ReadFile(x.env["XEROSYNC_TOKEN_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	newFile, newKey := newKeyFile(t, "token-key.new")

	r := runCmd(t, x.env, "rotate-key", "--new", newFile)
	if r.code != 0 || !strings.Contains(r.stdout, "re-sealed 1 token sets of 1 connections") ||
		!strings.Contains(r.stdout, "point token.key_file at "+newFile) || !strings.Contains(r.stdout, "restart") {
		t.Fatalf("rotate-key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if rep, err := keyOpens(t, x, newKey); err != nil || len(rep.Failed) != 0 || rep.Checked != 1 {
		t.Errorf("under the new key: %+v, %v", rep, err)
	}
	if _, err := keyOpens(t, x, oldKey); !errors.Is(err, tenant.ErrTokenKey) {
		t.Errorf("the old key still opens the tokens: %v", err)
	}

	// The old key no longer starts the daemon; the new one does, and it pushes.
	if code, out := runUntilExit(t, x.env); code != daemon.ExitUsage {
		t.Fatalf("run with the old key: exit %d, want 2\n%s", code, out)
	}
	a := startDaemon(t, "a", withKey(x.env, newFile))
	a.waitHealth(t, 30*time.Second, "a to lead", isLeaderOK)
	x.db.Exec(t, "INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, 'Kiwi Ltd', 'ap@kiwi.example')", tenantA)
	org := x.sim.State().Orgs[0].TenantID
	waitFor(t, 30*time.Second, "the contact in Xero", func() bool {
		cs := x.sim.Contacts(org)
		return len(cs) == 1 && cs[0].Name == "Kiwi Ltd"
	}, nil)
	if state, msg := connState(t, x, tenantA); state != "connected" {
		t.Errorf("connection after the push: %s %q", state, msg)
	}
}

// rotate-key run with a key that is not the current one refuses, exit 1, and changes nothing.
func testRotateKeyWrongCurrent(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	before, _ := readConnection(t, x.db, tenantA)
	wrong, _ := newKeyFile(t, "not-the-key")
	newFile, _ := newKeyFile(t, "token-key.new")

	r := runCmd(t, withKey(x.env, wrong), "rotate-key", "--new", newFile)
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "nothing was changed") || !strings.Contains(r.stderr, tenantA) ||
		!strings.Contains(r.stderr, "token.key_file "+wrong) {
		t.Fatalf("rotate-key with a wrong current key: exit %d, want 1\n%s", r.code, r.stderr)
	}
	after, _ := readConnection(t, x.db, tenantA)
	if string(after.sealed) != string(before.sealed) || after.state != "connected" {
		t.Errorf("the row changed: %+v", after)
	}
	// The same file twice, and a malformed new key, are usage errors.
	if r := runCmd(t, x.env, "rotate-key", "--new", x.env["XEROSYNC_TOKEN_KEY_FILE"]); r.code != daemon.ExitUsage || !strings.Contains(r.stderr, "holds the current key") {
		t.Errorf("rotate-key to the current key: exit %d\n%s", r.code, r.stderr)
	}
	short := filepath.Join(t.TempDir(), "short")
	_ = os.WriteFile(short, []byte("abc"), 0o600)
	if r := runCmd(t, x.env, "rotate-key", "--new", short); r.code != daemon.ExitUsage || !strings.Contains(r.stderr, "32 random bytes") {
		t.Errorf("rotate-key to a malformed key: exit %d\n%s", r.code, r.stderr)
	}
}
