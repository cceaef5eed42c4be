package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestDaemon holds the tests that run the daemon against PostgreSQL. They run in parallel as
// subtests of one group, so that once the group is done every goroutine they started must be
// gone: checked here, where a leak is still the group's, as well as by pgtest.Main for the
// whole package after its tests.
func TestDaemon(t *testing.T) {
	pgtest.Shared(t) // the cluster's own goroutines are not ours to check
	ignore := goleak.IgnoreCurrent()
	t.Run("group", func(t *testing.T) {
		t.Run("ConfigErrors", testConfigErrors)
		t.Run("Migrate", testMigrate)
		t.Run("Retry", testRetry)
		t.Run("Status", testStatus)
		t.Run("StatusBudget", testStatusBudget)
		t.Run("LeaderStandbyTakeover", testLeaderStandbyTakeover)
		t.Run("LockLostStopsCapture", testLockLostStopsCapture)
		t.Run("Notify", testNotify)
		t.Run("SetupErrorStops", testSetupErrorStops)
		t.Run("CaptureToOutbox", testCaptureToOutbox)
		t.Run("DatabaseDown", testDatabaseDown)
		t.Run("Connect", testConnect)
		t.Run("ConnectTimeout", testConnectTimeout)
		t.Run("ReconnectAuthFailed", testReconnectAuthFailed)
		t.Run("Disconnect", testDisconnect)
		t.Run("Backfill", testBackfill)
		t.Run("BackfillLockDate", testBackfillLockDate)
		t.Run("BackfillAfterPrune", testBackfillAfterPrune)
		t.Run("ResyncSlotLost", testResyncSlotLost)
		t.Run("ResyncRefuses", testResyncRefuses)
		t.Run("ResyncUnderWrites", testResyncUnderWrites)
		t.Run("ResyncOnSlotLost", testResyncOnSlotLost)
		t.Run("Check", testCheck)
		t.Run("KeyFileWrong", testKeyFileWrong)
		t.Run("KeyFilePartial", testKeyFilePartial)
		t.Run("RotateKey", testRotateKey)
		t.Run("RotateKeyWrongCurrent", testRotateKeyWrongCurrent)
		t.Run("HTTPExposedWarning", testHTTPExposedWarning)
		t.Run("ConnectErrorDescriptionEscaped", testConnectErrorDescriptionEscaped)
		t.Run("ConnectReplayedCode", testConnectReplayedCode)
	})
	goleak.VerifyNone(t, ignore)
}

// tlog sends the daemon's output to the test log (STYLE 10), unless it has no name, and keeps
// a copy to assert on what an operator is told.
type tlog struct {
	t    *testing.T
	name string
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (l *tlog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	if l.name != "" {
		l.t.Log(l.name + ": " + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *tlog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// emptyConfig is a config file with nothing in it, so that a /etc/xerosync/xerosync.toml on
// the test machine cannot leak into the test.
func emptyConfig(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "xerosync.toml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dbEnv(db *pgtest.DB, extra map[string]string) map[string]string {
	env := map[string]string{
		"XEROSYNC_DATABASE_URL":  db.URL,
		"XEROSYNC_DATABASE_SLOT": db.Name, // slots are cluster-wide
		"XEROSYNC_HTTP_ADDR":     "127.0.0.1:0",
		"XEROSYNC_LOG_LEVEL":     "debug",
	}
	maps.Copy(env, extra)
	return env
}

// result is one finished command.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs one command to completion.
func runCmd(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// stdout is kept whole (a command's output arrives in many small writes) and logged once.
	stdout, stderr := &tlog{t: t}, &tlog{t: t, name: "stderr"}
	defer func() { t.Logf("stdout of %s:\n%s", strings.Join(args, " "), stdout) }()
	code := daemon.Main(ctx, append([]string{"--config", emptyConfig(t)}, args...), env, stdout, stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// running is a daemon started with `run` in this process.
type running struct {
	base   string // http://addr
	cancel context.CancelFunc
	done   chan int
	stderr *tlog

	once sync.Once
	code int
}

func startDaemon(t *testing.T, name string, env map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan int, 1), stderr: &tlog{t: t, name: name}}
	addrs := make(chan net.Addr, 1)
	go func() {
		r.done <- daemon.MainWith(ctx, daemon.MainParams{
			Args:     []string{"--config", emptyConfig(t), "run"},
			Env:      env,
			Stdout:   r.stderr,
			Stderr:   r.stderr,
			OnListen: func(a net.Addr) { addrs <- a },
		})
	}()
	t.Cleanup(func() {
		if code := r.stop(t); code != 0 {
			t.Errorf("%s exited with %d, want 0", name, code)
		}
	})
	select {
	case a := <-addrs:
		r.base = "http://" + a.String()
	case code := <-r.done:
		r.once.Do(func() { r.code = code })
		t.Fatalf("%s exited with %d before listening", name, code)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s", name)
	}
	return r
}

// stop cancels the daemon (as SIGTERM does) and returns its exit code.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.code = <-r.done:
		case <-time.After(time.Minute):
			t.Fatal("daemon did not stop within a minute of cancellation")
		}
	})
	return r.code
}

// get fetches path and decodes a JSON body into v (if v is not nil).
func (r *running) get(t *testing.T, path string, v any) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return resp.StatusCode, string(body)
}

func (r *running) health(t *testing.T) (int, daemon.Health) {
	t.Helper()
	var h daemon.Health
	code, _ := r.get(t, "/healthz", &h)
	return code, h
}

// waitHealth polls /healthz until ok says so, and returns the last answer.
func (r *running) waitHealth(t *testing.T, timeout time.Duration, what string, ok func(code int, h daemon.Health) bool) daemon.Health {
	t.Helper()
	var code int
	var h daemon.Health
	waitFor(t, timeout, what, func() bool {
		code, h = r.health(t)
		return ok(code, h)
	}, func() string { return fmt.Sprintf("last /healthz: %d %+v", code, h) })
	return h
}

func isLeaderOK(code int, h daemon.Health) bool {
	return code == http.StatusOK && h.Role == "leader" && h.Status == daemon.StatusOK
}

// waitFor is pgtest.Eventually (the one polling helper) that, on timing out, also logs
// detail (when not nil): the last answer seen, say.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, detail func() string) {
	t.Helper()
	held := false
	if detail != nil {
		// Eventually fails with t.Fatalf, which runs this on the way out.
		defer func() {
			if !held {
				t.Log(detail())
			}
		}()
	}
	pgtest.Eventually(t, timeout, what, cond)
	held = true
}
