package cdc

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SourceTables are the tables the publication holds: Softbooq's customers, invoices, invoice
// lines and payments. Nothing else, so that no unrelated change is decoded (LESSONS 4).
var SourceTables = []string{"crm.customers", "finance.invoices", "finance.invoice_lines", "finance.payments"}

var (
	//go:embed sql/checkpoint_read.sql
	checkpointReadSQL string
	//go:embed sql/checkpoint_init.sql
	checkpointInitSQL string
	//go:embed sql/checkpoint_write.sql
	checkpointWriteSQL string
	//go:embed sql/slot_read.sql
	slotReadSQL string
	//go:embed sql/slot_create.sql
	slotCreateSQL string
	//go:embed sql/slot_failover.sql
	slotFailoverSQL string
	//go:embed sql/role_check.sql
	roleCheckSQL string
	//go:embed sql/publication_tables.sql
	publicationTablesSQL string
	//go:embed sql/missing_sources.sql
	missingSourcesSQL string
	//go:embed sql/table_privileges.sql
	tablePrivilegesSQL string
	//go:embed sql/heartbeat.sql
	heartbeatSQL string
)

// ident quotes an identifier only when it needs it, so the SQL we print reads as written.
func ident(name string) string {
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return pgx.Identifier{name}.Sanitize()
		}
	}
	return name
}

// SetupError is a problem in the database's set-up that retrying cannot fix: it needs an
// administrator. Fix is what to run or do.
type SetupError struct {
	Problem string
	Fix     string
}

func (e *SetupError) Error() string {
	if e.Fix == "" {
		return e.Problem
	}
	return e.Problem + "\nto fix: " + e.Fix
}

// ErrSlotBusy means another process is consuming the slot (PostgreSQL allows one consumer).
var ErrSlotBusy = errors.New("replication slot is active in another process")

// DBTX is what set-up needs of a connection, pool or transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CheckRole verifies wal_level, the REPLICATION attribute and SELECT on the source tables.
func CheckRole(ctx context.Context, db DBTX) error {
	var user, walLevel string
	var canReplicate bool
	if err := db.QueryRow(ctx, roleCheckSQL).Scan(&user, &canReplicate, &walLevel); err != nil {
		return fmt.Errorf("check role: %w", err)
	}
	if walLevel != "logical" {
		return &SetupError{
			Problem: fmt.Sprintf("wal_level is %q; xerosync needs wal_level = logical", walLevel),
			Fix:     "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
		}
	}
	if !canReplicate {
		return &SetupError{
			Problem: fmt.Sprintf("role %q cannot use logical replication (it lacks the REPLICATION attribute)", user),
			Fix:     fmt.Sprintf("ALTER ROLE %s REPLICATION;", ident(user)),
		}
	}
	if err := checkSourcesExist(ctx, db); err != nil {
		return err
	}
	rows, err := db.Query(ctx, tablePrivilegesSQL, SourceTables)
	if err != nil {
		return fmt.Errorf("check table privileges: %w", err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("check table privileges: %w", err)
	}
	if len(missing) > 0 {
		return &SetupError{
			Problem: fmt.Sprintf("role %q cannot read %s", user, strings.Join(missing, ", ")),
			Fix:     fmt.Sprintf("GRANT SELECT ON %s TO %s;", strings.Join(missing, ", "), ident(user)),
		}
	}
	return nil
}

// checkSourcesExist returns a SetupError naming a source table that no longer exists, and the
// table it was probably renamed to: capture cannot go on (the WAL still carries its changes
// under whichever name they were written with), and only the administrator can decide.
func checkSourcesExist(ctx context.Context, db DBTX) error {
	var table, others string
	err := db.QueryRow(ctx, missingSourcesSQL, SourceTables).Scan(&table, &others)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check the source tables: %w", err)
	}
	e := &SetupError{
		Problem: fmt.Sprintf("source table %s does not exist: a Softbooq migration renamed or dropped it, and xerosync reads it", table),
		Fix:     fmt.Sprintf("restore %s (xerosync reads it by that name), then start xerosync again; nothing after the change was captured", table),
	}
	if others != "" {
		e.Problem += fmt.Sprintf(" (the publication now holds %s, which xerosync does not read: was it renamed?)", others)
		if !strings.Contains(others, ",") {
			e.Fix = fmt.Sprintf("ALTER TABLE %s RENAME TO %s; then start xerosync again (nothing after the rename was captured)", others, table[strings.IndexByte(table, '.')+1:])
		}
	}
	return e
}

