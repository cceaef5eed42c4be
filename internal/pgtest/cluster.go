package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server the tests use: a local throwaway one, or an external one.
type Cluster struct {
	host, port, user string
	closeFn          func() error // an external backend's clean-up (the Docker container)

	// local cluster only
	dir    string
	binDir string
	cred   *syscall.Credential
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	conf   map[string]string // postgresql.conf settings, given as -c on the command line
}

// LocalConfig tunes a throwaway cluster. Zero values are sensible.
type LocalConfig struct {
	// Settings are extra postgresql.conf settings (name → value) that override the defaults.
	Settings map[string]string
}

// External uses an existing server given by a superuser URL.
func External(rawURL string) (*Cluster, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("XEROSYNC_TEST_DATABASE_URL: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return &Cluster{host: u.Hostname(), port: port, user: u.User.Username()}, nil
}

// StartLocal runs initdb in a temporary directory and starts the server.
func StartLocal(ctx context.Context, cfg LocalConfig) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "xerosync-pg-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	c := &Cluster{host: "127.0.0.1", user: "postgres", dir: dir, binDir: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: hand the directory to the postgres system user
		// and run the server binaries as that user.
		pu, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(pu.Uid)
		gid, _ := strconv.Atoi(pu.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	var out bytes.Buffer
	initdb := c.command(filepath.Join(bin, "initdb"), "-D", c.dataDir(), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Stdout, initdb.Stderr = &out, &out
	if err := initdb.Run(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out.String())
	}
	settings := map[string]string{
		"wal_level":               "logical",
		"max_replication_slots":   "40",
		"max_wal_senders":         "40",
		"max_connections":         "200",
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": dir,
		// Only our processes get killed in tests, never the OS, so the OS cache is durable
		// enough; synchronous_commit stays on so an immediate shutdown loses nothing committed.
		"fsync":                     "off",
		"full_page_writes":          "off",
		"shared_buffers":            "64MB",
		"wal_sender_timeout":        "60s",
		"log_min_messages":          "warning",
		"logical_decoding_work_mem": "64MB",
	}
	for k, v := range cfg.Settings {
		settings[k] = v
	}
	c.conf = settings
	if err := c.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// URL is the superuser connection URL for database db.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(c.user), Host: net.JoinHostPort(c.host, c.port), Path: "/" + db}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// BinDir is where the server binaries are (empty for an external cluster).
func (c *Cluster) BinDir() string { return c.binDir }

// Start starts a stopped local cluster (on a new port the first time, the same one after).
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" {
		return errors.New("pgtest: cannot start an external cluster")
	}
	if c.cmd != nil {
		return nil
	}
	for attempt := 0; ; attempt++ {
		if c.port == "" || attempt > 0 {
			p, err := freePort()
			if err != nil {
				return err
			}
			c.port = strconv.Itoa(p)
		}
		err := c.startOnce(ctx)
		if err == nil {
			return nil
		}
		if attempt >= 3 {
			return err
		}
	}
}

func (c *Cluster) startOnce(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	args := []string{"-D", c.dataDir(), "-p", c.port}
	keys := make([]string, 0, len(c.conf))
	for k := range c.conf {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable order is easier to read in ps
	for _, k := range keys {
		args = append(args, "-c", k+"="+c.conf[k])
	}
	cmd := c.command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			c.cmd, c.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			return fmt.Errorf("postgres exited during start-up:\n%s", tail(log, 2000))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		}
	}
}

// Stop shuts the local server down: fast (SIGINT) or immediate (SIGQUIT, as in a crash).
func (c *Cluster) Stop(immediate bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	sig := syscall.SIGINT
	if immediate {
		sig = syscall.SIGQUIT
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
	return nil
}

// Restart stops and starts the local server on the same port.
func (c *Cluster) Restart(ctx context.Context, immediate bool) error {
	if err := c.Stop(immediate); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Close stops the server and removes its directory.
func (c *Cluster) Close() error {
	if c.closeFn != nil {
		return c.closeFn()
	}
	if c.dir == "" {
		return nil
	}
	err := c.Stop(false)
	return errors.Join(err, os.RemoveAll(c.dir))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinDir locates the PostgreSQL server binaries.
func findBinDir() (string, error) {
	if d := os.Getenv("XEROSYNC_TEST_PG_BINDIR"); d != "" {
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := string(bytes.TrimSpace(out))
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries found: install postgresql-15 (Debian) or set XEROSYNC_TEST_PG_BINDIR")
}

func versionOf(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
