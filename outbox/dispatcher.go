package outbox

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lmittmann/tint"

	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/dispatch_rescue.sql
	rescueSQL string
	//go:embed sql/dispatch_tenants.sql
	dispatchTenantsSQL string
	//go:embed sql/dispatch_next_due.sql
	nextDueSQL string
)

// Defaults of DispatcherConfig.
const (
	DefaultBatchSize    = xero.MaxBatch
	DefaultPollInterval = 30 * time.Second
	DefaultDrainTimeout = 20 * time.Second
	DefaultLiveShare    = 0.2

	// tenantPoll is how often the set of connected tenants is re-read: a reconnected tenant
	// starts draining within it (SPEC §4 promises 2 s).
	tenantPoll = time.Second
	// flagPoll is how often retry/cancel flags are applied (SPEC §3 promises 2 s).
	flagPoll = time.Second
	// DefaultRecordTimeout bounds one try at writing an attempt's outcome, which must
	// happen even after the dispatcher was told to stop.
	DefaultRecordTimeout = 15 * time.Second
	// recordRetry is how often outcomes that could not be written are tried again.
	recordRetry = time.Second
	// listenRetry is the wait before re-opening a lost LISTEN connection.
	listenRetry = time.Second
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	DB     *pgxpool.Pool
	Xero   *xero.Client
	Tokens Tokens // each tenant's token source; the Xero tenant id is read from xerosync.connections
	Logger *slog.Logger
	// Now is the dispatcher's clock: claims compare next_attempt_at with it and backoffs
	// start from it. Default time.Now.
	Now func() time.Time
	// TimeScale is how many times as fast as the wall Now runs: a simulated day's run
	// (internal/simclock) sets both, and the lanes' timers wait a TimeScale-th of what Now
	// would. 0 or 1: the wall.
	TimeScale float64
	// BatchSize is the most elements per request (default and maximum 50).
	BatchSize int
	// PollInterval is the slow safety poll of an idle lane; wake-ups normally come from
	// LISTEN and the lane's own timer (default 30 s).
	PollInterval time.Duration
	// DrainTimeout is how long requests already started may still take after Run's context
	// ends (default 20 s, inside systemd's stop timeout); their results are recorded.
	DrainTimeout time.Duration
	// RecordTimeout bounds one try at writing outcomes (default 15 s). Outcomes that could
	// not be written (the row locked by an operator's transaction, the database away) are
	// kept and tried again every second until they are, never dropped.
	RecordTimeout time.Duration
	// LiveShare is the share of an organisation's day budget kept for live rows: backfill is
	// claimed only while more than that is left (pace.go). Zero takes DefaultLiveShare; it
	// must be in [0, 1).
	LiveShare float64
	// OnOutcome, if set, is told of each recorded attempt: the entity, the row's new state
	// (done, pending, failed) and the error code, if any (metrics). It must be quick.
	OnOutcome func(entity, state, code string)
}

// Tokens is what the dispatcher needs of the token store (internal/tenant's TokenStore, the
// one writer of xerosync.connections): a tenant's token source, and a way to say that Xero
// refused it. Declared here so that outbox does not depend on the store.
type Tokens interface {
	// Source returns the token source of a Softbooq tenant.
	Source(tenantID string) xero.TokenSource
	// MarkAuthFailed marks the tenant's connection auth_failed with reason as last_error,
	// unless it is no longer the connected one.
	MarkAuthFailed(ctx context.Context, tenantID, reason string) error
}

// Dispatcher drains xerosync.outbox to Xero: one lane per connected tenant, each claiming
// ready heads, batching them by kind, and recording every outcome in the row.
type Dispatcher struct {
	cfg DispatcherConfig
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	lanes map[string]*lane // tenant id → running lane
	paced map[string]pacer // Xero tenant id → pacing bucket saved by the previous process
}

// NewDispatcher checks cfg and returns a Dispatcher. It does no I/O.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.DB == nil || cfg.Xero == nil || cfg.Tokens == nil {
		return nil, errors.New("outbox dispatcher: DB, Xero and Tokens are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > xero.MaxBatch {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.DrainTimeout = cmp.Or(cfg.DrainTimeout, DefaultDrainTimeout)
	cfg.RecordTimeout = cmp.Or(cfg.RecordTimeout, DefaultRecordTimeout)
	if cfg.LiveShare < 0 || cfg.LiveShare >= 1 {
		return nil, fmt.Errorf("outbox dispatcher: LiveShare %v is not in [0, 1)", cfg.LiveShare)
	}
	cfg.LiveShare = cmp.Or(cfg.LiveShare, DefaultLiveShare)
	if cfg.TimeScale < 1 {
		cfg.TimeScale = 1
	}
	return &Dispatcher{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "dispatcher"),
		now:   cfg.Now,
		lanes: map[string]*lane{},
	}, nil
}

// wall is how long a wait of d on the dispatcher's clock lasts on the wall.
func (d *Dispatcher) wall(w time.Duration) time.Duration {
	return time.Duration(float64(w) / d.cfg.TimeScale)
}