// EnsurePublication creates the publication over SourceTables when it is missing, or adds the
// tables it lacks. Without the right to (creating a publication needs ownership of the
// tables), it returns a SetupError with the SQL an administrator must run.
func EnsurePublication(ctx context.Context, db DBTX, name string) error {
	ident := ident(name)
	var allOps bool
	var tables []string
	err := db.QueryRow(ctx, publicationTablesSQL, name).Scan(&allOps, &tables)
	var stmt string
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		stmt = fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s", ident, strings.Join(SourceTables, ", "))
	case err != nil:
		return fmt.Errorf("read publication %s: %w", name, err)
	default:
		if !allOps {
			return &SetupError{
				Problem: fmt.Sprintf("publication %s does not publish inserts, updates and deletes", name),
				Fix:     fmt.Sprintf("ALTER PUBLICATION %s SET (publish = 'insert, update, delete');", ident),
			}
		}
		var missing []string
		for _, t := range SourceTables {
			if !slices.Contains(tables, t) {
				missing = append(missing, t)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		stmt = fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s", ident, strings.Join(missing, ", "))
	}
	if _, err := db.Exec(ctx, stmt); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
			return &SetupError{
				Problem: fmt.Sprintf("publication %s is missing or incomplete and this role may not change it (%s)", name, pgErr.Message),
				Fix:     "as the owner of the tables (or a superuser): " + stmt + ";",
			}
		}
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// slotInfo is a row of pg_replication_slots.
type slotInfo struct {
	plugin, database, walStatus string
	ourDatabase                 string // the database we are connected to
	confirmed                   pglogrepl.LSN
	activePID                   int32
}

func readSlot(ctx context.Context, db DBTX, slot string) (*slotInfo, error) {
	var s slotInfo
	var confirmed *string
	err := db.QueryRow(ctx, slotReadSQL, slot).Scan(&s.plugin, &s.database, &s.ourDatabase, &confirmed, &s.walStatus, &s.activePID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read slot %s: %w", slot, err)
	}
	if confirmed != nil {
		if s.confirmed, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return nil, fmt.Errorf("slot %s confirmed_flush_lsn: %w", slot, err)
		}
	}
	return &s, nil
}

func readCheckpoint(ctx context.Context, db DBTX, slot string) (lsn pglogrepl.LSN, exists, known bool, err error) {
	var s *string
	err = db.QueryRow(ctx, checkpointReadSQL, slot).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("read checkpoint: %w", err)
	}
	if s == nil {
		return 0, true, false, nil
	}
	lsn, err = pglogrepl.ParseLSN(*s)
	return lsn, true, true, err
}

// recoverFix is what to do about a slot that cannot be streamed from: `xerosync resync`
// (with --force when the slot still looks healthy, as one consumed by someone else does).
func recoverFix(slot string, force bool) string {
	cmd, auto := "xerosync resync", ` (database.on_slot_lost = "resync" lets the daemon do this itself)`
	if force {
		cmd, auto = cmd+" --force", ""
	}
	return fmt.Sprintf("stop every xerosync daemon of this database, then run `%s`: it makes a new slot %s and queues, from a snapshot taken at its start, every change the outbox has not recorded, once%s", cmd, slot, auto)
}

// startOverFix is what to do about a slot xerosync has no position for: resync has nothing to
// compare from, so the slot is dropped (when it is not another program's) and history is
// queued by backfill.
func startOverFix(slot string) string {
	return fmt.Sprintf("if the slot is not another program's: SELECT pg_drop_replication_slot('%s');\n"+
		"        then start xerosync (it creates a new slot) and run `xerosync backfill --tenant ID` for each connected tenant", slot)
}

