package leader_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/internal/leader"
	"github.com/softbooq/xerosync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// elector is one elector under test, running in its own goroutine.
type elector struct {
	name    string
	e       *leader.Elector
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	leads   int   // how many times Lead started
	workErr error // why the last Lead ended: its ctx's error
}

// start runs an elector on key with Lead blocking until its ctx ends. Its application name
// lets a test find its backend.
func start(t *testing.T, db *pgtest.DB, name, key string, poll time.Duration) *elector {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = name
	el := &elector{name: name, done: make(chan error, 1)}
	el.e, err = leader.New(leader.Config{
		ConnConfig: cfg,
		Target:     db.Name,
		Key:        key,
		Poll:       poll,
		Lead: func(ctx context.Context) error {
			el.mu.Lock()
			el.leads++
			el.mu.Unlock()
			<-ctx.Done()
			el.mu.Lock()
			el.workErr = ctx.Err()
			el.mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	el.cancel = cancel
	go func() { el.done <- el.e.Run(ctx) }()
	t.Cleanup(func() { el.stop(t) })
	return el
}

// stop cancels the elector and waits for Run to return, which must be nil.
func (el *elector) stop(t *testing.T) {
	t.Helper()
	el.cancel()
	if err, ok := <-el.done; ok {
		close(el.done)
		if err != nil {
			t.Errorf("%s: Run returned %v, want nil", el.name, err)
		}
		if s := el.e.Snapshot(); s.State != leader.Stopped {
			t.Errorf("%s: state %s after Run returned, want stopped", el.name, s.State)
		}
	}
}

func (el *elector) state() leader.State { return el.e.Snapshot().State }

func (el *elector) work() (leads int, err error) {
	el.mu.Lock()
	defer el.mu.Unlock()
	return el.leads, el.workErr
}

// lockFree reports whether another session could take key's lock now (its connection's end
// releases it again).
func lockFree(t *testing.T, db *pgtest.DB, key string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext('xerosync:' || $1::text))", key).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// Two electors on one key: one leads, the other waits as standby; the leader's ctx ending
// releases the lock, and the standby takes over.
func TestOneLeads(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := start(t, db, "elector a", db.Name, 50*time.Millisecond)
	pgtest.Eventually(t, 30*time.Second, "a to lead", func() bool { return a.state() == leader.Leading })
	b := start(t, db, "elector b", db.Name, 50*time.Millisecond)
	pgtest.Eventually(t, 30*time.Second, "b to be standby", func() bool { return b.state() == leader.Standby })
	if n, _ := b.work(); n != 0 {
		t.Fatalf("the standby's work ran %d times", n)
	}
	// Another key is another election.
	c := start(t, db, "elector c", db.Name+"_other", 50*time.Millisecond)
	pgtest.Eventually(t, 30*time.Second, "c to lead its own key", func() bool { return c.state() == leader.Leading })

	a.stop(t)
	if _, err := a.work(); !errors.Is(err, context.Canceled) {
		t.Fatalf("a's work ended with %v, want its ctx cancelled", err)
	}
	pgtest.Eventually(t, 30*time.Second, "b to take over", func() bool { return b.state() == leader.Leading })
	if s := b.e.Snapshot(); s.Err != nil || s.Since.IsZero() {
		t.Fatalf("b: %+v", s)
	}
}

// A leader whose backend is terminated has its work cancelled, goes back to standby while
// the other elector leads, and reports why in between.
func TestTerminatedLeaderStepsDown(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := start(t, db, "elector a", db.Name, 50*time.Millisecond)
	pgtest.Eventually(t, 30*time.Second, "a to lead", func() bool { return a.state() == leader.Leading })
	b := start(t, db, "elector b", db.Name, 50*time.Millisecond)
	pgtest.Eventually(t, 30*time.Second, "b to be standby", func() bool { return b.state() == leader.Standby })

	db.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'elector a'", db.Name)
	pgtest.Eventually(t, 30*time.Second, "a's work to be cancelled", func() bool {
		_, err := a.work()
		return err != nil
	})
	pgtest.Eventually(t, 30*time.Second, "b to lead", func() bool { return b.state() == leader.Leading })
	pgtest.Eventually(t, 30*time.Second, "a to be standby again", func() bool { return a.state() == leader.Standby })
	if n, _ := a.work(); n != 1 {
		t.Fatalf("a led %d times, want once", n)
	}
}

// Cancelling Run's ctx releases the lock at once: another session can take it.
func TestCancelReleases(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := start(t, db, "elector a", db.Name, 50*time.Millisecond)
	pgtest.Eventually(t, 30*time.Second, "a to lead", func() bool { return a.state() == leader.Leading })
	if lockFree(t, db, db.Name) {
		t.Fatal("the lock is free while a leads")
	}
	a.stop(t)
	// PostgreSQL frees the lock when the backend has read the connection's goodbye, an
	// instant after Run returns.
	pgtest.Eventually(t, 10*time.Second, "the lock to be free after a's Run returned", func() bool { return lockFree(t, db, db.Name) })
}

// recorder keeps what OnChange was told.
type recorder struct {
	mu      sync.Mutex
	changes []leader.Snapshot
}

func (r *recorder) add(s leader.Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, s)
}

// want checks the changes so far: their states, and when each began (after start).
func (r *recorder) want(t *testing.T, start time.Time, states []leader.State, at []time.Duration) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := len(r.changes) == len(states)
	for i := 0; ok && i < len(states); i++ {
		ok = r.changes[i].State == states[i] && r.changes[i].Since.Sub(start) == at[i]
	}
	if !ok {
		for _, c := range r.changes {
			t.Logf("%s at +%s (err %v)", c.State, c.Since.Sub(start), c.Err)
		}
		t.Fatalf("changes above, want states %v at %v", states, at)
	}
}

// lockSQL takes or releases key's lock in a test session.
const (
	lockSQL   = "SELECT pg_advisory_lock(hashtext('xerosync:' || $1::text))"
	unlockSQL = "SELECT pg_advisory_unlock(hashtext('xerosync:' || $1::text))"
)

// The timer-driven parts, on synctest's clock (time moves only while every goroutine waits on
// a timer, never during a query): a standby tries the lock once per Poll, so a lock freed
// between polls is taken at the next one; a leader pings once per Poll, so a terminated
// backend is noticed at the next ping; a lost elector reconnects after Poll.
func TestPollInterval(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "elector"
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		// Connections used in the bubble are made in it (the test's pool is not).
		holder, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close(ctx)
		if _, err := holder.Exec(ctx, lockSQL, db.Name); err != nil {
			t.Fatal(err)
		}

		rec := &recorder{}
		var workErr atomic.Pointer[error]
		e, err := leader.New(leader.Config{
			ConnConfig: cfg, Key: db.Name, OnChange: rec.add, // Poll: the default, 1s
			Lead: func(ctx context.Context) error {
				<-ctx.Done()
				err := context.Cause(ctx)
				workErr.Store(&err)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.Run(runCtx) }()
		synctest.Wait()
		rec.want(t, start, []leader.State{leader.Standby}, []time.Duration{0})

		// Freed between polls: taken at the next poll, at 3s.
		time.Sleep(2500 * time.Millisecond)
		if _, err := holder.Exec(ctx, unlockSQL, db.Name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		rec.want(t, start, []leader.State{leader.Standby, leader.Leading}, []time.Duration{0, 3 * time.Second})

		// Terminated at 3.5s: noticed at the next ping, at 4s. The test then takes the lock
		// (waiting until PostgreSQL has ended that session), so the reconnect at 5s finds
		// it held.
		if _, err := holder.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'elector'", db.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Exec(ctx, lockSQL, db.Name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		rec.want(t, start, []leader.State{leader.Standby, leader.Leading, leader.Lost}, []time.Duration{0, 3 * time.Second, 4 * time.Second})
		if s := e.Snapshot(); !errors.Is(s.Err, leader.ErrLost) {
			t.Fatalf("lost with %v, want ErrLost", s.Err)
		}
		var cause error
		if p := workErr.Load(); p != nil {
			cause = *p
		}
		if !errors.Is(cause, leader.ErrLost) {
			t.Fatalf("the leader's work ended with %v, want it cancelled because its connection was lost", cause)
		}
		time.Sleep(time.Second)
		rec.want(t, start, []leader.State{leader.Standby, leader.Leading, leader.Lost, leader.Standby},
			[]time.Duration{0, 3 * time.Second, 4 * time.Second, 5 * time.Second})

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if s := e.Snapshot(); s.State != leader.Stopped || s.Err != nil {
			t.Fatalf("after Run: %+v", s)
		}
	})
}

// An elector that cannot connect is Lost from the start and tries again every Poll; each new
// error is reported, and Since stays when it went Lost.
func TestConnectFailureRetries(t *testing.T) {
	t.Parallel()
	cfg, err := pgx.ParseConfig("postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		e, err := leader.New(leader.Config{ConnConfig: cfg, Key: "k", OnChange: rec.add, Target: "the test database",
			Lead: func(ctx context.Context) error { t.Error("led without a connection"); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		time.Sleep(2500 * time.Millisecond)
		rec.want(t, start, []leader.State{leader.Lost, leader.Lost, leader.Lost}, []time.Duration{0, 0, 0})
		s := e.Snapshot()
		if s.Err == nil || s.Stepped.Sub(start) != 2*time.Second {
			t.Fatalf("snapshot %+v, want an error and the last try at 2s", s)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// An error from Lead that Fatal picks out stops Run with it (and releases the lock); any other
// error ends the session, and the elector leads again after Poll.
func TestLeadErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	errAdmin := errors.New("needs an administrator")
	errAgain := errors.New("try again")
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		leads := 0
		e, err := leader.New(leader.Config{ConnConfig: cfg, Key: db.Name, OnChange: rec.add,
			Fatal: func(err error) bool { return errors.Is(err, errAdmin) },
			Lead: func(ctx context.Context) error {
				leads++
				if leads == 1 {
					return errAgain
				}
				return errAdmin
			}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := e.Run(context.Background()); !errors.Is(err, errAdmin) {
			t.Fatalf("Run returned %v, want the fatal error", err)
		}
		// PostgreSQL frees the first session's lock when its backend has read the goodbye,
		// which may be after the reconnect at 1s: the elector may wait a poll or more as
		// standby then, each on a whole second.
		rec.mu.Lock()
		c := rec.changes
		rec.mu.Unlock()
		ok := len(c) >= 4 && c[0].State == leader.Leading && c[1].State == leader.Lost && c[1].Since == start &&
			c[len(c)-2].State == leader.Leading && c[len(c)-1].State == leader.Stopped
		for i := 2; ok && i < len(c); i++ {
			ok = (i >= len(c)-2 || c[i].State == leader.Standby) && c[i].Since.Sub(start)%time.Second == 0 && c[i].Since.After(start)
		}
		if !ok {
			for _, c := range c {
				t.Logf("%s at +%s (err %v)", c.State, c.Since.Sub(start), c.Err)
			}
			t.Fatal("want leading, lost at once, (standby,) leading again a whole number of polls later, stopped")
		}
		if s := e.Snapshot(); !errors.Is(s.Err, errAdmin) {
			t.Fatalf("stopped with %v", s.Err)
		}
	})
	pgtest.Eventually(t, 10*time.Second, "the lock to be free after Run returned", func() bool { return lockFree(t, db, db.Name) })
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	cfg, _ := pgx.ParseConfig("postgres://x@127.0.0.1/x")
	lead := func(context.Context) error { return nil }
	for name, c := range map[string]leader.Config{
		"no connection": {Key: "k", Lead: lead},
		"no key":        {ConnConfig: cfg, Lead: lead},
		"no work":       {ConnConfig: cfg, Key: "k"},
	} {
		if _, err := leader.New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
