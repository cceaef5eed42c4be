package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed sql/prune.sql
var pruneSQL string

// pruneBatch bounds one DELETE, so that pruning a long history holds its locks briefly and
// leaves WAL (which capture decodes too) in small steps.
const pruneBatch = 5000

// Execer is what Prune needs: a pool or a connection.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Prune deletes finished outbox rows (done or cancelled) last changed before olderThan ago,
// in batches, and returns how many it deleted. It keeps what is still read: each contact's
// newest row, and the rows of entities that unfinished rows depend on (sql/prune.sql).
// Nothing pruned is pushed again: "already in Xero" is decided from xerosync.entities.
func Prune(ctx context.Context, db Execer, olderThan time.Duration, now time.Time) (int64, error) {
	before := now.Add(-olderThan)
	var total int64
	for {
		tag, err := db.Exec(ctx, pruneSQL, before, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune outbox: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}
