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
	Streaming      bool          // the replication stream is up
	DurableLSN     pglogrepl.LSN // stored and confirmed position
	ReceivedLSN    pglogrepl.LSN // furthest WAL position received
	LastCommitTime time.Time     // source commit time of the last captured transaction
	LastHeartbeat  time.Time     // when a heartbeat last came back through the slot
	Changes        int64         // changes captured since start
	Transactions   int64         // source transactions captured since start
	Err            error         // the last error, nil while streaming
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
		c.log.Warn("capture stopped, reconnecting", tint.Err(err), "in", wait.Round(time.Millisecond))
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
	c.setStatus(func(s *Status) { s.Streaming, s.Err, s.DurableLSN = true, nil, start })

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.heartbeat(sctx) }()
	defer wg.Wait()
	defer cancel()

	s := &stream{c: c, conn: conn, dec: NewDecoder(), durable: start, received: start}
	err = s.run(sctx)
	// Give back whatever is open: the server re-sends it after reconnect.
	s.rollback(context.WithoutCancel(ctx))
	return err
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

// stream is the state of one replication session. Only its goroutine touches it.
type stream struct {
	c    *Capture
	conn *pgconn.PgConn
	dec  *Decoder

	durable  pglogrepl.LSN // committed in xerosync.checkpoint and safe to confirm
	received pglogrepl.LSN // furthest position received

	// The source transaction being received.
	txn  *Txn
	skip bool // already captured before: replayed by the server, dropped whole

	// The database transaction being filled, and what it holds.
	tx          pgx.Tx
	buf         []Change
	groupStart  time.Time // zero when no source transaction waits for commit
	groupEnd    pglogrepl.LSN
	groupTime   time.Time
	groupN      int
	groupTxns   int64
	heartbeatAt *time.Time

	lastStatus   time.Time
	lastIdleSave time.Time
}

func (s *stream) run(ctx context.Context) error {
	cfg := s.c.cfg
	if err := s.sendStatus(false); err != nil {
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
		if time.Since(s.lastStatus) >= cfg.StatusInterval {
			if err := s.sendStatus(false); err != nil {
				return err
			}
		}
		deadline := s.lastStatus.Add(cfg.StatusInterval)
		if g := s.groupStart.Add(cfg.GroupDelay); !s.groupStart.IsZero() && s.txn == nil && g.Before(deadline) {
			deadline = g
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		raw, err := s.conn.ReceiveMessage(rctx)
		cancel()
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
		if err := s.idleAdvance(ctx, ka.ServerWALEnd); err != nil {
			return err
		}
		if ka.ReplyRequested {
			return s.sendStatus(false)
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

// idleAdvance stores and confirms the server's WAL end when nothing is in progress, so the
// slot follows an idle publication (LESSONS 5b). The position is stored before it is
// confirmed, or a restart would find the slot ahead of us.
func (s *stream) idleAdvance(ctx context.Context, end pglogrepl.LSN) error {
	if s.txn != nil || !s.groupStart.IsZero() || end <= s.durable || time.Since(s.lastIdleSave) < time.Second {
		return nil
	}
	if err := writeCheckpoint(ctx, s.c.cfg.DB, s.c.cfg.Slot, end); err != nil {
		return err
	}
	s.lastIdleSave = time.Now()
	s.durable = end
	s.c.setStatus(func(st *Status) { st.DurableLSN = end })
	return s.sendStatus(false)
}

func (s *stream) event(ctx context.Context, ev Event) error {
	switch ev.Type {
	case Begin:
		s.txn = &Txn{Xid: ev.Xid, CommitLSN: ev.CommitLSN, CommitTime: ev.CommitTime}
		// A transaction that commits before our position is one we hold already: the
		// server re-sends from the slot's confirmed position, which may lag ours.
		s.skip = ev.CommitLSN < s.durable
	case ChangeEvent:
		if s.txn == nil {
			return errors.New("pgoutput change outside a transaction")
		}
		if s.skip {
			return nil
		}
		ev.Change.Txn = s.txn
		s.buf = append(s.buf, ev.Change)
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
		s.groupN += len(s.buf) + 1
		s.groupTxns++
	}
	return nil
}

// flush hands the buffered changes to the sink inside the open database transaction.
func (s *stream) flush(ctx context.Context) error {
	if len(s.buf) == 0 {
		return nil
	}
	if s.tx == nil {
		tx, err := s.c.cfg.DB.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin capture transaction: %w", err)
		}
		s.tx = tx
	}
	if err := s.c.cfg.Sink.Apply(ctx, s.tx, s.buf); err != nil {
		return fmt.Errorf("apply changes of transaction %d (commit %s): %w", s.buf[0].Txn.Xid, s.buf[0].Txn.CommitLSN, err)
	}
	clear(s.buf)
	s.buf = s.buf[:0]
	return nil
}

// commit makes the group durable with its position, then confirms it.
func (s *stream) commit(ctx context.Context) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	var db DBTX = s.c.cfg.DB
	if s.tx != nil {
		db = s.tx
	}
	if _, err := db.Exec(ctx, checkpointWriteSQL, s.c.cfg.Slot, s.groupEnd.String(), s.groupTime, s.heartbeatAt); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if s.tx != nil {
		if err := s.tx.Commit(ctx); err != nil {
			s.tx = nil
			return fmt.Errorf("commit capture transaction: %w", err)
		}
		s.tx = nil
	}
	s.durable = s.groupEnd
	s.c.txns.Add(s.groupTxns)
	hb, when := s.heartbeatAt, s.groupTime
	s.c.setStatus(func(st *Status) {
		st.DurableLSN, st.LastCommitTime = s.durable, when
		if hb != nil {
			st.LastHeartbeat = *hb
		}
	})
	s.groupStart, s.groupN, s.groupTxns, s.heartbeatAt = time.Time{}, 0, 0, nil
	if s.c.cfg.OnCommit != nil {
		s.c.cfg.OnCommit(s.durable)
	}
	if time.Since(s.lastStatus) >= time.Second {
		return s.sendStatus(false)
	}
	return nil
}

func (s *stream) rollback(ctx context.Context) {
	if s.tx != nil {
		_ = s.tx.Rollback(ctx)
		s.tx = nil
	}
}

// sendStatus reports write = received and flush = apply = durable, all three explicitly
// (LESSONS 1: a zero flush would be replaced by the write position).
func (s *stream) sendStatus(reply bool) error {
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: max(s.received, s.durable),
		WALFlushPosition: s.durable,
		WALApplyPosition: s.durable,
		ReplyRequested:   reply,
	})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	s.lastStatus = time.Now()
	s.c.setStatus(func(st *Status) { st.ReceivedLSN = s.received })
	return nil
}
