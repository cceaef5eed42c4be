package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/leader"
	"github.com/softbooq/xerosync/internal/migrate"
	"github.com/softbooq/xerosync/outbox"
)

func resyncFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	force := fs.Bool("force", false, "recreate the slot even when it is healthy (what it still held is then read from the snapshot)")
	return func(ctx context.Context) error { return runResync(ctx, inv, *force) }
}

// stopDaemonFirst is what an operator is told when a daemon would conflict with resync.
const stopDaemonFirst = "stop every xerosync daemon of this database first (systemctl stop xerosync, on each host), run resync again, then start them"

// runResync recovers a lost slot: cdc.Recreate makes a new slot with an exported snapshot,
// outbox.Resync queues in that snapshot what the lost WAL would have queued, and both commit
// with the new position. It holds the leadership lock meanwhile, so that no daemon leads
// (and streams, or recreates the slot) while it works; it prints what it found and queued.
func runResync(ctx context.Context, inv *invocation, force bool) error {
	cfg, log, lockConn, err := inv.setupDB(ctx)
	if err != nil {
		return err
	}
	defer lockConn.Close(context.WithoutCancel(ctx))
	slot := cfg.Database.Slot
	got, err := leader.TryLock(ctx, lockConn, slot)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	if !got {
		return fmt.Errorf("resync: a xerosync daemon leads slot %s (it holds the leadership lock), and resync would replace the slot under it; %s", slot, stopDaemonFirst)
	}
	if _, err := migrate.Up(ctx, lockConn); err != nil {
		return fmt.Errorf("resync: migrate: %w", err)
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	res, queued, err := recreateSlot(ctx, conn, cfg.Database.URL.Reveal(), slot, force)
	switch {
	case errors.Is(err, cdc.ErrSlotBusy):
		return fmt.Errorf("resync: replication slot %s is in use (%s): a daemon (or another consumer) streams from it; %s", slot, res.Reason, stopDaemonFirst)
	case errors.Is(err, cdc.ErrSlotHealthy):
		return fmt.Errorf("resync: replication slot %s exists and is healthy, so nothing was lost: start xerosync and capture resumes from it. "+
			"--force recreates it anyway (what it still held is then read from the snapshot); nothing was changed", slot)
	case errors.Is(err, cdc.ErrNeverCaptured):
		return fmt.Errorf("resync: xerosync has never captured with slot %s on this database, so there is nothing to recover: `xerosync run` creates the slot (check database.slot if it should exist)", slot)
	case err != nil:
		return fmt.Errorf("resync: %w; nothing was queued and the position was not changed: run resync again", err)
	}
	log.Info("slot recreated", "slot", slot, "found", res.Found.String(), "stored_lsn", res.Stored.String(), "start_lsn", res.Start.String())
	resyncSummary(inv.p.Stdout, slot, res, queued)
	return nil
}

// recreateSlot is resync itself, for the command and for a leader configured with
// database.on_slot_lost = "resync": cdc.Recreate replaces the slot, and outbox.Resync queues
// in its snapshot.
func recreateSlot(ctx context.Context, db interface {
	cdc.DBTX
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}, url, slot string, force bool) (cdc.RecreateResult, outbox.ResyncResult, error) {
	var queued outbox.ResyncResult
	res, err := cdc.Recreate(ctx, cdc.RecreateParams{
		DB:         db,
		ConnString: url,
		Slot:       slot,
		Force:      force,
		Queue: func(ctx context.Context, tx pgx.Tx, s cdc.Snapshot) error {
			var err error
			queued, err = outbox.Resync(ctx, tx, s)
			return err
		},
	})
	return res, queued, err
}

// resyncIfLost is database.on_slot_lost = "resync": before capture starts, a leader that
// finds the slot missing or invalidated recovers it as `xerosync resync` does, and logs what
// it queued. A healthy slot, or none ever captured from, is capture's as usual.
func (r *runner) resyncIfLost(ctx context.Context) error {
	res, queued, err := recreateSlot(ctx, r.pool, r.cfg.Database.URL.Reveal(), r.cfg.Database.Slot, false)
	switch {
	case errors.Is(err, cdc.ErrSlotHealthy), errors.Is(err, cdc.ErrNeverCaptured):
		return nil
	case err != nil:
		return fmt.Errorf("resync the lost slot %s (database.on_slot_lost = resync): %w", r.cfg.Database.Slot, err)
	}
	r.log.Warn("replication slot was lost: recreated, and what it missed queued from its snapshot (database.on_slot_lost = resync)",
		"slot", r.cfg.Database.Slot, "found", res.Found.String(), "reason", res.Reason,
		"stored_lsn", res.Stored.String(), "start_lsn", res.Start.String())
	for _, t := range queued.Tenants {
		r.log.Info("resync queued", "tenant_id", t.Tenant, "customers_compared", t.Customers,
			"contacts", t.Contacts, "invoices", t.Invoices, "voids", t.Voids, "payments", t.Payments)
	}
	for _, t := range queued.DisconnectedInGap {
		r.log.Warn("tenant disconnected while the slot was lost: its changes before the disconnect were not recovered; backfill it after connecting again", "tenant_id", t)
	}
	return nil
}

// resyncSummary prints what resync found and queued.
func resyncSummary(w io.Writer, slot string, res cdc.RecreateResult, q outbox.ResyncResult) {
	was := "xerosync had captured up to " + res.Stored.String()
	if res.Stored == 0 {
		was = "xerosync had no position stored"
	}
	switch res.Found {
	case cdc.SlotMissing:
		fmt.Fprintf(w, "slot %s was missing (%s)\n", slot, was)
	case cdc.SlotInvalidated:
		fmt.Fprintf(w, "slot %s was invalidated (%s; %s); dropped\n", slot, res.Reason, was)
	default:
		fmt.Fprintf(w, "slot %s was %s (%s); dropped (--force)\n", slot, res.Found, was)
	}
	fmt.Fprintf(w, "new slot %s starts at %s; everything committed before it was compared with the outbox\n", slot, res.Start)
	if len(q.Tenants) == 0 {
		fmt.Fprintln(w, "no tenant is connected: nothing to queue")
	}
	for _, t := range q.Tenants {
		if t.Queued() == 0 {
			fmt.Fprintf(w, "tenant %s: %s customers compared; nothing missing\n", t.Tenant, thousands(int64(t.Customers)))
			continue
		}
		var parts []string
		for _, p := range []struct {
			n    int
			what string
		}{{t.Contacts, "contact upserts"}, {t.Invoices, "invoice issues"}, {t.Voids, "voids"}, {t.Payments, "payments"}} {
			if p.n > 0 {
				parts = append(parts, thousands(int64(p.n))+" "+p.what)
			}
		}
		fmt.Fprintf(w, "tenant %s: %s customers compared; queued %s\n", t.Tenant, thousands(int64(t.Customers)), strings.Join(parts, ", "))
	}
	for _, t := range q.DisconnectedInGap {
		fmt.Fprintf(w, "warning: tenant %s was disconnected while the slot was lost; its changes before the disconnect were not recovered: after connecting it again, run xerosync backfill --tenant %s\n", t, t)
	}
	fmt.Fprintln(w, "start xerosync (systemctl start xerosync): it streams from the new slot and pushes what was queued")
}
