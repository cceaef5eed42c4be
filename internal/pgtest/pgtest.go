// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per test package
// (initdb in a temporary directory, wal_level=logical, a random loopback port, a private
// socket directory) and a fresh database per test, created from a template that already holds
// Softbooq's schema and our migrations. Everything is stopped and removed when the package's
// tests end.
//
// Backends, chosen by environment:
//   - default: the local PostgreSQL server binaries (found through XEROSYNC_TEST_PG_BINDIR,
//     pg_config, /usr/lib/postgresql/*/bin or PATH). PostgreSQL refuses to run as root, so
//     when we are root the cluster runs as the "postgres" system user.
//   - XEROSYNC_TEST_DATABASE_URL=postgres://superuser@host:port/postgres: an existing server
//     (it must have wal_level=logical); tests create and drop their databases there.
//   - XEROSYNC_TEST_BACKEND=docker, in a build with -tags dockertest: postgres:15 in a
//     container through github.com/ory/dockertest/v3, for machines with a Docker engine.
//
// Use it from TestMain so the cluster is stopped at the end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/softbooq/xerosync/internal/migrate"
)

// SoftbooqSchema is Softbooq's schema.sql, the contract copy kept beside this file
// (TestSchemaMatchesShared checks it against ../shared when that is present).
//
//go:embed softbooq.sql
var SoftbooqSchema string

const templateDB = "xerosync_template"

// startDocker is set by docker.go in builds with -tags dockertest.
var startDocker func(ctx context.Context) (*Cluster, error)

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
	dbSeq      atomic.Int64
)

// Main runs the package's tests, stops the shared cluster, if one was started, and then
// fails the run if the tests left goroutines behind (STYLE 4: every goroutine has an owner
// that joins it), as goleak.VerifyTestMain does for packages without PostgreSQL.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stop cluster:", err)
		}
	}
	// Only after a passing run: a failed test may leave goroutines behind (a t.Fatal
	// before its cleanup), and that failure is already reported.
	// No goroutine is ignored: pgx starts none that live with the process (a pool's health
	// checker and a connection's readers end with Close, which New's cleanup calls), and
	// the cluster's waiter on the server process ends when Close has stopped it.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Shared returns the package's cluster, starting it on first use.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if u := os.Getenv("XEROSYNC_TEST_DATABASE_URL"); u != "" {
			shared, sharedErr = External(u)
		} else if os.Getenv("XEROSYNC_TEST_BACKEND") == "docker" {
			if startDocker == nil {
				sharedErr = errors.New("XEROSYNC_TEST_BACKEND=docker needs a build with -tags dockertest")
			} else {
				shared, sharedErr = startDocker(ctx)
			}
		} else {
			shared, sharedErr = StartLocal(ctx, LocalConfig{})
		}
		if sharedErr == nil {
			sharedErr = shared.prepareTemplate(ctx)
		}
	})
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// DB is one test's database.
type DB struct {
	Cluster *Cluster
	Name    string
	URL     string // connection URL as the superuser
	Pool    *pgxpool.Pool
}

// New creates a fresh database with Softbooq's schema and our migrations, dropped when the
// test ends (together with any replication slot made in it).
func New(t testing.TB) *DB {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.adminExec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateDB)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	db := &DB{Cluster: c, Name: name, URL: c.URL(name)}
	pool, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	db.Pool = pool
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.dropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return db
}

// URLAs returns the database URL for another role (with an optional password).
func (db *DB) URLAs(user, password string) string {
	u, _ := url.Parse(db.URL)
	if password == "" {
		u.User = url.User(user)
	} else {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// Exec runs SQL on the test database and fails the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: exec %q: %v", firstLine(sql), err)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func (c *Cluster) adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// prepareTemplate builds the template database once per cluster: Softbooq's schema, then ours.
func (c *Cluster) prepareTemplate(ctx context.Context) error {
	_ = c.dropDatabase(ctx, templateDB)
	if _, err := c.CreateDatabase(ctx, templateDB); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	return nil
}

// dropDatabase drops name, first dropping the replication slots that live in it (a database
// with a slot cannot be dropped) and ending its sessions.
func (c *Cluster) dropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for range 50 {
		_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, name)
		if err == nil {
			var left int
			if err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, name).Scan(&left); err != nil {
				return err
			}
			if left == 0 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
	return err
}

// Eventually polls ok every 20ms until it holds, failing the test after limit. Limits are
// generous: they catch hangs, not slowness (tests never fail on wall-clock speed).
func Eventually(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogWriter is an io.Writer that logs each write through t.Log: give it to a slog handler so
// a test's logs show with the test.
func LogWriter(t testing.TB) io.Writer { return testWriter{t} }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// RandomText returns n letters that do not compress: a value this long is stored out of line
// (TOAST), which is what tests of unchanged-TOAST handling need.
func RandomText(n int) string {
	var b strings.Builder
	x := uint32(2463534242)
	for b.Len() < n {
		x ^= x << 13 // xorshift: cheap, deterministic, and not compressible by pglz
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte('a' + byte(x%26))
	}
	return b.String()
}

// CreateDatabase creates database name on c with Softbooq's schema and our migrations, as
// New's template has them, and returns its URL. For tests and tools that run their own
// cluster (a restart, a different wal_level, a benchmark).
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := c.adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	conn, err := pgx.Connect(ctx, c.URL(name))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, SoftbooqSchema); err != nil {
		return "", fmt.Errorf("softbooq schema: %w", err)
	}
	if _, err := migrate.Up(ctx, conn); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	return c.URL(name), nil
}

// Own starts a cluster for one test alone (a setting of its own, a restart, a standby that
// never answers), skipped under -short, and stops it when the test and its other cleanups
// are done.
func Own(t testing.TB, cfg LocalConfig) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts its own cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := StartLocal(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}
