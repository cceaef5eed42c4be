package outbox

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lmittmann/tint"

	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/dispatch_claim.sql
	claimSQL string
	//go:embed sql/dispatch_start.sql
	startSQL string
	//go:embed sql/dispatch_mappings.sql
	mappingsSQL string
	//go:embed sql/dispatch_set_keys.sql
	setKeysSQL string
	//go:embed sql/dispatch_record.sql
	recordSQL string
	//go:embed sql/dispatch_link.sql
	linkSQL string
	//go:embed sql/dispatch_fold.sql
	foldSQL string
)

// Row states.
const (
	StatePending   = "pending"
	StateInFlight  = "in_flight"
	StateDone      = "done"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// kind is what a request does; rows of one kind share a request.
type kind string

const (
	kindContact       kind = "contact" // before lookup: becomes create or update
	kindContactCreate kind = "contact_create"
	kindContactUpdate kind = "contact_update"
	kindInvoice       kind = "invoice_issue"
	kindVoid          kind = "invoice_void"
	kindPayment       kind = "payment"
)

// claimedRow is an outbox row this lane holds in_flight.
type claimedRow struct {
	id           int64
	entity       string
	entityID     string
	action       string
	payload      string
	attempts     int // including the attempt being made: the value the row holds in the database
	generation   int
	reconcile    bool   // the previous attempt's outcome is unknown
	lastCode     string // last_error_code: InvoiceNumberInUse while a refused number is looked up
	ownXeroID    string
	parentXeroID string
	folded       []int64 // later pending upserts of the same contact, sent as this one
	source       string  // sourceWAL or sourceBackfill
}

func kindOf(r *claimedRow) kind {
	switch r.action {
	case ActionUpsert:
		return kindContact
	case ActionVoid:
		return kindVoid
	case ActionPay:
		return kindPayment
	}
	return kindInvoice
}

// claim takes up to a few batches' worth of ready heads of the lane's tenant and commits them
// in_flight, one attempt more, before anything is sent. The tenant's mappings are read in the
// same transaction.
func (l *lane) claim(ctx context.Context, dec paceDecision) ([]*claimedRow, *mappings, error) {
	now := l.d.now()
	limit := l.d.cfg.BatchSize * max(dec.batches, 1)
	var rows []*claimedRow
	m := &mappings{accounts: map[string]string{}, taxes: map[string]string{}, payments: map[string]string{}}
	err := pgx.BeginFunc(ctx, l.d.cfg.DB, func(tx pgx.Tx) error {
		// Live rows first; backfill fills what room is left, when the pace allows it (the
		// lane claims only when one of them may go).
		var err error
		if rows, err = claimReady(ctx, tx, l.tenant, now, limit, dec.live, dec.backfill); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.id
		}
		if _, err := tx.Exec(ctx, startSQL, ids, now); err != nil {
			return err
		}
		mq, err := tx.Query(ctx, mappingsSQL, l.tenant)
		if err != nil {
			return err
		}
		for mq.Next() {
			var what, from, to string
			if err := mq.Scan(&what, &from, &to); err != nil {
				mq.Close()
				return err
			}
			switch what {
			case "account":
				m.accounts[from] = to
			case "tax":
				m.taxes[from] = to
			case "payment":
				m.payments[from] = to
			}
		}
		return mq.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return rows, m, nil
}

// claimReady claims up to limit ready heads: live ones (when live) before backfill ones (when
// backfill), each in id order.
func claimReady(ctx context.Context, tx pgx.Tx, tenant string, now time.Time, limit int, live, backfill bool) ([]*claimedRow, error) {
	q, err := tx.Query(ctx, claimSQL, tenant, now, limit, live, backfill)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(q, func(q pgx.CollectableRow) (*claimedRow, error) {
		r := &claimedRow{source: sourceWAL}
		var own, parent, code *string
		var fromBackfill bool
		if err := q.Scan(&r.id, &r.entity, &r.entityID, &r.action, &r.payload, &r.folded, &r.attempts,
			&r.generation, &r.reconcile, &code, &own, &parent, &fromBackfill); err != nil {
			return nil, err
		}
		if fromBackfill {
			r.source = sourceBackfill
		}
		if own != nil {
			r.ownXeroID = *own
		}
		if parent != nil {
			r.parentXeroID = *parent
		}
		if code != nil {
			r.lastCode = *code
		}
		r.attempts++
		return r, nil
	})
}

// outcome is the result of one row's attempt.
type outcome struct {
	row     *claimedRow
	state   string    // pending, done, failed
	nextAt  time.Time // pending: when to try again (zero: unchanged)
	code    string    // failed: SPEC code
	err     string    // failed, pending: the reason, Xero's own message where there is one
	xeroID  string    // done: the Xero id, when the action has one
	unknown bool      // pending: the outcome is unknown; reconcile first, new key after
	refund  bool      // the attempt did not happen (auth, shutdown): it does not count
	history map[string]any
	link    bool // done: store xeroID as the entity's link
}

// historyEntry is one element of the row's errors[] (River's per-attempt history).
func historyEntry(r *claimedRow, at time.Time, class, code, msg, key string) map[string]any {
	h := map[string]any{"attempt": r.attempts, "at": at.UTC().Format(time.RFC3339Nano), "class": class, "error": msg}
	if code != "" {
		h["code"] = code
	}
	if key != "" {
		h["idempotency_key"] = key
	}
	return h
}

// detached is a context for recording what already happened: it outlives the lane's
// cancellation, bounded by RecordTimeout.
func (l *lane) detached() (context.Context, context.CancelFunc) {
	return l.detachedFor(l.d.cfg.RecordTimeout)
}

func (l *lane) detachedFor(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(l.ctx), timeout)
}

// record writes outcomes (and the links they carry) in one transaction. It runs on a context
// of its own: an outcome is recorded even when the dispatcher is stopping, because it is the
// only durable trace of what Xero did. Outcomes that cannot be written now are kept and
// tried again (retryUnrecorded) until they are: their rows stay in_flight meanwhile, which
// holds back their entities and dependents, never sends them again.
func (l *lane) record(outs []outcome) {
	if len(outs) == 0 {
		return
	}
	if err := l.write(outs, l.d.cfg.RecordTimeout); err != nil {
		l.mu.Lock()
		l.unrecorded = append(l.unrecorded, outs...)
		l.mu.Unlock()
		l.log.Warn("outbox outcomes not recorded; trying again until they are", tint.Err(err),
			"outbox_ids", outcomeIDs(outs))
	}
}

// retryUnrecorded tries once more to write the outcomes record could not. It returns the
// outbox ids of those still unwritten.
func (l *lane) retryUnrecorded() []int64 {
	l.mu.Lock()
	outs := l.unrecorded
	l.unrecorded = nil
	l.mu.Unlock()
	if len(outs) == 0 {
		return nil
	}
	// A short try: the lane's other rows wait for it (a lock held by an operator would
	// otherwise stall the whole tenant for RecordTimeout at every cycle).
	if err := l.write(outs, min(l.d.cfg.RecordTimeout, 2*recordRetry)); err != nil {
		l.mu.Lock()
		l.unrecorded = append(outs, l.unrecorded...)
		l.mu.Unlock()
		l.log.Debug("outbox outcomes still not recorded", tint.Err(err), "rows", len(outs))
		return outcomeIDs(outs)
	}
	l.log.Info("outbox outcomes recorded after all", "outbox_ids", outcomeIDs(outs))
	return nil
}

func outcomeIDs(outs []outcome) []int64 {
	ids := make([]int64, len(outs))
	for i, o := range outs {
		ids[i] = o.row.id
	}
	return ids
}

// write records outcomes in one transaction within timeout, or returns why it could not.
func (l *lane) write(outs []outcome, timeout time.Duration) error {
	ctx, cancel := l.detachedFor(timeout)
	defer cancel()
	now := l.d.now()
	n := len(outs)
	var (
		ids      = make([]int64, n)
		attempts = make([]int32, n)
		states   = make([]string, n)
		nextAts  = make([]*time.Time, n)
		codes    = make([]*string, n)
		errs     = make([]*string, n)
		xeroIDs  = make([]*string, n)
		hist     = make([]*string, n)
		unknown  = make([]bool, n)
		refund   = make([]bool, n)
	)
	var linkEntities, linkIDs, linkXero []string
	for i, o := range outs {
		ids[i], attempts[i], states[i] = o.row.id, int32(o.row.attempts), o.state
		if !o.nextAt.IsZero() {
			t := o.nextAt
			nextAts[i] = &t
		}
		codes[i], errs[i], xeroIDs[i] = optional(o.code), optional(xero.Clip(o.err, 4000)), optional(o.xeroID)
		if o.history != nil {
			b, _ := json.Marshal(o.history) // strings and numbers only
			s := string(b)
			hist[i] = &s
		}
		unknown[i], refund[i] = o.unknown, o.refund
		if o.link && o.xeroID != "" {
			linkEntities = append(linkEntities, o.row.entity)
			linkIDs = append(linkIDs, o.row.entityID)
			linkXero = append(linkXero, o.xeroID)
		}
	}
	err := pgx.BeginFunc(ctx, l.d.cfg.DB, func(tx pgx.Tx) error {
		q, err := tx.Query(ctx, recordSQL, ids, attempts, states, nextAts, codes, errs, xeroIDs, hist, unknown, refund, now)
		if err != nil {
			return err
		}
		appliedIDs, err := pgx.CollectRows(q, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		applied := make(map[int64]bool, len(appliedIDs))
		for _, id := range appliedIDs {
			applied[id] = true
		}
		var folded []int64
		var foldedXero []*string
		for _, o := range outs {
			if !applied[o.row.id] {
				// Someone moved the row on meanwhile (it is no longer in_flight at our
				// attempt): their change stands. A link we learnt is still true.
				l.log.Warn("outbox row changed during its attempt: outcome not recorded", "outbox_id", o.row.id, "state", o.state)
				continue
			}
			if o.state == StateDone {
				// The snapshots the head was sent with are in Xero too.
				for _, id := range o.row.folded {
					folded, foldedXero = append(folded, id), append(foldedXero, optional(o.xeroID))
				}
			}
		}
		if len(folded) > 0 {
			if _, err := tx.Exec(ctx, foldSQL, folded, foldedXero, now); err != nil {
				return err
			}
		}
		if len(linkIDs) > 0 {
			if _, err := tx.Exec(ctx, linkSQL, linkEntities, linkIDs, l.tenant, linkXero, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record outbox outcomes: %w", err)
	}
	if f := l.d.cfg.OnOutcome; f != nil {
		for _, o := range outs {
			if !o.refund {
				f(o.row.entity, o.state, o.code)
			}
		}
	}
	for _, o := range outs {
		if o.state == StateFailed {
			l.log.Warn("outbox row failed", "outbox_id", o.row.id, "entity", o.row.entity,
				"entity_id", o.row.entityID, "action", o.row.action, "code", o.code, "error", o.err)
		}
	}
	return nil
}

// link stores an entity's Xero id at once (a contact linked by lookup, before its update is
// sent): a crash after this point must not look it up again and maybe link another.
func (l *lane) link(ctx context.Context, entity, entityID, xeroID string) error {
	_, err := l.d.cfg.DB.Exec(ctx, linkSQL, []string{entity}, []string{entityID}, l.tenant, []string{xeroID}, l.d.now())
	if err != nil {
		return fmt.Errorf("store link of %s %s: %w", entity, entityID, err)
	}
	return nil
}

// setKeys stores a request's Idempotency-Key on its rows before it is sent.
func (l *lane) setKeys(items []*item, key string) error {
	ctx, cancel := l.detached()
	defer cancel()
	ids := make([]int64, len(items))
	attempts := make([]int32, len(items))
	for i, it := range items {
		ids[i], attempts[i] = it.row.id, int32(it.row.attempts)
	}
	if _, err := l.d.cfg.DB.Exec(ctx, setKeysSQL, ids, attempts, key); err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
