package cdc

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A lost slot (dropped, invalidated by max_slot_wal_keep_size, gone in a failover on
// PostgreSQL 16 or older, or after a pg_upgrade) cannot be streamed from again: the WAL
// between xerosync's position and now is gone for us. Recreate replaces it with a new slot
// whose exported snapshot is exactly the database as of the slot's start, and hands that
// snapshot to the caller (outbox.Resync) to queue, by comparing tables with the outbox,
// what the lost WAL would have queued. The new start position is committed in the same
// transaction as those rows, so streaming goes on exactly where the snapshot ends: a change
// committed before the start is in the snapshot, one after it comes through the slot.

var (
	//go:embed sql/slot_state.sql
	slotStateSQL string
	//go:embed sql/slot_drop.sql
	slotDropSQL string
	//go:embed sql/checkpoint_reset.sql
	checkpointResetSQL string
	//go:embed sql/checkpoint_resync.sql
	checkpointResyncSQL string
	//go:embed sql/server_version.sql
	serverVersionSQL string
)

// ErrSlotHealthy means resync found the slot in working order: capture can stream from it,
// so there is nothing to recover (RecreateParams.Force recreates it anyway).
var ErrSlotHealthy = errors.New("replication slot exists and is healthy")

// ErrNeverCaptured means xerosync has no stored position for the slot: it never captured on
// this database, so there is nothing to recover (`xerosync run` creates the slot).
var ErrNeverCaptured = errors.New("xerosync has never captured with this slot")

// SlotCondition is what resync found of the slot.
type SlotCondition int

// The conditions, as slotState.condition decides them.
const (
	SlotMissing     SlotCondition = iota // no slot of that name
	SlotHealthy                          // ours and streamable
	SlotInvalidated                      // ours, but PostgreSQL invalidated it
	SlotActive                           // a process is consuming it (a running daemon)
	SlotForeign                          // not a pgoutput slot of this database
)

func (c SlotCondition) String() string {
	switch c {
	case SlotMissing:
		return "missing"
	case SlotHealthy:
		return "healthy"
	case SlotInvalidated:
		return "invalidated"
	case SlotActive:
		return "active"
	case SlotForeign:
		return "foreign"
	}
	return fmt.Sprintf("SlotCondition(%d)", int(c))
}

// slotState is a row of pg_replication_slots as resync reads it (sql/slot_state.sql).
type slotState struct {
	slotType, plugin, database, ourDatabase string
	walStatus                               string
	activePID                               int32
	conflicting                             bool
	invalidationReason                      string
}

// condition judges a slot; nil is a missing one. Reason says why an invalidated slot is.
// A slot in use is reported before anything else: whatever its state, resync must not
// touch a slot a process holds.
func (s *slotState) condition() (c SlotCondition, reason string) {
	switch {
	case s == nil:
		return SlotMissing, ""
	case s.activePID != 0:
		return SlotActive, fmt.Sprintf("in use by process %d", s.activePID)
	case s.slotType != "logical" || s.plugin != "pgoutput" || s.database != s.ourDatabase:
		return SlotForeign, fmt.Sprintf("a %s slot of plugin %q in database %q, not pgoutput in %q", s.slotType, s.plugin, s.database, s.ourDatabase)
	case s.invalidationReason != "":
		return SlotInvalidated, "invalidation_reason " + s.invalidationReason
	case s.walStatus == "lost":
		return SlotInvalidated, "wal_status lost: PostgreSQL removed WAL it still needed, max_slot_wal_keep_size"
	case s.conflicting:
		return SlotInvalidated, "conflicting: rows it needed were removed, a recovery conflict"
	}
	return SlotHealthy, ""
}

// Snapshot is what the caller of Recreate queues in: a transaction that sees the database
// exactly as of the new slot's start.
type Snapshot struct {
	// Start is the new slot's consistent point: every transaction committed before it is
	// visible in the snapshot, every later one will be streamed.
	Start pglogrepl.LSN
	// Stored is xerosync's position on the lost slot (0: none was stored) and StoredCommit
	// the commit time of the last source transaction captured there (nil: unknown).
	Stored       pglogrepl.LSN
	StoredCommit *time.Time
}

// RecreateParams are one Recreate's arguments.
type RecreateParams struct {
	// DB is a pool (or connection) of the database; ConnString its URL, for the replication
	// connection.
	DB interface {
		DBTX
		BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	}
	ConnString string
	Slot       string
	// Force recreates a healthy slot too: the stored position is then discarded, and
	// whatever the old slot still held is read from the snapshot instead.
	Force bool
	// Queue runs inside the snapshot's transaction, before the new start position is
	// written there; an error rolls everything back and drops the new slot.
	Queue func(ctx context.Context, tx pgx.Tx, s Snapshot) error
}

// RecreateResult says what Recreate found and did.
type RecreateResult struct {
	Found  SlotCondition
	Reason string        // why the old slot was unusable, when it was invalidated
	Stored pglogrepl.LSN // the position on the old slot (0: none)
	Start  pglogrepl.LSN // the new slot's start, stored as xerosync's position
}

// activeWait is how long Recreate waits for a slot in use to be let go before refusing.
const activeWait = 5 * time.Second

// snapshotNameRE is the form of an exported snapshot's name (e.g. 00000003-00000002-1); the
// name is spliced into SET TRANSACTION SNAPSHOT, which takes no parameters.
var snapshotNameRE = regexp.MustCompile(`^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$`)

// Recreate replaces a missing or invalidated slot (a healthy one too with Force) with a new
// one created with an exported snapshot, runs Queue in a REPEATABLE READ transaction on that
// snapshot, and stores the new slot's start in the same transaction. It refuses a slot in
// use (ErrSlotBusy), a healthy slot without Force (ErrSlotHealthy), a slot that is not ours
// (SetupError) and a database where xerosync never captured (ErrNeverCaptured).
func Recreate(ctx context.Context, p RecreateParams) (RecreateResult, error) {
	var res RecreateResult
	var stored *string
	var commitTime *time.Time
	err := p.DB.QueryRow(ctx, checkpointResyncSQL, p.Slot).Scan(&stored, &commitTime)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return res, fmt.Errorf("slot %s: %w", p.Slot, ErrNeverCaptured)
	case err != nil:
		return res, fmt.Errorf("read checkpoint: %w", err)
	}
	if stored != nil {
		if res.Stored, err = pglogrepl.ParseLSN(*stored); err != nil {
			return res, fmt.Errorf("checkpoint of slot %s: %w", p.Slot, err)
		}
	}

	// A daemon stopped a moment ago may leave its walsender holding the slot for a little
	// longer (the server notices the closed connection): that is given a few seconds.
	deadline := time.Now().Add(activeWait)
	for {
		state, err := readSlotState(ctx, p.DB, p.Slot)
		if err != nil {
			return res, err
		}
		res.Found, res.Reason = state.condition()
		if res.Found != SlotActive || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	switch res.Found {
	case SlotActive:
		return res, fmt.Errorf("slot %s (%s): %w", p.Slot, res.Reason, ErrSlotBusy)
	case SlotForeign:
		return res, &SetupError{
			Problem: fmt.Sprintf("replication slot %s is %s: it is not xerosync's", p.Slot, res.Reason),
			Fix:     "set database.slot to xerosync's slot name",
		}
	case SlotHealthy:
		if !p.Force {
			return res, fmt.Errorf("slot %s: %w", p.Slot, ErrSlotHealthy)
		}
	}
	if res.Found != SlotMissing {
		if _, err := p.DB.Exec(ctx, slotDropSQL, p.Slot); err != nil {
			return res, fmt.Errorf("drop replication slot %s: %w", p.Slot, err)
		}
	}

	var version int
	if err := p.DB.QueryRow(ctx, serverVersionSQL).Scan(&version); err != nil {
		return res, fmt.Errorf("read server version: %w", err)
	}
	pcfg, err := pgconn.ParseConfig(p.ConnString)
	if err != nil {
		return res, &SetupError{Problem: fmt.Sprintf("database.url: %v", err)}
	}
	pcfg.RuntimeParams["replication"] = "database"
	pcfg.RuntimeParams["application_name"] = "xerosync resync"
	conn, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return res, fmt.Errorf("replication connection: %w", err)
	}
	// The exported snapshot lives only while this connection is open and runs no other
	// command: it is closed after the commit (deferred calls run last first).
	defer conn.Close(context.WithoutCancel(ctx))

	// PostgreSQL 15's option list; 17 and later also make it a failover slot, as
	// sql/slot_create.sql does for capture's own.
	opts := "SNAPSHOT 'export'"
	if version >= 170000 {
		opts += ", FAILOVER true"
	}
	created, err := pglogrepl.ParseCreateReplicationSlot(conn.Exec(ctx,
		fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (%s)", pgx.Identifier{p.Slot}.Sanitize(), opts)))
	if err != nil {
		return res, fmt.Errorf("create replication slot %s: %w", p.Slot, err)
	}
	if res.Start, err = pglogrepl.ParseLSN(created.ConsistentPoint); err != nil {
		return res, fmt.Errorf("slot %s consistent point: %w", p.Slot, err)
	}
	if !snapshotNameRE.MatchString(created.SnapshotName) {
		return res, fmt.Errorf("slot %s: unexpected snapshot name %q", p.Slot, created.SnapshotName)
	}

	err = queueInSnapshot(ctx, p, created.SnapshotName, Snapshot{Start: res.Start, Stored: res.Stored, StoredCommit: commitTime})
	if err != nil {
		// Without its position stored, the new slot would look healthy to the next resync
		// and be refused by capture: drop it, so that running resync again starts over.
		conn.Close(context.WithoutCancel(ctx))
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, derr := p.DB.Exec(dctx, slotDropSQL, p.Slot); derr != nil {
			err = fmt.Errorf("%w (and the new slot could not be dropped: %v; drop it with SELECT pg_drop_replication_slot('%s'))", err, derr, p.Slot)
		}
		res.Start = 0
		return res, err
	}
	return res, nil
}

// queueInSnapshot is the snapshot's transaction: Queue, then the new start, then commit.
func queueInSnapshot(ctx context.Context, p RecreateParams, name string, s Snapshot) error {
	tx, err := p.DB.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return fmt.Errorf("begin the snapshot's transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	// It must be the transaction's first statement; the name was checked by snapshotNameRE.
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+name+"'"); err != nil {
		return fmt.Errorf("import snapshot %s: %w", name, err)
	}
	if err := p.Queue(ctx, tx, s); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, checkpointResetSQL, p.Slot, s.Start.String()); err != nil {
		return fmt.Errorf("store the new slot's start: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit resync: %w", err)
	}
	return nil
}

func readSlotState(ctx context.Context, db DBTX, slot string) (*slotState, error) {
	var s slotState
	err := db.QueryRow(ctx, slotStateSQL, slot).Scan(&s.slotType, &s.plugin, &s.database, &s.ourDatabase,
		&s.walStatus, &s.activePID, &s.conflicting, &s.invalidationReason)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read slot %s: %w", slot, err)
	}
	return &s, nil
}
