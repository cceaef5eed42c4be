// Package migrate owns schema xerosync: numbered SQL files embedded in the binary, applied in
// order, each in its own transaction, under a session advisory lock so that two daemons (or a
// daemon and `xerosync migrate`) starting together never apply one twice. It never touches
// Softbooq's schemas.
//
// Each table it creates has exactly one package that writes it (inserts, updates, deletes or
// copies into it); every other package reads it or calls that package, so a rule about a
// table lives in one place. TestOneWriterPerTable reads the code and holds it so:
//
//	xerosync.checkpoint         cdc              the stream's position, stored with the rows
//	xerosync.outbox             outbox           enqueuer, backfill, retry, dispatcher, prune
//	xerosync.entities           outbox           which source rows Xero holds, and their ids
//	xerosync.contact_directory  outbox           each organisation's Xero contacts, for linking
//	xerosync.contact_directory_state outbox      when each directory was filled and last refreshed
//	xerosync.xero_budget        outbox           Xero's rate budgets, kept across restarts
//	xerosync.connections        internal/tenant  tokens (sealed), capture window, connect rules
//	xerosync.schema_migrations  internal/migrate applied migrations
//
// An administrator's UPDATE that raises retry_requested or cancel_requested (SPEC §3) is the
// one write from outside: the dispatcher applies the flag.
package migrate

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/*.sql
var files embed.FS

// lockKey is the advisory lock held while migrating; a fixed number so that every xerosync
// binary, old or new, agrees on it.
const lockKey = 7433_0001

// Migration is one numbered file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", e.Name())
		}
		body, err := files.ReadFile(path.Join("sql", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// Up applies every migration not yet recorded in xerosync.schema_migrations and returns the
// versions it applied. It holds a session advisory lock on conn for the duration, so conn must
// be a direct session (not a transaction-pooled connection).
func Up(ctx context.Context, conn *pgx.Conn) (applied []int, err error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must happen even when ctx was cancelled mid-way.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey); uerr != nil && err == nil {
			err = fmt.Errorf("release migration lock: %w", uerr)
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS xerosync;
		CREATE TABLE IF NOT EXISTS xerosync.schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT version FROM xerosync.schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	for _, m := range all {
		if slices.Contains(done, m.Version) {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO xerosync.schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}
