package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lmittmann/tint"
	"golang.org/x/sync/errgroup"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
)

// errLockLost means the connection holding the leadership lock stopped answering: PostgreSQL
// frees the lock when it notices the session is gone, so another daemon may lead already.
var errLockLost = errors.New("leadership lock connection lost")

// lead runs leadership sessions until ctx ends. Only a cdc.SetupError or a configuration
// error (a token key that opens nothing) ends it early: that needs an administrator, and
// another daemon taking over would hit it too.
func (r *runner) lead(ctx context.Context) error {
	for {
		err := r.lockSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var setup *cdc.SetupError
		var cfgErrs *config.Errors
		if errors.As(err, &setup) || errors.As(err, &cfgErrs) { // a token key that opens nothing
			return err
		}
		if err == nil { // only ctx ends a session cleanly; say so if that ever changes
			err = errors.New("leadership session ended")
		}
		msg := err.Error()
		r.lockErr.Store(&msg)
		r.log.Warn("leadership connection lost, retrying", tint.Err(err), "in", lockPoll)
		r.status("standby: leadership connection lost: " + oneLine(msg))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(lockPoll):
		}
	}
}

// lockSession is the life of one leadership connection: a direct session (never through a
// transaction pooler, which would hand the lock to whoever shares the backend), polling for
// the lock as standby, then holding it while leading. Closing the connection releases it.
func (r *runner) lockSession(ctx context.Context) error {
	r.stepped()
	pcfg, err := connConfig(r.cfg, "xerosync leader")
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, pcfg)
	cancel()
	if err != nil {
		return fmt.Errorf("leadership connection to %s: %w", r.cfg.Database.RedactedURL(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r.lockErr.Store(nil)

	t := time.NewTicker(lockPoll)
	defer t.Stop()
	announced := false
	for {
		r.stepped()
		got, err := r.tryLock(ctx, conn)
		if err != nil {
			return err
		}
		if got {
			return r.holdLead(ctx, conn)
		}
		if !announced {
			r.log.Info("standby: another xerosync leads this slot; waiting to take over", "slot", r.cfg.Database.Slot)
			r.status("standby: another xerosync leads slot " + r.cfg.Database.Slot)
			announced = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *runner) tryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	qctx, cancel := context.WithTimeout(ctx, lockQueryTimeout)
	defer cancel()
	var got bool
	if err := conn.QueryRow(qctx, leaderTryLockSQL, r.cfg.Database.Slot).Scan(&got); err != nil {
		return false, fmt.Errorf("poll leadership lock: %w", err)
	}
	return got, nil
}

// holdLead does the leader's work while the lock connection lives. Capture and the lock
// watcher share an errgroup: whichever ends first cancels the other, so capture never
// outlives the lock by more than a poll and a query timeout.
func (r *runner) holdLead(ctx context.Context, conn *pgx.Conn) error {
	capture, err := cdc.New(cdc.Config{
		DB:                r.pool,
		ConnString:        r.cfg.Database.URL.Reveal(),
		Slot:              r.cfg.Database.Slot,
		Publication:       r.cfg.Database.Publication,
		Sink:              outbox.NewEnqueuer(outbox.EnqueuerConfig{Logger: r.log}),
		Columns:           outbox.SourceColumns(),
		Logger:            r.log,
		HeartbeatInterval: heartbeatInterval,
	})
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	r.leaderSince.Store(time.Now().UnixNano())
	r.capture.Store(capture) // set while this daemon leads
	defer r.capture.Store(nil)
	dispatcher, tokens, err := r.newDispatcher()
	if err != nil {
		return err
	}
	if tokens != nil {
		if err := r.verifyTokenKey(ctx, tokens); err != nil {
			return err
		}
	}
	r.log.Info("leader: took the leadership lock; capturing", "slot", r.cfg.Database.Slot, "delivering", dispatcher != nil)
	r.status("leader: capturing from slot " + r.cfg.Database.Slot)

	// Capture, delivery and the lock watcher share an errgroup: when the lock connection
	// drops, the watcher's error cancels the others, so this process stops sending to Xero
	// as soon as it may no longer be the leader (LESSONS 9).
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return capture.Run(gctx) })
	if dispatcher != nil {
		g.Go(func() error { return dispatcher.Run(gctx) })
		g.Go(func() error {
			periodically(gctx, 0, refreshIdleInterval, func(ctx context.Context) { r.refreshIdle(ctx, tokens) })
			return nil
		})
	}
	if r.cfg.Outbox.Retention > 0 {
		// Not in the rush of a start or a takeover: a minute in, then hourly.
		g.Go(func() error { periodically(gctx, time.Minute, pruneInterval, r.prune); return nil })
	}
	g.Go(func() error { return r.watchLock(gctx, conn) })
	return g.Wait()
}

// refreshIdleInterval is how often the tokens of idle connections are looked at.
const refreshIdleInterval = 6 * time.Hour

// pruneInterval is how often the leader deletes finished outbox rows past outbox.retention.
const pruneInterval = time.Hour

// prune applies outbox.retention while this daemon leads. The outbox's owner decides what
// may go (outbox.Prune).
func (r *runner) prune(ctx context.Context) {
	n, err := outbox.Prune(ctx, r.pool, r.cfg.Outbox.Retention, time.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("outbox retention: prune failed", tint.Err(err))
	case n > 0:
		r.log.Info("outbox retention: finished rows deleted", "rows", n, "older_than", r.cfg.Outbox.Retention)
	}
}

// periodically runs f after first, then every interval, until ctx ends.
func periodically(ctx context.Context, first, interval time.Duration, f func(context.Context)) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f(ctx)
		t.Reset(interval)
	}
}

