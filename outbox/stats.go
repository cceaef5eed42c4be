package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	//go:embed sql/queue_stats.sql
	queueStatsSQL string
	//go:embed sql/queue_failures.sql
	queueFailuresSQL string
)

// Querier is what Stats needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// TenantStats is one tenant's queue, for `status`, /healthz and /metrics.
type TenantStats struct {
	TenantID string
	// Rows counts the tenant's outbox rows by state: pending, in_flight and failed always,
	// done and cancelled only when Stats was asked for the history. A state without rows
	// is absent.
	Rows map[string]int64
	// OldestPendingAge is how long the oldest unfinished (pending or in-flight) row has
	// waited, by the database's clock; zero when there is none.
	OldestPendingAge time.Duration
	// FailuresByCode counts the failed rows by last_error_code.
	FailuresByCode map[string]int64
}

// Stats returns the queue statistics of every tenant with outbox rows (or of tenant alone,
// when it is not ""), in tenant id order. history also counts the done and cancelled rows,
// which scans the whole outbox; without it, only indexes over the unfinished rows are read.
func Stats(ctx context.Context, db Querier, tenant string, history bool) ([]TenantStats, error) {
	var tenantArg any
	if tenant != "" {
		tenantArg = tenant
	}
	byID := map[string]*TenantStats{}
	get := func(id string) *TenantStats {
		s := byID[id]
		if s == nil {
			s = &TenantStats{TenantID: id, Rows: map[string]int64{}}
			byID[id] = s
		}
		return s
	}
	rows, err := db.Query(ctx, queueStatsSQL, tenantArg, history)
	if err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	for rows.Next() {
		var id, state string
		var n int64
		var age *float64
		if err := rows.Scan(&id, &state, &n, &age); err != nil {
			rows.Close()
			return nil, fmt.Errorf("outbox stats: %w", err)
		}
		s := get(id)
		s.Rows[state] = n
		if age != nil && (state == StatePending || state == StateInFlight) {
			s.OldestPendingAge = max(s.OldestPendingAge, time.Duration(*age*float64(time.Second)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}

	rows, err = db.Query(ctx, queueFailuresSQL, tenantArg)
	if err != nil {
		return nil, fmt.Errorf("outbox failures: %w", err)
	}
	for rows.Next() {
		var id, code string
		var n int64
		if err := rows.Scan(&id, &code, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("outbox failures: %w", err)
		}
		s := get(id)
		if s.FailuresByCode == nil {
			s.FailuresByCode = map[string]int64{}
		}
		s.FailuresByCode[code] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox failures: %w", err)
	}

	out := make([]TenantStats, 0, len(byID))
	for _, s := range byID {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b TenantStats) int { return strings.Compare(a.TenantID, b.TenantID) })
	return out, nil
}
