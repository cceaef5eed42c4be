package outbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	//go:embed sql/retry_id.sql
	retryIDSQL string
	//go:embed sql/retry_code.sql
	retryCodeSQL string
)

// ErrNoRow is an outbox id that names no row.
var ErrNoRow = errors.New("no such outbox row")

// FlagDB is what the operators' flag functions need: a pool or a connection.
type FlagDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// RetryByCode sets retry_requested on every failed or pending row of tenant whose last
// error has code, as an operator's UPDATE would (SPEC §3), and returns how many it flagged.
// The dispatcher picks the flags up within 2 seconds.
func RetryByCode(ctx context.Context, db FlagDB, tenant, code string) (int64, error) {
	tag, err := db.Exec(ctx, retryCodeSQL, tenant, code)
	if err != nil {
		return 0, fmt.Errorf("flag rows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RetryByID sets retry_requested on the outbox row id when it can still be sent (failed, or
// pending in backoff), and returns its state and whether it was flagged; ErrNoRow when
// there is no such row.
func RetryByID(ctx context.Context, db FlagDB, id int64) (state string, flagged bool, err error) {
	err = db.QueryRow(ctx, retryIDSQL, id).Scan(&state, &flagged)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", false, ErrNoRow
	case err != nil:
		return "", false, fmt.Errorf("flag row %d: %w", id, err)
	}
	return state, flagged, nil
}
