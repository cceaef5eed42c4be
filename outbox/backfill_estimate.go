package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"time"

	"github.com/softbooq/xerosync/xero"
)

//go:embed sql/backfill_estimate.sql
var backfillEstimateSQL string

// refreshesPerStep: each step of up to 50 new contacts refreshes the organisation's contact
// directory once (If-Modified-Since) before it links or creates (lane.go contactStep), so a
// contact costs no look-up of its own. The directory's first fill, a page per 1,000 of the
// organisation's contacts, is not counted: how many it holds is unknown until then.
const refreshesPerStep = 1

// xeroMinuteLimit is Xero's per-organisation minute (XERO.md §2).
const xeroMinuteLimit = 60

// BackfillEstimate is what a backfill would queue and what that costs in Xero calls.
type BackfillEstimate struct {
	Invoices, Contacts, Payments int
}

// EstimateBackfill counts what Backfill with the same tenant and since would queue, before it
// queues anything.
func EstimateBackfill(ctx context.Context, db BackfillDB, tenant string, since xero.Date) (BackfillEstimate, error) {
	var e BackfillEstimate
	if err := db.QueryRow(ctx, backfillEstimateSQL, tenant, since.String()).Scan(&e.Invoices, &e.Contacts, &e.Payments); err != nil {
		return e, fmt.Errorf("estimate backfill: %w", err)
	}
	return e, nil
}

// Calls is the estimated number of Xero calls: full batches of each kind, plus a directory
// refresh per batch of contacts. (BenchmarkOnboardingCalls' workload, 6,000 invoices, 3,000
// contacts and 2,000 payments, is 280 by this count; it spent 282.)
func (e BackfillEstimate) Calls() int {
	batches := func(n int) int { return (n + xero.MaxBatch - 1) / xero.MaxBatch }
	return batches(e.Invoices) + (1+refreshesPerStep)*batches(e.Contacts) + batches(e.Payments)
}

// Duration is how long the calls take at an organisation's limits: Xero's 60 a minute, and
// the part of each day's dayLimit calls that the live share leaves to backfill (pace.go);
// today only what is left of it (dayRemaining, -1 when unknown). It assumes no live traffic
// beyond its share, so it is the shortest the backfill can take.
func (e BackfillEstimate) Duration(dayLimit, dayRemaining int, liveShare float64) time.Duration {
	calls := float64(e.Calls())
	perDay := max((1-liveShare)*float64(dayLimit), 1)
	today := perDay
	if dayRemaining >= 0 {
		today = max(float64(dayRemaining)-liveShare*float64(dayLimit), 0)
	}
	byMinute := time.Duration(calls / xeroMinuteLimit * float64(time.Minute))
	if calls <= today {
		return byMinute
	}
	// Today's share, then whole days' shares: the rest waits for the next days.
	days := math.Ceil((calls - today) / perDay)
	return max(byMinute, time.Duration(days*24*float64(time.Hour)))
}