// Run drains until ctx ends and returns nil on a clean stop. Every goroutine it starts has
// ended when it returns. On stop, requests already sent are finished (for up to
// DrainTimeout) and their results recorded; rows claimed but not yet sent go back to
// pending without counting an attempt.
func (d *Dispatcher) Run(ctx context.Context) error {
	// Rows a previous run left in_flight are reconciled, never blindly re-sent.
	tag, err := d.cfg.DB.Exec(ctx, rescueSQL, d.now())
	if err != nil {
		return fmt.Errorf("dispatcher: mark in-flight rows for reconcile: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		d.log.Info("rows left in flight by a previous run will be reconciled", "rows", n)
	}
	// Before the first call: what the previous process spent is not spent again.
	if err := d.loadBudgets(ctx); err != nil {
		return fmt.Errorf("dispatcher: %w", err)
	}

	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		// Once every lane has ended, a last save leaves the counts with no call in flight.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.RecordTimeout)
		defer cancel()
		if err := d.saveBudgets(sctx); err != nil {
			d.log.Warn("save xero budgets at stop", tint.Err(err))
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	wg.Go(func() { d.listen(ctx) })
	wg.Go(func() { d.watchFlags(ctx) })
	wg.Go(func() { d.keepBudgets(ctx) })

	t := time.NewTicker(tenantPoll)
	defer t.Stop()
	for {
		if err := d.syncLanes(ctx, &wg); err != nil && ctx.Err() == nil {
			d.log.Warn("read connected tenants", tint.Err(err))
		}
		select {
		case <-ctx.Done():
			return nil // the lanes' contexts are ctx's children: they end with it
		case <-t.C:
		}
	}
}

// syncLanes starts a lane for each connected tenant without one, and stops lanes of tenants
// no longer connected (or connected to another organisation).
func (d *Dispatcher) syncLanes(ctx context.Context, wg *sync.WaitGroup) error {
	rows, err := d.cfg.DB.Query(ctx, dispatchTenantsSQL)
	if err != nil {
		return err
	}
	want := map[string]string{}
	var tenant, xeroTenant string
	if _, err := pgx.ForEachRow(rows, []any{&tenant, &xeroTenant}, func() error {
		want[tenant] = xeroTenant
		return nil
	}); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for tenant, l := range d.lanes {
		if xt, ok := want[tenant]; !ok || xt != l.xeroTenant {
			l.cancel()
			delete(d.lanes, tenant)
		}
	}
	for tenant, xeroTenant := range want {
		if _, ok := d.lanes[tenant]; ok || ctx.Err() != nil {
			continue
		}
		l := d.newLane(ctx, tenant, xeroTenant)
		d.lanes[tenant] = l
		wg.Go(func() {
			l.run()
			d.mu.Lock()
			if d.lanes[tenant] == l {
				delete(d.lanes, tenant)
			}
			d.mu.Unlock()
		})
	}
	return nil
}

// laneStates returns, per Xero tenant id, why its lane waits on budget, if it does, and its
// pacing bucket.
func (d *Dispatcher) laneStates() (map[string]string, map[string]pacer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, paced := map[string]string{}, map[string]pacer{}
	now := d.now()
	for _, l := range d.lanes {
		w, p := l.paceState()
		paced[l.xeroTenant] = p
		if w != "" {
			out[l.xeroTenant] = w
			continue
		}
		// The lane is not pacing itself, but its calls may be waiting in the client.
		b := d.cfg.Xero.Budgets(l.xeroTenant)
		switch {
		case b.BlockedUntil.After(now):
			out[l.xeroTenant] = fmt.Sprintf("%s: Xero answered 429 (%s) until %s", WaitRateLimited, b.BlockedLimit,
				b.BlockedUntil.UTC().Format(time.RFC3339))
		case b.MinuteRemaining == 0:
			out[l.xeroTenant] = fmt.Sprintf("%s: this minute's calls are spent; it resets by %s", WaitMinuteSpent,
				b.MinuteResetAt.UTC().Format(time.RFC3339))
		}
	}
	return out, paced
}

// wake nudges a tenant's lane, or every lane for tenant "".
func (d *Dispatcher) wake(tenant string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if tenant != "" {
		if l := d.lanes[tenant]; l != nil {
			l.nudge()
		}
		return
	}
	for _, l := range d.lanes {
		l.nudge()
	}
}

// listen holds a dedicated connection LISTENing on NotifyChannel, so a lane wakes within
// milliseconds of a capture commit. The connection is reopened when lost, and every lane is
// woken then, since notifications sent meanwhile are gone.
func (d *Dispatcher) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := d.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("outbox notifications lost; reconnecting", tint.Err(err))
		d.wake("")
		select {
		case <-ctx.Done():
		case <-time.After(listenRetry):
		}
	}
}

func (d *Dispatcher) listenOnce(ctx context.Context) error {
	// Its own connection, outside the pool: it is held for the dispatcher's lifetime.
	conn, err := pgx.ConnectConfig(ctx, d.cfg.DB.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	d.wake("") // rows queued before LISTEN took effect
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		d.wake(n.Payload)
	}
}

// drainContext returns a context that outlives ctx by grace: requests already under way when
// ctx ends may finish, so their results are known and recorded, but nothing waits forever.
func drainContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	return dctx, func() { stop(); cancel() }
}
