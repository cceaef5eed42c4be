package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lmittmann/tint"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sethvargo/go-retry"
	"golang.org/x/sync/errgroup"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/leader"
	"github.com/softbooq/xerosync/internal/migrate"
	"github.com/softbooq/xerosync/internal/simclock"
	"github.com/softbooq/xerosync/xero"
)

const (
	// lockPoll is how often a standby tries the leadership lock and a leader checks that
	// its lock connection is alive (leader.Config.Poll): well inside the 15 s takeover
	// SPEC §4 promises.
	lockPoll = time.Second
	// lockQueryTimeout bounds one lock query or ping; a connection that cannot answer in
	// this time is treated as lost, so a hung network costs at most this long as leader.
	lockQueryTimeout = 3 * time.Second
	// heartbeatInterval is capture's heartbeat period (LESSONS 5); health allows three
	// missed heartbeats plus heartbeatSlack before it calls the stream stale.
	heartbeatInterval = 10 * time.Second
	heartbeatSlack    = 5 * time.Second
	// stallLimit is how long the leadership loop may go without progress before the
	// watchdog ping is withheld. Every wait in the loop is bounded well below it.
	stallLimit = 20 * time.Second
	// probeTimeout bounds the database reads behind /healthz, /status and /metrics, so a
	// slow database makes them answer "down", not hang.
	probeTimeout = 3 * time.Second
)

func runFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	return func(ctx context.Context) error {
		cfg, log, err := inv.setup()
		if err != nil {
			return err
		}
		r := &runner{cfg: cfg, log: log, clock: inv.clock, notify: newNotifier(inv.p.Env), onListen: inv.p.OnListen}
		r.xeroCalls, r.deliveries = newCounters()
		return r.run(ctx)
	}
}

// runner is one `xerosync run`. Its atomics are written by the leader's work and read by the
// HTTP handlers; the elector's state is read through its Snapshot.
type runner struct {
	cfg      *config.Config
	log      *slog.Logger
	clock    simclock.Clock // Xero's time: the wall, unless a test run set another (testClock)
	notify   *notifier
	onListen func(net.Addr)
	pool     *pgxpool.Pool
	elector  *leader.Elector // set by run before the HTTP server starts

	capture    atomic.Pointer[cdc.Capture] // set while leading
	xeroClient atomic.Pointer[xero.Client] // set while delivering: its rate budgets are metrics

	// Counted as they happen (the other metrics are read at scrape time).
	xeroCalls  *prometheus.CounterVec // xerosync_xero_calls_total{operation,status}
	deliveries *prometheus.CounterVec // xerosync_delivery_attempts_total{entity,result,code}
	progress   atomic.Int64           // unix nanoseconds of start's last step (the elector keeps its own)
}

// run is the daemon: it returns nil when ctx ends, or the error that stopped it.
func (r *runner) run(ctx context.Context) error {
	r.stepped()
	poolCfg, err := poolConfig(r.cfg)
	if err != nil {
		return err
	}
	// pgxpool's default (4 on a small machine) is shared by capture's transactions and
	// heartbeat, the dispatcher and the health and metrics probes; a probe must not wait
	// behind capture. An operator's pool_max_conns in the URL wins.
	if !strings.Contains(r.cfg.Database.URL.Reveal(), "pool_max_conns") {
		poolCfg.MaxConns = max(poolCfg.MaxConns, 10)
	}
	// Listen before anything else: monitoring can then see why the daemon is not ready, and
	// a port in use fails fast instead of after a database round trip.
	ln, err := net.Listen("tcp", r.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on http.addr %s: %w; is another xerosync running here? set http.addr to a free port", r.cfg.HTTP.Addr, err)
	}
	r.log.Info("listening", "addr", ln.Addr().String())
	warnIfExposed(r.log, ln.Addr())
	if r.onListen != nil {
		r.onListen(ln.Addr())
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg) // connects lazily: no I/O here
	if err != nil {
		ln.Close()
		return fmt.Errorf("database pool: %w", err)
	}
	defer pool.Close()
	r.pool = pool
	lockCfg, err := connConfig(r.cfg, "xerosync leader")
	if err != nil {
		ln.Close()
		return err
	}
	r.elector, err = leader.New(leader.Config{
		ConnConfig:   lockCfg,
		Target:       r.cfg.Database.RedactedURL(),
		Key:          r.cfg.Database.Slot,
		Lead:         r.lead,
		Fatal:        needsAdmin,
		OnChange:     r.leadershipChanged,
		Poll:         lockPoll,
		QueryTimeout: lockQueryTimeout,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("leadership: %w", err)
	}

	handler, err := r.handler()
	if err != nil {
		ln.Close()
		return err
	}
	srv := newHTTPServer(handler, r.log)

	r.log.Info("starting", "database", r.cfg.Database.RedactedURL(), "slot", r.cfg.Database.Slot,
		"publication", r.cfg.Database.Publication)
	r.status("starting: connecting to the database")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		r.sendNotify("STOPPING=1")
		r.status("stopping")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("http server shutdown: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := r.start(gctx); err != nil || gctx.Err() != nil {
			return err
		}
		return r.elector.Run(gctx)
	})
	if r.notify.watchdog > 0 {
		g.Go(func() error { return r.watchdog(gctx) })
	}
	err = g.Wait()
	if err == nil {
		r.log.Info("stopped")
	}
	return err
}

