package leader

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

//go:embed sql/try_lock.sql
var tryLockSQL string

// ErrLost means the connection holding the lock stopped answering: PostgreSQL frees the lock
// when it notices the session is gone, so another process may lead already.
var ErrLost = errors.New("leadership lock connection lost")

// State is where an Elector is in the state model of the package comment.
type State int

// The states, in the package comment's order.
const (
	Starting State = iota
	Standby
	Leading
	Lost
	Stopped
)

func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Standby:
		return "standby"
	case Leading:
		return "leading"
	case Lost:
		return "lost"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Snapshot is an Elector's state at one moment.
type Snapshot struct {
	State State
	// Since is when State was entered: for Leading, when the lock was taken. A Lost
	// elector's failed reconnect does not move it.
	Since time.Time
	// Err is why the elector is Lost, or why it Stopped (nil after a clean stop).
	Err error
	// Stepped is when Run's loop last did something (connected, polled the lock, pinged the
	// connection): a watchdog can tell a stuck loop from a waiting one. Every wait in the loop
	// is bounded by Poll, QueryTimeout or ConnectTimeout.
	Stepped time.Time
}

// Config configures an Elector. ConnConfig, Key and Lead are required.
type Config struct {
	// ConnConfig is the session that holds the lock. It must be a direct connection, never
	// one through a transaction pooler, which would hand the lock to whoever shares the
	// backend.
	ConnConfig *pgx.ConnConfig
	// Target names the database in errors (a URL without its password).
	Target string
	// Key names the lock: electors with the same key contend for it, others do not.
	Key string
	// Lead is the work done while leading. Its context is cancelled when the lock's
	// connection is lost or Run's context ends; it should then return promptly, because the
	// elector leaves Leading only after it has. It should block until its context ends: an
	// error ends the session (Lost, then a new try after Poll), and a nil return before then
	// leaves the elector holding the lock with nothing to do until the connection or Run ends.
	Lead func(ctx context.Context) error
	// Fatal reports whether an error (from Lead, or from the connection) needs an
	// administrator: Run then stops and returns it instead of retrying, since any other
	// process taking over would hit it too. Nil retries every error.
	Fatal func(error) bool
	// OnChange is called from Run's goroutine with the new snapshot at each change of state,
	// and at each new error while Lost: for logs and status messages. It must not block.
	OnChange func(Snapshot)
	// Poll is how often a standby tries the lock, a leader pings its connection, and a lost
	// elector reconnects. Default 1s.
	Poll time.Duration
	// QueryTimeout bounds one lock poll or ping; a connection that cannot answer in this time
	// is treated as lost. Default 3s.
	QueryTimeout time.Duration
	// ConnectTimeout bounds making the connection. Default 5s.
	ConnectTimeout time.Duration
}

// Elector is one process's part in an election. Create it with New, run it with Run.
type Elector struct {
	cfg Config

	mu   sync.Mutex
	snap Snapshot
}

// New checks cfg and fills its defaults. It does no I/O.
func New(cfg Config) (*Elector, error) {
	switch {
	case cfg.ConnConfig == nil:
		return nil, errors.New("leader: ConnConfig is required")
	case cfg.Key == "":
		return nil, errors.New("leader: Key is required")
	case cfg.Lead == nil:
		return nil, errors.New("leader: Lead is required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 3 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	return &Elector{cfg: cfg}, nil
}

// Snapshot returns the elector's current state. It is safe to call from any goroutine.
func (e *Elector) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snap
}

// Run takes part in the election until ctx ends, running Lead whenever this elector holds the
// lock. It returns nil when ctx ends, or the error Config.Fatal picked out.
func (e *Elector) Run(ctx context.Context) error {
	for {
		err := e.session(ctx)
		if ctx.Err() != nil {
			e.set(Stopped, nil)
			return nil
		}
		if err == nil { // only ctx ends a session cleanly; say so if that ever changes
			err = errors.New("leadership session ended")
		}
		if e.cfg.Fatal != nil && e.cfg.Fatal(err) {
			e.set(Stopped, err)
			return err
		}
		e.set(Lost, err)
		t := time.NewTimer(e.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			e.set(Stopped, nil)
			return nil
		case <-t.C:
		}
	}
}

// session is the life of one connection: polling for the lock as standby, then holding it
// while leading. Closing the connection releases the lock.
func (e *Elector) session(ctx context.Context) error {
	e.stepped()
	cctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, e.cfg.ConnConfig)
	cancel()
	if err != nil {
		return fmt.Errorf("leadership connection to %s: %w", e.cfg.Target, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		e.stepped()
		got, err := e.tryLock(ctx, conn)
		if err != nil {
			return err
		}
		if got {
			return e.lead(ctx, conn)
		}
		e.set(Standby, nil)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (e *Elector) tryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	qctx, cancel := context.WithTimeout(ctx, e.cfg.QueryTimeout)
	defer cancel()
	return TryLock(qctx, conn, e.cfg.Key)
}

// lead runs Lead while the lock's connection lives. Lead and the watcher share an errgroup:
// when the connection drops, the watcher's error cancels Lead, so the work stops as soon as
// this process may no longer be the leader; when Lead fails, the watcher stops and the
// session ends.
func (e *Elector) lead(ctx context.Context, conn *pgx.Conn) error {
	e.set(Leading, nil)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.cfg.Lead(gctx) })
	g.Go(func() error { return e.watch(gctx, conn) })
	return g.Wait()
}

// watch pings the connection every Poll until ctx ends; a failed ping is ErrLost.
func (e *Elector) watch(ctx context.Context, conn *pgx.Conn) error {
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		e.stepped()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, e.cfg.QueryTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: %w", ErrLost, err)
		}
	}
}

// set moves the elector to state s, and tells OnChange about a new state or a new error.
func (e *Elector) set(s State, err error) {
	e.mu.Lock()
	changed := e.snap.State != s || err != nil
	if e.snap.State != s {
		e.snap.Since = time.Now()
	}
	e.snap.State, e.snap.Err = s, err
	snap := e.snap
	e.mu.Unlock()
	if changed && e.cfg.OnChange != nil {
		e.cfg.OnChange(snap)
	}
}

func (e *Elector) stepped() {
	e.mu.Lock()
	e.snap.Stepped = time.Now()
	e.mu.Unlock()
}

// TryLock takes the leadership lock of key on conn when it is free, without waiting, and
// reports whether it did. The lock is then held until conn's session ends. A command that
// must not run beside a leading daemon (resync, which replaces the slot the leader streams)
// holds it, so that a daemon started meanwhile waits as a standby instead of leading.
func TryLock(ctx context.Context, conn *pgx.Conn, key string) (bool, error) {
	var got bool
	if err := conn.QueryRow(ctx, tryLockSQL, key).Scan(&got); err != nil {
		return false, fmt.Errorf("try the leadership lock: %w", err)
	}
	return got, nil
}
