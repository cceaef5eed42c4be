package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/queue_stats.sql
var queueStatsSQL string

// Querier is what Stats needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// TenantStats is one tenant's queue, for `status`, /healthz and /metrics.
type TenantStats struct {
	// Rows counts the tenant's outbox rows by state: pending, in_flight and failed always,
	// done and cancelled only when Stats was asked for the history. A state without rows
	// is absent.
	Rows map[string]int64
	// OldestPendingAge is how long the oldest unfinished (pending or in-flight) row has
	// waited, by the database's clock; zero when there is none.
	OldestPendingAge time.Duration
	// OldestInFlightAge is how long the oldest in-flight row has been in flight, since its
	// attempt began; zero when none is. A request takes at most a few minutes, so a larger
	// value is a row whose outcome could not be recorded (StuckInFlight).
	OldestInFlightAge time.Duration
	// FailuresByCode counts the failed rows by last_error_code.
	FailuresByCode map[string]int64
}

// StuckInFlight is how long a row may be in flight before health reports it: a request is
// bounded by the client's timeout (2 minutes) and the outcome's write by RecordTimeout, so a
// row in flight for longer is one whose outcome the dispatcher keeps failing to record (an
// operator's lock on it, say) or that a stopped lane left behind.
const StuckInFlight = 5 * time.Minute

// Stats returns the queue statistics of every tenant with outbox rows (or of tenant alone,
// when it is not ""), by tenant id. history also counts the done and cancelled rows, which
// scans the whole outbox; without it, only indexes over the unfinished rows are read.
func Stats(ctx context.Context, db Querier, tenant string, history bool) (map[string]*TenantStats, error) {
	var tenantArg any
	if tenant != "" {
		tenantArg = tenant
	}
	rows, err := db.Query(ctx, queueStatsSQL, tenantArg, history)
	if err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	defer rows.Close()
	out := map[string]*TenantStats{}
	for rows.Next() {
		var id, state string
		var code *string
		var n int64
		var age, inFlight *float64
		if err := rows.Scan(&id, &state, &code, &n, &age, &inFlight); err != nil {
			return nil, fmt.Errorf("outbox stats: %w", err)
		}
		s := out[id]
		if s == nil {
			s = &TenantStats{Rows: map[string]int64{}}
			out[id] = s
		}
		s.Rows[state] += n
		if state == StateFailed {
			if s.FailuresByCode == nil {
				s.FailuresByCode = map[string]int64{}
			}
			s.FailuresByCode[*code] += n
		}
		if age != nil && (state == StatePending || state == StateInFlight) {
			s.OldestPendingAge = max(s.OldestPendingAge, time.Duration(*age*float64(time.Second)))
		}
		if inFlight != nil && state == StateInFlight {
			s.OldestInFlightAge = max(s.OldestInFlightAge, time.Duration(*inFlight*float64(time.Second)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	return out, nil
}