// EnsureSlot reconciles the slot with our stored position and returns the position to start
// streaming from (LESSONS 3). It creates the slot only when we have no position yet; any
// disagreement between slot and position is a SetupError, never a silent repair.
func EnsureSlot(ctx context.Context, db DBTX, slot string) (pglogrepl.LSN, error) {
	stored, exists, known, err := readCheckpoint(ctx, db, slot)
	if err != nil {
		return 0, err
	}
	info, err := readSlot(ctx, db, slot)
	if err != nil {
		return 0, err
	}
	if info != nil {
		if info.plugin != "pgoutput" || info.database != info.ourDatabase {
			return 0, &SetupError{
				Problem: fmt.Sprintf("replication slot %s belongs to plugin %q in database %q, not pgoutput in %q", slot, info.plugin, info.database, info.ourDatabase),
				Fix:     "set database.slot to an unused name",
			}
		}
	}
	switch {
	case info == nil && (!exists || !known):
		// First start (or a crash while creating): mark, create, store where it begins.
		if _, err := db.Exec(ctx, checkpointInitSQL, slot); err != nil {
			return 0, fmt.Errorf("init checkpoint: %w", err)
		}
		var create, s string
		if err := db.QueryRow(ctx, slotCreateSQL).Scan(&create); err != nil {
			return 0, fmt.Errorf("create replication slot %s: %w", slot, err)
		}
		if err := db.QueryRow(ctx, create, slot).Scan(&s); err != nil {
			return 0, fmt.Errorf("create replication slot %s: %w", slot, err)
		}
		lsn, err := pglogrepl.ParseLSN(s)
		if err != nil {
			return 0, err
		}
		return lsn, writeCheckpoint(ctx, db, slot, lsn, nil, nil)
	case info == nil:
		return 0, &SetupError{
			Problem: fmt.Sprintf("replication slot %s does not exist, but xerosync has captured up to %s: changes after that may be lost (was the slot dropped, or did the database fail over?)", slot, stored),
			Fix:     recoverFix(slot, false),
		}
	case !exists:
		return 0, &SetupError{
			Problem: fmt.Sprintf("replication slot %s exists but xerosync has no stored position for it: it was not created by this database's xerosync, or xerosync.checkpoint was cleared", slot),
			Fix:     startOverFix(slot),
		}
	case info.walStatus == "lost":
		return 0, &SetupError{
			Problem: fmt.Sprintf("replication slot %s is lost: PostgreSQL removed WAL it still needed (max_slot_wal_keep_size?)", slot),
			Fix:     recoverFix(slot, false),
		}
	case !known:
		// We marked the slot as ours and crashed before storing its start: nothing was
		// consumed from it yet, so its confirmed position is where we begin.
		return info.confirmed, writeCheckpoint(ctx, db, slot, info.confirmed, nil, nil)
	case info.confirmed > stored:
		return 0, &SetupError{
			Problem: fmt.Sprintf("replication slot %s is ahead of xerosync's position: confirmed %s, captured %s; the changes between were never captured", slot, info.confirmed, stored),
			Fix:     recoverFix(slot, true),
		}
	}
	if info.activePID != 0 {
		return 0, fmt.Errorf("slot %s (pid %d): %w", slot, info.activePID, ErrSlotBusy)
	}
	return stored, nil
}

// writeCheckpoint stores the capture position of slot; commitTime (the last captured source
// commit's) and heartbeatAt (when a heartbeat last came back) are kept when nil.
func writeCheckpoint(ctx context.Context, db DBTX, slot string, lsn pglogrepl.LSN, commitTime, heartbeatAt *time.Time) error {
	if _, err := db.Exec(ctx, checkpointWriteSQL, slot, lsn.String(), commitTime, heartbeatAt); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// ensureFailover makes the slot a failover slot on PostgreSQL 17 and later when it is not one
// yet (made by an older xerosync, or before an upgrade): only a failover slot is kept on a
// standby with sync_replication_slots, and so survives a promotion. ALTER_REPLICATION_SLOT is
// a replication command, sent on conn before streaming starts (the slot must be inactive).
func ensureFailover(ctx context.Context, db DBTX, conn *pgconn.PgConn, slot string) error {
	var need bool
	if err := db.QueryRow(ctx, slotFailoverSQL, slot).Scan(&need); err != nil {
		return fmt.Errorf("read slot %s failover: %w", slot, err)
	}
	if !need {
		return nil
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER_REPLICATION_SLOT %s ( FAILOVER true )", pgx.Identifier{slot}.Sanitize())).ReadAll(); err != nil {
		return fmt.Errorf("make slot %s a failover slot: %w", slot, err)
	}
	return nil
}
