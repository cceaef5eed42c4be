package cdc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lmittmann/tint"
	"github.com/sethvargo/go-retry"
)

// HeartbeatPrefix is the logical message prefix of our heartbeats.
const HeartbeatPrefix = "xerosync_heartbeat"

// Config configures a Capture. DB, ConnString and Sink are required.
type Config struct {
	// DB is used for set-up, the checkpoint, the heartbeat and the sink's transactions.
	DB *pgxpool.Pool
	// ConnString is the database URL; the replication connection adds replication=database.
	ConnString  string
	Slot        string // default "xerosync"
	Publication string // default "xerosync"
	Sink        Sink
	Logger      *slog.Logger
	// Columns names, per source table ("schema.table"), the columns the Sink reads from its
	// changes. A change of a table whose relation lacks one of them (renamed or dropped)
	// stops capture with a *SchemaError before the Sink sees it: a column the WAL does not
	// carry must never be taken for an unchanged one.
	Columns map[string][]string

	// ChunkSize is how many changes are handed to the Sink at once (default 1000): it bounds
	// memory whatever the size of a source transaction.
	ChunkSize int
	// GroupDelay is how long a database transaction stays open to take in more source
	// transactions that are already arriving (default 10ms); GroupMax caps the changes in one
	// (default 20000). Grouping commits many small source transactions at once.
	GroupDelay time.Duration
	GroupMax   int
	// HeartbeatInterval is how often a heartbeat message is emitted (default 10s).
	HeartbeatInterval time.Duration
	// StatusInterval is how often standby status is sent unasked (default 10s, below the
	// server's wal_sender_timeout).
	StatusInterval time.Duration
	// ReconnectMax caps the reconnect backoff (default 30s).
	ReconnectMax time.Duration
	// OnCommit, if set, is called after each database commit with the stored position.
	OnCommit func(lsn pglogrepl.LSN)
}

// Status is a snapshot of capture's health, for /healthz and metrics.
type Status struct {
	Streaming     bool      // the replication stream is up
	LastHeartbeat time.Time // when a heartbeat last came back through the slot
	Changes       int64     // changes captured since start
	Transactions  int64     // source transactions captured since start
	Err           error     // the last error, nil while streaming
}

// Capture streams the slot into the Sink. Create it with New, run it with Run.
type Capture struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	status Status

	changes, txns atomic.Int64
}

// New checks the configuration; it does no I/O.
func New(cfg Config) (*Capture, error) {
	if cfg.DB == nil || cfg.ConnString == "" || cfg.Sink == nil {
		return nil, errors.New("cdc: Config needs DB, ConnString and Sink")
	}
	cfg.Slot = cmp.Or(cfg.Slot, "xerosync")
	cfg.Publication = cmp.Or(cfg.Publication, "xerosync")
	cfg.ChunkSize = cmp.Or(cfg.ChunkSize, 1000)
	cfg.GroupDelay = cmp.Or(cfg.GroupDelay, 10*time.Millisecond)
	cfg.GroupMax = cmp.Or(cfg.GroupMax, 20000)
	cfg.HeartbeatInterval = cmp.Or(cfg.HeartbeatInterval, 10*time.Second)
	cfg.StatusInterval = cmp.Or(cfg.StatusInterval, 10*time.Second)
	cfg.ReconnectMax = cmp.Or(cfg.ReconnectMax, 30*time.Second)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Capture{cfg: cfg, log: log.With("component", "capture", "slot", cfg.Slot)}, nil
}

// Status returns a snapshot of capture's health.
func (c *Capture) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Changes, s.Transactions = c.changes.Load(), c.txns.Load()
	return s
}

func (c *Capture) setStatus(f func(*Status)) {
	c.mu.Lock()
	f(&c.status)
	c.mu.Unlock()
}