// start waits for the database, applies migrations, checks that the token key opens the
// stored tokens, and tells systemd the daemon is ready. A database that is down is waited for
// (with backoff, reported on /healthz and in the systemd status); a problem retrying cannot
// fix (wrong password, no right to create the schema, a token key that opens nothing) stops
// the daemon.
func (r *runner) start(ctx context.Context) error {
	b := retry.WithJitterPercent(20, retry.WithCappedDuration(10*time.Second, retry.NewExponential(500*time.Millisecond)))
	for {
		r.stepped()
		err := r.migrate(ctx)
		if err == nil {
			err = r.checkTokenKey(ctx)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		var cfgErrs *config.Errors
		if permanentDBError(err) || errors.As(err, &cfgErrs) {
			return err
		}
		wait, _ := b.Next()
		r.log.Warn("database not reachable, retrying", tint.Err(err), "in", wait.Round(time.Millisecond))
		r.status("database unreachable: " + oneLine(err.Error()))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	r.sendNotify("READY=1")
	r.log.Info("ready")
	return nil
}

func (r *runner) migrate(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := r.pool.Acquire(actx)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the database %s: %w", r.cfg.Database.RedactedURL(), err)
	}
	defer conn.Release()
	applied, err := migrate.Up(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(applied) > 0 {
		r.log.Info("migrations applied", "versions", applied)
	}
	return nil
}

// permanentDBError reports whether err is a database error that waiting cannot fix: any
// server error outside the connection (08), resource (53), operator-intervention (57, which
// includes "the database system is starting up") and transaction-rollback (40) classes.
func permanentDBError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "08", "53", "57", "40":
		return false
	}
	return true
}

// watchdog pings systemd while the leadership loop makes progress. It does not require the
// database to be reachable: a restart cannot fix a database outage (health reports that),
// but it can fix a daemon whose loop is stuck.
func (r *runner) watchdog(ctx context.Context) error {
	t := time.NewTicker(r.notify.watchdog)
	defer t.Stop()
	for {
		// start steps until the elector runs; then the elector's loop does.
		last := time.Unix(0, r.progress.Load())
		if s := r.leadership().Stepped; s.After(last) {
			last = s
		}
		if stalled := time.Since(last); stalled < stallLimit {
			r.sendNotify("WATCHDOG=1")
		} else {
			r.log.Error("leadership loop stalled; withholding the watchdog ping so that systemd restarts xerosync", "stalled", stalled.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *runner) stepped() { r.progress.Store(time.Now().UnixNano()) }

// leadership is the elector's state; a runner without one (a test's) is a standby that has
// not started.
func (r *runner) leadership() leader.Snapshot {
	if r.elector == nil {
		return leader.Snapshot{}
	}
	return r.elector.Snapshot()
}

func (r *runner) status(s string) { r.sendNotify("STATUS=" + s) }

// sendNotify tells systemd; a failure is logged, not returned, because the daemon's work does
// not depend on systemd hearing it.
func (r *runner) sendNotify(state string) {
	if err := r.notify.send(state); err != nil {
		r.log.Warn("sd_notify failed", tint.Err(err))
	}
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
