package outbox

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lmittmann/tint"
)

//go:embed sql/dispatch_flags.sql
var flagsSQL string

// watchFlags applies operators' retry_requested and cancel_requested flags (SPEC §3) every
// flagPoll, well within the 2 seconds SPEC promises, and wakes the lanes they affect. A
// retried row keeps its attempts and history (River's JobRetry); a cancelled one releases
// its dependents.
func (d *Dispatcher) watchFlags(ctx context.Context) {
	t := time.NewTicker(flagPoll)
	defer t.Stop()
	for {
		if err := d.applyFlags(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("apply retry and cancel flags", tint.Err(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) applyFlags(ctx context.Context) error {
	rows, err := d.cfg.DB.Query(ctx, flagsSQL, d.now())
	if err != nil {
		return fmt.Errorf("apply flags: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("apply flags: %w", err)
	}
	for _, t := range tenants {
		d.wake(t)
	}
	return nil
}
