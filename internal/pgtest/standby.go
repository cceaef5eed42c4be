package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// StandbyConfig tunes StartStandby.
type StandbyConfig struct {
	// Synchronous makes the primary wait for the standby's flush before a commit returns
	// (synchronous_standby_names), so a promotion loses nothing that was acknowledged.
	Synchronous bool
}

// standbyName is the standby's application_name and the name of its physical slot on the
// primary.
const standbyName = "pgtest_standby"

// StartStandby makes a streaming hot standby of the local cluster c on this machine, the way
// an operator would without pg_basebackup (the npm registry's server packages ship only
// initdb, pg_ctl and postgres): a physical slot for it, the low-level backup API
// (pg_backup_start, a copy of the data directory, pg_backup_stop's backup_label), then the
// standby started with standby.signal, streaming from c through that slot.
//
// On PostgreSQL 17 and later the standby also synchronises logical slots created with
// failover = true (sync_replication_slots, hot_standby_feedback, primary_slot_name, a dbname
// in primary_conninfo), and the primary's logical walsenders wait for it
// (synchronized_standby_slots): the setup the README documents for failover.
func (c *Cluster) StartStandby(ctx context.Context, cfg StandbyConfig) (*Cluster, error) {
	if c.dir == "" {
		return nil, fmt.Errorf("pgtest: a standby needs a local cluster")
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	version, err := serverVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_create_physical_replication_slot($1, true)`, standbyName); err != nil {
		return nil, fmt.Errorf("standby slot: %w", err)
	}
	dir, err := os.MkdirTemp("", "xerosync-pg-standby-")
	if err != nil {
		return nil, err
	}
	s := &Cluster{host: c.host, user: c.user, dir: dir, binDir: c.binDir, cred: c.cred, conf: maps.Clone(c.conf)}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if err := c.backupInto(ctx, conn, s.dataDir()); err != nil {
		return nil, err
	}
	s.conf["unix_socket_directories"] = dir
	s.conf["primary_conninfo"] = fmt.Sprintf("host=%s port=%s user=%s dbname=postgres application_name=%s", c.host, c.port, c.user, standbyName)
	s.conf["primary_slot_name"] = standbyName
	s.conf["hot_standby_feedback"] = "on"
	if version >= 17 {
		s.conf["sync_replication_slots"] = "on"
	}
	if err := s.Start(ctx); err != nil {
		return nil, fmt.Errorf("start standby: %w", err)
	}
	// Only now, so that the standby's copy of postgresql.auto.conf does not carry them: after
	// a promotion it must not wait for a standby of its own.
	var alter []string
	if version >= 17 {
		alter = append(alter, fmt.Sprintf(`ALTER SYSTEM SET synchronized_standby_slots = '%s'`, standbyName))
	}
	if cfg.Synchronous {
		alter = append(alter, fmt.Sprintf(`ALTER SYSTEM SET synchronous_standby_names = '%s'`, standbyName))
	}
	for _, q := range append(alter, `SELECT pg_reload_conf()`) {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	ok = true
	return s, nil
}

// backupInto copies c's data directory to dst with the low-level backup API, as a base
// backup from which a standby starts.
func (c *Cluster) backupInto(ctx context.Context, conn *pgx.Conn, dst string) error {
	if _, err := conn.Exec(ctx, `SELECT pg_backup_start('pgtest standby', true)`); err != nil {
		return fmt.Errorf("pg_backup_start: %w", err)
	}
	var out bytes.Buffer
	cp := c.command("cp", "-a", c.dataDir(), dst)
	cp.Stdout, cp.Stderr = &out, &out
	cpErr := cp.Run()
	var label, spcmap string
	if err := conn.QueryRow(ctx, `SELECT labelfile, spcmapfile FROM pg_backup_stop(false)`).Scan(&label, &spcmap); err != nil {
		return fmt.Errorf("pg_backup_stop: %w", err)
	}
	if cpErr != nil {
		return fmt.Errorf("copy the data directory: %w\n%s", cpErr, out.String())
	}
	// What a base backup leaves out: the primary's running state, its WAL (the standby
	// streams what it needs from the backup's start, held by its slot) and its slots (logical
	// slots reach a standby only by synchronisation, never by copy).
	for _, glob := range []string{"postmaster.pid", "postmaster.opts", "pg_wal/0*", "pg_wal/archive_status/*", "pg_replslot/*"} {
		matches, _ := filepath.Glob(filepath.Join(dst, glob))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	files := map[string]string{"backup_label": label, "standby.signal": ""}
	if spcmap != "" {
		files["tablespace_map"] = spcmap
	}
	for name, content := range files {
		p := filepath.Join(dst, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return err
		}
		if c.cred != nil {
			if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Promote ends recovery on a standby and waits until it accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var promoted bool
	if err := conn.QueryRow(ctx, `SELECT pg_promote(true, 60)`).Scan(&promoted); err != nil {
		return fmt.Errorf("pg_promote: %w", err)
	}
	if !promoted {
		return fmt.Errorf("pg_promote: not promoted within 60 s")
	}
	return nil
}

// Port is the cluster's TCP port.
func (c *Cluster) Port() string { return c.port }

// HostPort is the cluster's host:port, for multi-host URLs.
func (c *Cluster) HostPort() string { return c.host + ":" + c.port }

func serverVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var num string
	if err := conn.QueryRow(ctx, `SHOW server_version_num`).Scan(&num); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	return n / 10000, err
}

// LogTail is the end of a local cluster's server log, for a failing test's message.
func (c *Cluster) LogTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	return tail(b, n)
}

// QueryRow runs one query in database db of c and scans its single row into dest.
func (c *Cluster) QueryRow(ctx context.Context, db, sql string, dest ...any) error {
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.QueryRow(ctx, sql).Scan(dest...)
}