// newDispatcher builds the outbox dispatcher, or returns nil when no Xero app is configured
// (xero.client_id, the secret and the token key): the daemon then captures only, and says so.
func (r *runner) newDispatcher() (*outbox.Dispatcher, *tenant.TokenStore, error) {
	key, err := xeroApp(r.cfg)
	if err != nil {
		r.log.Warn("no xero app configured: capturing into the outbox, delivering nothing", "missing", strings.ReplaceAll(err.Error(), "\n", "; "))
		return nil, nil, nil
	}
	xcfg := xeroConfig(r.cfg, r.log)
	xcfg.OnCall = func(c xero.CallInfo) {
		r.xeroCalls.WithLabelValues(c.Op, strconv.Itoa(c.Status)).Inc()
	}
	client, err := xero.New(xcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("xero client: %w", err)
	}
	r.xeroClient.Store(client)
	store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: r.pool, Key: key, KeyName: tokenKeyName(r.cfg), Refresher: client, Logger: r.log})
	if err != nil {
		return nil, nil, fmt.Errorf("token store: %w", err)
	}
	d, err := outbox.NewDispatcher(outbox.DispatcherConfig{DB: r.pool, Xero: client, Tokens: store, Logger: r.log,
		OnOutcome: func(entity, state, code string) { r.deliveries.WithLabelValues(entity, state, code).Inc() },
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dispatcher: %w", err)
	}
	return d, store, nil
}

// refreshIdle refreshes, every few hours, the tokens of connections that have not been used
// for weeks: Xero lets an unused refresh token die after 60 days, which would disconnect a
// quiet tenant (XERO.md §1).
func (r *runner) refreshIdle(ctx context.Context, tokens *tenant.TokenStore) {
	if n, err := tokens.RefreshIdle(ctx, 45*24*time.Hour); err != nil && ctx.Err() == nil {
		r.log.Warn("refresh of idle connections failed", tint.Err(err))
	} else if n > 0 {
		r.log.Info("refreshed idle connections", "count", n)
	}
}

// watchLock pings the lock connection every lockPoll until ctx ends; a failed ping is
// errLockLost.
func (r *runner) watchLock(ctx context.Context, conn *pgx.Conn) error {
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		r.stepped()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, lockQueryTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: %w", errLockLost, err)
		}
	}
}
