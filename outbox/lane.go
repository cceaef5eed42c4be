package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lmittmann/tint"

	"github.com/softbooq/xerosync/xero"
)

// errLaneStopped ends a lane whose connection needs attention (an auth failure): its rows
// wait, untouched, until the tenant is connected again and the dispatcher starts a new lane.
var errLaneStopped = errors.New("lane stopped: the tenant's Xero connection needs attention")

// lane drains one tenant. It runs claim cycles one after another; a cycle's requests run
// concurrently (the client keeps them within Xero's 5 in flight).
type lane struct {
	d          *Dispatcher
	tenant     string
	xeroTenant string
	org        *xero.Org
	log        *slog.Logger
	ctx        context.Context
	cancel     context.CancelFunc
	wakeCh     chan struct{}

	// stopped is set by the first auth failure of a cycle: requests not yet sent are not
	// sent, and the lane ends after the cycle.
	stopped atomic.Bool
	// exited is set once run has returned: a test then knows the lane sends nothing more,
	// instead of waiting long enough to hope so.
	exited atomic.Bool

	mu         sync.Mutex
	unrecorded []outcome // outcomes record could not write yet (claim.go)
	waiting    string    // why the lane waits on budget (pace.go); "" when it does not
	paceSaved  pacer     // a copy of pace, for the saver (budget.go)

	pace       pacer // only the lane's own goroutine uses it, as noBackfill
	noBackfill bool  // the last claim that could take backfill found none (paceInput)
}

// decidePace reads the organisation's day budget and decides what this cycle may claim.
func (l *lane) decidePace() paceDecision {
	b := l.d.cfg.Xero.Budgets(l.xeroTenant)
	return l.pace.decide(paceInput{now: l.d.now(), dayRemaining: b.DayRemaining, dayResetAt: b.DayResetAt,
		dayLimit: b.DayLimit, inFlight: b.InFlight, liveShare: l.d.cfg.LiveShare, noBackfill: l.noBackfill})
}

// setWaiting records why the lane waits, and a copy of its bucket for the saver.
func (l *lane) setWaiting(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting, l.paceSaved = reason, l.pace
}

func (l *lane) paceState() (string, pacer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting, l.paceSaved
}

func (d *Dispatcher) newLane(ctx context.Context, tenant, xeroTenant string) *lane {
	ctx, cancel := context.WithCancel(ctx)
	// The caller holds d.mu. A bucket the previous process saved is taken up once.
	pace := d.paced[xeroTenant]
	delete(d.paced, xeroTenant)
	return &lane{
		pace: pace,
		d:    d, tenant: tenant, xeroTenant: xeroTenant,
		org:    d.cfg.Xero.Org(xeroTenant, d.cfg.Tokens.Source(tenant)),
		log:    d.log.With("tenant_id", tenant),
		ctx:    ctx,
		cancel: cancel,
		wakeCh: make(chan struct{}, 1),
	}
}

func (l *lane) nudge() {
	select {
	case l.wakeCh <- struct{}{}:
	default:
	}
}

// run loops until the lane's context ends or the connection fails.
func (l *lane) run() {
	defer l.exited.Store(true) // deferred first: set last, after the final record
	defer l.cancel()
	defer func() {
		// A last try; what still cannot be written stays in_flight, shown by /healthz
		// once it is older than StuckInFlight, and reconciled at the next start.
		if ids := l.retryUnrecorded(); len(ids) > 0 {
			l.log.Error("lane stopped with outbox outcomes not recorded: their rows stay in flight until the next start reconciles them",
				"outbox_ids", ids)
		}
	}()
	ctx := l.ctx
	l.log.Debug("lane started", "xero_tenant_id", l.xeroTenant)
	failures := 0
	for ctx.Err() == nil {
		// Outcomes not yet written hold back only their own entities and dependents
		// (their rows are in flight): the rest of the tenant goes on meanwhile.
		l.retryUnrecorded()
		dec := l.decidePace()
		l.setWaiting(dec.reason)
		var n int
		var err error
		if dec.live || dec.backfill {
			n, err = l.cycle(ctx, dec)
		}
		if errors.Is(err, errLaneStopped) {
			l.log.Warn("lane stopped: rows wait until the tenant is connected again")
			return
		}
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			failures++
			wait = min(time.Duration(failures)*time.Second, 30*time.Second)
			l.log.Warn("dispatch cycle failed", tint.Err(err), "retry_in", wait)
		case n > 0:
			failures = 0
			continue // outcomes may have released further heads
		case !dec.live && !dec.backfill && dec.wait > 0:
			// Paced: nothing may be claimed before dec.wait, however soon a row falls due, so
			// the next due row is not asked for.
			failures = 0
			wait = min(l.d.cfg.PollInterval, dec.wait)
		default:
			failures = 0
			wait = l.idleWait(ctx)
			if dec.wait > 0 {
				wait = min(wait, dec.wait)
			}
		}
		if l.pendingRecords() {
			wait = min(wait, recordRetry)
		}
		t := time.NewTimer(l.d.wall(wait))
		select {
		case <-ctx.Done():
		case <-l.wakeCh:
		case <-t.C:
		}
		t.Stop()
	}
}

// pendingRecords reports whether some outcomes still wait to be written.
func (l *lane) pendingRecords() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.unrecorded) > 0
}

// idleWait is how long an idle lane sleeps: until its next backed-off row is due, at most
// the safety poll.
func (l *lane) idleWait(ctx context.Context) time.Duration {
	poll := l.d.cfg.PollInterval
	now := l.d.now()
	var next *time.Time
	if err := l.d.cfg.DB.QueryRow(ctx, nextDueSQL, l.tenant, now).Scan(&next); err != nil || next == nil {
		return poll
	}
	return min(max(next.Sub(now), time.Millisecond), poll)
}

