package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/sync/errgroup"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/leader"
	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
)

// needsAdmin reports whether a leadership session's error needs an administrator: a
// cdc.SetupError or a configuration error (a token key that opens nothing). The daemon then
// stops, since another daemon taking over would hit it too; every other error is retried.
func needsAdmin(err error) bool {
	var setup *cdc.SetupError
	var cfgErrs *config.Errors
	return errors.As(err, &setup) || errors.As(err, &cfgErrs)
}

// leadershipChanged logs the elector's moves and tells systemd; the leader's own status is
// set by lead, once capture is built.
func (r *runner) leadershipChanged(s leader.Snapshot) {
	switch s.State {
	case leader.Standby:
		r.log.Info("standby: another xerosync leads this slot; waiting to take over", "slot", r.cfg.Database.Slot)
		r.status("standby: another xerosync leads slot " + r.cfg.Database.Slot)
	case leader.Lost:
		msg := s.Err.Error()
		r.log.Warn("leadership connection lost, retrying", tint.Err(s.Err), "in", lockPoll)
		r.status("standby: leadership connection lost: " + oneLine(msg))
	}
}

// lead is the leader's work, run by the elector while this daemon holds the leadership lock:
// ctx is cancelled when the lock's connection is lost, so capture never outlives the lock by
// more than a poll and a query timeout (leader.Config.Lead).
func (r *runner) lead(ctx context.Context) error {
	if r.cfg.Database.OnSlotLost == config.OnSlotLostResync {
		// Before capture and delivery start: resync's snapshot transaction writes the
		// entities the dispatcher updates.
		if err := r.resyncIfLost(ctx); err != nil {
			return err
		}
	}
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

	// Capture and delivery share an errgroup under the elector's ctx: when the lock
	// connection drops, the elector cancels ctx, so this process stops sending to Xero as
	// soon as it may no longer be the leader (LESSONS 9).
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
	xcfg := xeroConfig(r.cfg, r.log, r.clock)
	xcfg.OnCall = func(c xero.CallInfo) {
		r.xeroCalls.WithLabelValues(c.Op, strconv.Itoa(c.Status)).Inc()
	}
	client, err := xero.New(xcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("xero client: %w", err)
	}
	r.xeroClient.Store(client)
	store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: r.pool, Key: key, KeyName: tokenKeyName(r.cfg), Refresher: client, Logger: r.log, Now: r.clock.Now})
	if err != nil {
		return nil, nil, fmt.Errorf("token store: %w", err)
	}
	d, err := outbox.NewDispatcher(outbox.DispatcherConfig{DB: r.pool, Xero: client, Tokens: store, Logger: r.log,
		LiveShare: r.cfg.Xero.LiveShare, Now: r.clock.Now, TimeScale: r.clock.Scale,
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
