package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/dispatch_stats.sql
var statsSQL string

// Querier is what Stats needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// TenantStats is one tenant's queue, for `status`, /healthz and /metrics.
type TenantStats struct {
	TenantID string
	// Rows counts the tenant's outbox rows by state (pending, in_flight, done, failed,
	// cancelled); a state without rows is absent.
	Rows map[string]int
	// OldestPending is when the oldest row not yet pushed (pending or in_flight) was
	// queued; zero when there is none.
	OldestPending time.Time
}

// OldestPendingAge is how long the oldest unpushed row has waited at now; zero when none.
func (s TenantStats) OldestPendingAge(now time.Time) time.Duration {
	if s.OldestPending.IsZero() {
		return 0
	}
	return max(now.Sub(s.OldestPending), 0)
}

// Stats returns the queue statistics of every tenant with outbox rows, by tenant id.
func Stats(ctx context.Context, db Querier) ([]TenantStats, error) {
	rows, err := db.Query(ctx, statsSQL)
	if err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	defer rows.Close()
	var out []TenantStats
	for rows.Next() {
		var tenant, state string
		var n int
		var oldest *time.Time
		if err := rows.Scan(&tenant, &state, &n, &oldest); err != nil {
			return nil, fmt.Errorf("outbox stats: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].TenantID != tenant {
			out = append(out, TenantStats{TenantID: tenant, Rows: map[string]int{}})
		}
		s := &out[len(out)-1]
		s.Rows[state] = n
		if oldest != nil && (s.OldestPending.IsZero() || oldest.Before(s.OldestPending)) {
			s.OldestPending = *oldest
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	return out, nil
}