// contactStep is how many contacts are prepared and sent at a time: a full create batch.
// Each step refreshes the contact directory once (If-Modified-Since) before it links or
// creates, so a step is as large as one request may be.
const contactStep = xero.MaxBatch

// cycle claims ready heads, sends them and records the outcomes. It returns how many rows
// it claimed.
func (l *lane) cycle(ctx context.Context, dec paceDecision) (int, error) {
	rows, maps, err := l.claim(ctx, dec)
	if err == nil && dec.backfill {
		l.noBackfill = !slices.ContainsFunc(rows, func(r *claimedRow) bool { return r.source == sourceBackfill })
	}
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	defer func() {
		live := 0
		for _, r := range rows {
			if r.source != sourceBackfill {
				live++
			}
		}
		l.pace.settle(l.d.cfg.Xero.Budgets(l.xeroTenant).DayRemaining, float64(live)/float64(len(rows)))
	}()
	// Requests under way finish after ctx ends (for up to DrainTimeout), so that what Xero
	// did is known and recorded rather than left to reconcile.
	callCtx, cancel := drainContext(ctx, l.d.cfg.DrainTimeout)
	defer cancel()

	groups := map[kind][]*claimedRow{}
	for _, r := range rows {
		k := kindOf(r)
		groups[k] = append(groups[k], r)
	}
	var wg sync.WaitGroup
	for k, rs := range groups {
		if k == kindContact {
			// A contact's first push needs a directory refresh before its create: take them
			// in steps of one batch, each recorded before the next, so that what an
			// accountant changes in Xero meanwhile is seen before the next step decides.
			wg.Go(func() {
				for len(rs) > 0 && !l.stopped.Load() {
					n := min(len(rs), contactStep)
					l.process(ctx, callCtx, k, rs[:n], maps)
					rs = rs[n:]
				}
				if len(rs) > 0 {
					l.record(refundRows(rs))
				}
			})
			continue
		}
		wg.Go(func() { l.process(ctx, callCtx, k, rs, maps) })
	}
	wg.Wait()
	if l.stopped.Load() {
		return len(rows), errLaneStopped
	}
	return len(rows), nil
}

// process takes one kind's claimed rows through preparation (mapping, links, reconcile,
// contact lookups), then sends them in batches and records each outcome.
func (l *lane) process(ctx, callCtx context.Context, k kind, rows []*claimedRow, m *mappings) {
	items, outs := l.prepare(ctx, callCtx, k, rows, m)
	l.record(outs)
	// Lookups finish in any order; requests keep queue order, so that within a batch the
	// older row wins whatever Xero decides element by element (a contact name, say).
	slices.SortFunc(items, func(a, b *item) int { return cmp.Compare(a.row.id, b.row.id) })
	byKind := map[kind][]*item{}
	for _, it := range items {
		byKind[it.kind] = append(byKind[it.kind], it)
	}
	var wg sync.WaitGroup
	for k, its := range byKind {
		batches, oversized := cutBatches(its, l.d.cfg.BatchSize, maxBatchBody, l.d.now())
		l.record(oversized)
		for _, batch := range batches {
			wg.Go(func() { l.record(l.send(ctx, callCtx, k, batch)) })
		}
	}
	wg.Wait()
}

// maxBatchBody is what a batch's elements may add up to: Xero's 3.5 MB a request, less room
// for the envelope ({"Invoices":[…]}) and the separators counted below.
const maxBatchBody = xero.MaxRequestBody - 1024

// cutBatches cuts items (of one kind, in queue order) into requests of at most max elements
// and maxBody bytes of JSON, so that a few large records cannot make a request Xero refuses
// whole, again and again. A record that alone is over maxBody fails by itself, before any
// call, with a message that says so (ValidationError: Xero would refuse it, and so would any
// retry).
func cutBatches(items []*item, max, maxBody int, now time.Time) (batches [][]*item, oversized []outcome) {
	var cur []*item
	size := 0
	for _, it := range items {
		n := it.size() + 1 // and its comma
		if n > maxBody {
			msg := fmt.Sprintf("%s %s is %s of JSON, over Xero's limit of 3.5 MB for one request, so Xero cannot take it; "+
				"make it smaller in Softbooq (fewer or shorter lines), then cancel this row", it.row.entity, it.label(), megabytes(n))
			oversized = append(oversized, outcome{row: it.row, state: StateFailed, code: string(xero.CodeValidationError), err: msg,
				history: historyEntry(it.row, now, "permanent", string(xero.CodeValidationError), msg, "")})
			continue
		}
		if len(cur) == max || size+n > maxBody {
			batches, cur, size = append(batches, cur), nil, 0
		}
		cur, size = append(cur, it), size+n
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, oversized
}

func megabytes(n int) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

// authFailed handles an auth failure: the connection is marked auth_failed (the token store
// already did for invalid_grant; the predicate makes this a no-op then) and the lane stops.
func (l *lane) authFailed(err error) {
	if l.stopped.Swap(true) {
		return
	}
	ctx, cancel := l.detached()
	defer cancel()
	msg := xero.Clip("dispatcher: "+err.Error()+"; run xerosync connect again", 500)
	if dberr := l.d.cfg.Tokens.MarkAuthFailed(ctx, l.tenant, msg); dberr != nil {
		l.log.Error("mark connection auth_failed", tint.Err(dberr))
	}
	l.log.Warn("xero connection auth failed", tint.Err(err))
}