// Run captures until ctx ends (then it returns nil) or a SetupError stops it. Lost
// connections are retried with capped exponential backoff; a session that streamed for a
// while starts a fresh backoff.
func (c *Capture) Run(ctx context.Context) error {
	newBackoff := func() retry.Backoff {
		return retry.WithJitterPercent(20, retry.WithCappedDuration(c.cfg.ReconnectMax, retry.NewExponential(500*time.Millisecond)))
	}
	b := newBackoff()
	for {
		started := time.Now()
		err := c.session(ctx)
		c.setStatus(func(s *Status) { s.Streaming, s.Err = false, err })
		if ctx.Err() != nil {
			return nil
		}
		var setup *SetupError
		if errors.As(err, &setup) {
			return fmt.Errorf("capture: %w", err)
		}
		if time.Since(started) > time.Minute {
			b = newBackoff()
		}
		wait, _ := b.Next()
		var schema *SchemaError
		if errors.As(err, &schema) {
			// The same transaction stops it again after a reconnect, until an
			// administrator acts; the reconnects only keep the error current in Status.
			wait = c.cfg.ReconnectMax
			c.log.Error("capture cannot read a source table: an administrator must restore it", tint.Err(err), "table", schema.Table,
				"column", schema.Column, "xid", schema.Xid, "commit_lsn", schema.CommitLSN.String(), "retry_in", wait)
		} else {
			c.log.Warn("capture stopped, reconnecting", tint.Err(err), "in", wait.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// session is one replication connection's life: set-up, stream, until an error.
func (c *Capture) session(ctx context.Context) error {
	db := c.cfg.DB
	if err := CheckRole(ctx, db); err != nil {
		return err
	}
	if err := EnsurePublication(ctx, db, c.cfg.Publication); err != nil {
		return err
	}
	start, err := EnsureSlot(ctx, db, c.cfg.Slot)
	if err != nil {
		return err
	}
	sources, err := readSourceOIDs(ctx, db)
	if err != nil {
		return err
	}
	dec := NewDecoder()
	dec.Require(c.cfg.Columns)
	dec.KnowSources(sources)

	pcfg, err := pgconn.ParseConfig(c.cfg.ConnString)
	if err != nil {
		return &SetupError{Problem: fmt.Sprintf("database.url: %v", err)}
	}
	pcfg.RuntimeParams["replication"] = "database"
	pcfg.RuntimeParams["application_name"] = "xerosync"
	conn, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("replication connection: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := ensureFailover(ctx, db, conn, c.cfg.Slot); err != nil {
		return err
	}

	err = pglogrepl.StartReplication(ctx, conn, c.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{
			"proto_version '1'",
			fmt.Sprintf("publication_names '%s'", c.cfg.Publication),
			"messages 'true'",
		},
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" { // object_in_use
			return fmt.Errorf("%s: %w", pgErr.Message, ErrSlotBusy)
		}
		return fmt.Errorf("start replication at %s: %w", start, err)
	}
	c.log.Info("capture streaming", "lsn", start.String())
	c.setStatus(func(s *Status) { s.Streaming, s.Err = true, nil })

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.heartbeat(sctx) }()
	defer wg.Wait()
	defer cancel()

	// Two goroutines per session: this one receives and decodes, the writer applies chunks
	// and commits, so PostgreSQL writes the outbox while the next chunk is decoded.
	w := &writer{c: c, work: make(chan work, 1), free: make(chan []Change, 2)}
	w.durable.Store(uint64(start))
	for range cap(w.free) {
		w.free <- make([]Change, 0, c.cfg.ChunkSize)
	}
	s := &stream{c: c, conn: conn, dec: dec, w: w, floor: start, received: start, buf: make([]Change, 0, c.cfg.ChunkSize)}
	wctx, wcancel := context.WithCancelCause(sctx)
	defer wcancel(nil)
	werr := make(chan error, 1)
	go func() {
		err := w.run(wctx)
		wcancel(err)
		werr <- err
	}()
	err = s.run(wctx)
	close(w.work)
	if e := <-werr; e != nil && !errors.Is(e, context.Canceled) {
		err = e // the writer's failure is the cause; the receiver only saw its cancellation
	}
	if ctx.Err() != nil {
		s.confirmOnStop()
	}
	return err
}

// confirmOnStop confirms what is durable before a stopping session closes its connection
// (SPEC §4: SIGTERM confirms the slot before exit), instead of leaving the slot at the last
// periodic status. The walsender reads it before the Terminate that follows. Best effort:
// the connection may be gone already, and nothing is lost without it (a restart resumes from
// the stored position and skips what the server re-sends).
//
// What is stored is read back first: a checkpoint write that the stop cancelled may still
// have committed (an idle keepalive's position, say), and only the database knows. The
// writer has ended, so the stored position cannot move meanwhile.
func (s *stream) confirmOnStop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if lsn, exists, known, err := readCheckpoint(ctx, s.c.cfg.DB, s.c.cfg.Slot); err == nil && exists && known && uint64(lsn) > s.w.durable.Load() {
		s.w.durable.Store(uint64(lsn))
	}
	_ = s.conn.Conn().SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := s.sendStatus(); err != nil {
		s.c.log.Debug("final standby status not sent", tint.Err(err))
		return
	}
	// Wait, briefly, until the walsender has taken it: closing at once can end the walsender
	// on a failed send before it reads the status it was sent (seen in about 1 stop in 40).
	want := pglogrepl.LSN(s.w.durable.Load())
	for i := 0; i < 100 && ctx.Err() == nil; i++ {
		if info, err := readSlot(ctx, s.c.cfg.DB, s.c.cfg.Slot); err != nil || info == nil || info.confirmed >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
		if i%20 == 19 {
			_ = s.sendStatus()
		}
	}
}

// heartbeat emits a logical message every HeartbeatInterval until ctx ends.
func (c *Capture) heartbeat(ctx context.Context) {
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		if _, err := c.cfg.DB.Exec(ctx, heartbeatSQL); err != nil && ctx.Err() == nil {
			c.log.Warn("heartbeat failed", tint.Err(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stream is the receiving side of one replication session. Only the session goroutine
// touches it.
type stream struct {
	c    *Capture
	conn *pgconn.PgConn
	dec  *Decoder
	w    *writer

	received pglogrepl.LSN // furthest position received
	// floor: transactions committing before it are held already (our start position, then
	// the end of each group handed to the writer); the server re-sends from the slot's
	// confirmed position, which may lag ours.
	floor pglogrepl.LSN

	txn  *Txn // the source transaction being received
	skip bool // it is one we hold: dropped whole
	buf  []Change
	// txnStart is where txn's changes begin in buf; txnSplit says some were handed to the
	// writer already (a transaction bigger than a chunk).
	txnStart int
	txnSplit bool

	// The group of source transactions waiting to be committed together.
	groupStart  time.Time // zero when none
	groupEnd    pglogrepl.LSN
	groupTime   time.Time
	groupN      int
	groupTxns   int64
	heartbeatAt *time.Time

	lastStatus   time.Time
	lastIdleSave time.Time
	idleEnd      pglogrepl.LSN // the newest keepalive WAL end received while idle

	deadlineMu sync.Mutex
	deadline   time.Time // the connection's read deadline
	stopped    bool      // the session's context has ended
}

func (s *stream) run(ctx context.Context) error {
	cfg := s.c.cfg
	// The receive loop waits for the next message until a deadline set on the connection,
	// not through a context: pgconn watches a context with a registration and a hand-off on
	// every call, a fifth of capture's allocations at one call per change. Ending ctx
	// moves the deadline to now, which ends a wait under way.
	stop := context.AfterFunc(ctx, func() {
		s.deadlineMu.Lock()
		defer s.deadlineMu.Unlock()
		s.stopped = true
		_ = s.conn.Conn().SetReadDeadline(time.Now())
	})
	defer stop()
	if err := s.sendStatus(); err != nil {
		return err
	}
	for {
		// Commit a finished group when its delay is over or it is full.
		if !s.groupStart.IsZero() && s.txn == nil &&
			(time.Since(s.groupStart) >= cfg.GroupDelay || s.groupN >= cfg.GroupMax) {
			if err := s.commit(ctx); err != nil {
				return err
			}
		}
		if err := s.idleAdvance(ctx); err != nil {
			return err
		}
		if time.Since(s.lastStatus) >= cfg.StatusInterval {
			if err := s.sendStatus(); err != nil {
				return err
			}
		}
		deadline := s.lastStatus.Add(cfg.StatusInterval)
		if g := s.groupStart.Add(cfg.GroupDelay); !s.groupStart.IsZero() && s.txn == nil && g.Before(deadline) {
			deadline = g
		}
		if s.idleEnd > s.floor {
			// A keepalive position waits for its turn (or for the writer to finish).
			retry := s.lastIdleSave.Add(time.Second)
			if soon := time.Now().Add(100 * time.Millisecond); retry.Before(soon) {
				retry = soon
			}
			if retry.Before(deadline) {
				deadline = retry
			}
		}
		if err := s.setReadDeadline(deadline); err != nil {
			return cmp.Or(ctx.Err(), err)
		}
		raw, err := s.conn.ReceiveMessage(context.Background()) // bounded by the read deadline
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if err := s.copyData(ctx, msg.Data); err != nil {
				return err
			}
		}
	}
}

// setReadDeadline sets the connection's read deadline to d, unless ctx has ended; then it
// returns ctx's error.
func (s *stream) setReadDeadline(d time.Time) error {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	if s.stopped {
		return context.Canceled
	}
	if !d.Equal(s.deadline) {
		if err := s.conn.Conn().SetReadDeadline(d); err != nil {
			return fmt.Errorf("set read deadline: %w", err)
		}
		s.deadline = d
	}
	return nil
}

func (s *stream) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("keepalive: %w", err)
		}
		s.received = max(s.received, ka.ServerWALEnd)
		if s.idle() {
			s.idleEnd = max(s.idleEnd, ka.ServerWALEnd)
		}
		if err := s.idleAdvance(ctx); err != nil {
			return err
		}
		if ka.ReplyRequested {
			return s.sendStatus()
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("xlogdata: %w", err)
		}
		s.received = max(s.received, xld.WALStart+pglogrepl.LSN(len(xld.WALData)))
		ev, err := s.dec.Decode(xld.WALData)
		if err != nil {
			return err
		}
		return s.event(ctx, ev)
	}
	return nil
}

// idle reports whether nothing is in progress: no source transaction being received, no
// group waiting, nothing handed to the writer.
func (s *stream) idle() bool {
	return s.txn == nil && s.groupStart.IsZero() && s.w.pending.Load() == 0
}

// idleAdvance stores and confirms idleEnd, the WAL end of a keepalive that came while idle,
// so the slot follows an idle publication (LESSONS 5b); at most once a second, and a
// keepalive that came sooner waits for its turn (the run loop wakes for it) rather than
// being dropped: the server sends no other once we report it received. The position is
// stored before it is confirmed, or a restart would find the slot ahead of us.
func (s *stream) idleAdvance(ctx context.Context) error {
	if s.idleEnd <= s.floor || !s.idle() || time.Since(s.lastIdleSave) < time.Second {
		return nil
	}
	end := s.idleEnd
	// Not cut short by a stop: a write cancelled half-way may still commit on the server,
	// and the stop would then confirm less than is stored.
	wctx, cancel := afterStop(ctx, checkpointTimeout)
	defer cancel()
	if err := writeCheckpoint(wctx, s.c.cfg.DB, s.c.cfg.Slot, end, nil, nil); err != nil {
		return err
	}
	s.lastIdleSave = time.Now()
	s.floor = end
	s.w.durable.Store(uint64(end))
	return s.sendStatus()
}

func (s *stream) event(ctx context.Context, ev Event) error {
	switch ev.Type {
	case Begin:
		s.txn = &Txn{Xid: ev.Xid, CommitLSN: ev.CommitLSN, CommitTime: ev.CommitTime}
		s.skip = ev.CommitLSN < s.floor
		s.txnStart, s.txnSplit = len(s.buf), false
	case Relation:
		if !ev.Source && ev.RenamedFrom == "" {
			s.c.log.Warn("a table in the publication is not a softbooq source table: its changes are ignored",
				"table", ev.Change.Schema+"."+ev.Change.Table, "publication", s.c.cfg.Publication)
		}
	case ChangeEvent:
		if s.txn == nil {
			return errors.New("pgoutput change outside a transaction")
		}
		if s.skip {
			return nil
		}
		if ev.RenamedFrom != "" {
			return s.stopAt(ctx, &SchemaError{Table: ev.RenamedFrom, RenamedTo: ev.Change.Schema + "." + ev.Change.Table, Xid: s.txn.Xid, CommitLSN: s.txn.CommitLSN})
		}
		if len(ev.Missing) > 0 {
			return s.stopAt(ctx, &SchemaError{Table: ev.Change.Schema + "." + ev.Change.Table, Column: ev.Missing[0], Xid: s.txn.Xid, CommitLSN: s.txn.CommitLSN})
		}
		if !ev.Source {
			return nil // a table someone added to the publication: not Softbooq's (warned above)
		}
		ev.Change.Txn = s.txn
		s.buf = append(s.buf, ev.Change)
		s.groupN++
		s.c.changes.Add(1)
		if len(s.buf) >= s.c.cfg.ChunkSize {
			return s.flush(ctx)
		}
	case Message:
		if ev.Prefix == HeartbeatPrefix && s.txn != nil && !s.skip {
			now := time.Now()
			s.heartbeatAt = &now
		}
	case Truncate:
		s.c.log.Warn("truncate captured: nothing is deleted in Xero", "tables", ev.Tables)
	case Commit:
		if s.txn == nil {
			return errors.New("pgoutput commit outside a transaction")
		}
		txn, skip := s.txn, s.skip
		s.txn, s.skip = nil, false
		if skip {
			return nil
		}
		txn.EndLSN = ev.EndLSN
		if s.groupStart.IsZero() {
			s.groupStart = time.Now()
		}
		s.groupEnd, s.groupTime = ev.EndLSN, ev.CommitTime
		s.groupN++ // the commit itself, so that a group of empty transactions ends too
		s.groupTxns++
	}
	return nil
}

// stopAt ends the session at the transaction being received, which cannot be read: the
// transactions before it in the group are committed first (unless part of this one was
// handed over already), so that the stored position is exactly where capture stopped and
// everything readable reaches the outbox.
func (s *stream) stopAt(ctx context.Context, err *SchemaError) error {
	if !s.txnSplit && !s.groupStart.IsZero() {
		clear(s.buf[s.txnStart:])
		s.buf = s.buf[:s.txnStart]
		s.txn = nil
		if cerr := s.commit(ctx); cerr != nil {
			return errors.Join(err, cerr)
		}
	}
	return err
}

// hand gives the writer one piece of work.
func (s *stream) hand(ctx context.Context, wk work) error {
	s.w.pending.Add(1)
	select {
	case s.w.work <- wk:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush hands the buffered changes to the writer and takes an empty buffer.
func (s *stream) flush(ctx context.Context) error {
	if len(s.buf) == 0 {
		return nil
	}
	s.txnStart, s.txnSplit = 0, s.txn != nil
	if err := s.hand(ctx, work{changes: s.buf}); err != nil {
		return err
	}
	select {
	case s.buf = <-s.w.free:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commit hands the group's end to the writer, which commits it with its position.
func (s *stream) commit(ctx context.Context) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	err := s.hand(ctx, work{commit: true, end: s.groupEnd, when: s.groupTime, heartbeat: s.heartbeatAt, txns: s.groupTxns})
	if err != nil {
		return err
	}
	s.floor = s.groupEnd
	s.groupStart, s.groupN, s.groupTxns, s.heartbeatAt = time.Time{}, 0, 0, nil
	return nil
}

// sendStatus reports write = received and flush = apply = durable, all three explicitly
// (LESSONS 1: a zero flush would be replaced by the write position).
func (s *stream) sendStatus() error {
	durable := pglogrepl.LSN(s.w.durable.Load())
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: max(s.received, durable),
		WALFlushPosition: durable,
		WALApplyPosition: durable,
	})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	s.lastStatus = time.Now()
	return nil
}

// work is a chunk of changes to apply, or a group to commit.
type work struct {
	changes   []Change
	commit    bool
	end       pglogrepl.LSN
	when      time.Time
	heartbeat *time.Time
	txns      int64
}

// writer applies chunks inside one database transaction and commits it, with the
// checkpoint, when told. It runs in its own goroutine, owned by the session.
type writer struct {
	c       *Capture
	work    chan work
	free    chan []Change
	pending atomic.Int32  // work handed over and not yet done
	durable atomic.Uint64 // stored position: safe to confirm
	tx      pgx.Tx
}

func (w *writer) run(ctx context.Context) error {
	defer func() {
		// Give back whatever is open: the server re-sends it after reconnect.
		if w.tx != nil {
			_ = w.tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	for wk := range w.work {
		var err error
		if wk.commit {
			err = w.commit(ctx, wk)
		} else {
			err = w.apply(ctx, wk.changes)
		}
		if err != nil {
			return err
		}
		w.pending.Add(-1)
	}
	return nil
}

func (w *writer) apply(ctx context.Context, changes []Change) error {
	if w.tx == nil {
		// READ COMMITTED whatever the server's default: a Sink that waits for a source
		// transaction to become visible before reading the tables needs each statement to
		// take a new snapshot (one taken before would never see it).
		tx, err := w.c.cfg.DB.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return fmt.Errorf("begin capture transaction: %w", err)
		}
		w.tx = tx
	}
	if err := w.c.cfg.Sink.Apply(ctx, w.tx, changes); err != nil {
		return fmt.Errorf("apply changes of transaction %d (commit %s): %w", changes[0].Txn.Xid, changes[0].Txn.CommitLSN, err)
	}
	clear(changes)
	w.free <- changes[:0]
	return nil
}

// checkpointTimeout is how long a write of the stored position may still take once a stop
// was asked for.
const checkpointTimeout = 15 * time.Second

// afterStop is ctx for a write that a stop must not cut short: it is not cancelled with
// ctx, only grace after ctx ends, so a database that stopped answering still lets us stop.
// Until then it has no deadline (a commit held by a slow synchronous standby is waited
// for, as long as it takes).
func afterStop(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	return wctx, func() { stop(); cancel() }
}

func (w *writer) commit(ctx context.Context, wk work) error {
	// Once the group is written, its commit is not cut short by a stop: a COMMIT cancelled
	// half-way may still take effect, leaving the stored position ahead of what the stop
	// confirms.
	ctx, cancel := afterStop(ctx, checkpointTimeout)
	defer cancel()
	var db DBTX = w.c.cfg.DB
	if w.tx != nil {
		db = w.tx
	}
	if err := writeCheckpoint(ctx, db, w.c.cfg.Slot, wk.end, &wk.when, wk.heartbeat); err != nil {
		return err
	}
	if w.tx != nil {
		err := w.tx.Commit(ctx)
		w.tx = nil
		if err != nil {
			return fmt.Errorf("commit capture transaction: %w", err)
		}
	}
	w.durable.Store(uint64(wk.end))
	w.c.txns.Add(wk.txns)
	if wk.heartbeat != nil {
		w.c.setStatus(func(st *Status) { st.LastHeartbeat = *wk.heartbeat })
	}
	if w.c.cfg.OnCommit != nil {
		w.c.cfg.OnCommit(wk.end)
	}
	return nil
}
