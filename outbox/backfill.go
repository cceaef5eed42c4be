package outbox

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/backfill_candidates.sql
	backfillCandidatesSQL string
	//go:embed sql/backfill_lock.sql
	backfillLockSQL string
	//go:embed sql/backfill_invoices.sql
	backfillInvoicesSQL string
	//go:embed sql/backfill_payment_ids.sql
	backfillPaymentIDsSQL string
	//go:embed sql/backfill_payments.sql
	backfillPaymentsSQL string
	//go:embed sql/backfill_capture_position.sql
	backfillCapturePositionSQL string
)

const (
	// backfillBatch is how many invoices (or payments) one transaction queues: big enough
	// that a backfill of years takes few round trips, small enough that a batch holds its
	// locks for well under a second and a failure loses little work.
	backfillBatch = 500
	// DefaultCaptureWait bounds how long Backfill waits for capture to catch up before it
	// queues payments (see queuePayments). The daemon's heartbeat moves capture every 10–15 s.
	DefaultCaptureWait = 2 * time.Minute
	// sourceBackfill marks the rows Backfill queues (xerosync.outbox.source).
	sourceBackfill = "backfill"
)

// BackfillDB is what Backfill needs: a pool, since each batch is its own transaction.
type BackfillDB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// BackfillParams are one Backfill's arguments.
type BackfillParams struct {
	DB     BackfillDB
	Tenant string
	Since  xero.Date // invoices dated on or after it
	Slot   string    // capture's replication slot, whose stored position payments wait for
	// CaptureWait bounds the wait for capture before payments are queued;
	// 0: DefaultCaptureWait.
	CaptureWait time.Duration
	// Progress, when set, is called after each batch of a pass and once when the pass
	// ends (Finished), so a command can show how far it is.
	Progress func(BackfillProgress)
	// WaitingForCapture, when set, is called once when the payments must wait for capture
	// to read the WAL up to wal before they are queued.
	WaitingForCapture func(wal string, payments int)
}

// BackfillProgress is how far one pass of a backfill is.
type BackfillProgress struct {
	Pass        string // "invoices" or "payments"
	Done, Total int64
	Finished    bool // the pass is over; Done is its last count
}

// BackfillResult counts what a backfill queued. Backfill returns it with an error too: it then
// counts what was queued (and stays queued) before the error.
type BackfillResult struct {
	Invoices, Voids, Contacts, Payments int
	// Skipped counts invoices capture queued between backfill's read and its claim.
	Skipped int
	// InvoicesDone is whether the invoice pass finished: an error came from the payments.
	InvoicesDone bool
}

// Backfill queues the tenant's history in two passes: invoices (each after its customer's
// contact, when that was never queued or linked), then their payments. Both passes pick
// only what has no outbox row yet, so running backfill again queues nothing new, and an
// interrupted backfill resumes where it stopped. Its rows go through the enqueuer's writer
// (writeRows) and its invoice claims through the enqueuer's entity rule (claimInvoices),
// so "issue once" and "contact before invoice" are decided in this package alone.
func Backfill(ctx context.Context, p BackfillParams) (BackfillResult, error) {
	b := &backfill{p: p}
	b.p.CaptureWait = cmp.Or(b.p.CaptureWait, DefaultCaptureWait)
	if err := b.queueInvoices(ctx); err != nil {
		return b.res, err
	}
	b.res.InvoicesDone = true
	if err := b.queuePayments(ctx); err != nil {
		return b.res, err
	}
	return b.res, nil
}

// backfill is one run.
type backfill struct {
	p   BackfillParams
	res BackfillResult
}

func (b *backfill) progress(pass string, done, total int64, finished bool) {
	if b.p.Progress != nil {
		b.p.Progress(BackfillProgress{Pass: pass, Done: done, Total: total, Finished: finished})
	}
}

// queueInvoices claims and queues the invoices in batches, one transaction each.
func (b *backfill) queueInvoices(ctx context.Context) error {
	// The total, for progress, is the estimate's: one statement holds the candidates' rule
	// besides backfill_candidates.sql.
	est, err := EstimateBackfill(ctx, b.p.DB, b.p.Tenant, b.p.Since)
	if err != nil {
		return fmt.Errorf("count invoices: %w", err)
	}
	total := int64(est.Invoices)
	var afterDate, afterID *string
	done := int64(0)
	for {
		rows, err := b.p.DB.Query(ctx, backfillCandidatesSQL, b.p.Tenant, b.p.Since.String(), afterDate, afterID, backfillBatch)
		if err != nil {
			return fmt.Errorf("list invoices: %w", err)
		}
		type candidate struct{ ID, Date string }
		cands, err := pgx.CollectRows(rows, pgx.RowToStructByPos[candidate])
		if err != nil {
			return fmt.Errorf("list invoices: %w", err)
		}
		if len(cands) == 0 {
			break
		}
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.ID
		}
		if err := pgx.BeginFunc(ctx, b.p.DB, func(tx pgx.Tx) error { return b.invoiceBatch(ctx, tx, ids) }); err != nil {
			return err
		}
		done += int64(len(ids))
		b.progress("invoices", done, total, false)
		last := cands[len(cands)-1]
		afterDate, afterID = &last.Date, &last.ID
	}
	b.progress("invoices", done, total, true)
	return nil
}

// invoiceBatch queues one batch inside tx: claim, then the rows in issue-date order.
func (b *backfill) invoiceBatch(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, backfillLockSQL, b.p.Tenant); err != nil {
		return fmt.Errorf("lock the tenant's backfill: %w", err)
	}
	claimed, counts, err := queueClaimedInvoices(ctx, tx, b.p.Tenant, ids, sourceBackfill)
	if err != nil {
		return err
	}
	b.res.Skipped += len(ids) - claimed
	b.res.Invoices += counts.Invoices
	b.res.Voids += counts.Voids
	b.res.Contacts += counts.Contacts
	return nil
}

// queueClaimedInvoices claims ids (an invoice already issued is skipped: issue once), reads
// the claimed ones and the contacts they need, and writes their rows in order
// (planBackfillInvoices). Backfill and resync both queue invoices with it; source marks whose
// rows they are. It returns how many it claimed.
func queueClaimedInvoices(ctx context.Context, tx pgx.Tx, tenant string, ids []string, source string) (int, BackfillResult, error) {
	claimed, err := claimInvoices(ctx, tx, ids)
	if err != nil || len(claimed) == 0 {
		return 0, BackfillResult{}, err
	}
	invoices, err := readBackfillInvoices(ctx, tx, claimed)
	if err != nil {
		return 0, BackfillResult{}, err
	}
	contacts, err := readUnknownContacts(ctx, tx, invoices)
	if err != nil {
		return 0, BackfillResult{}, err
	}
	rows, counts, err := planBackfillInvoices(tenant, invoices, contacts, source)
	if err != nil {
		return 0, BackfillResult{}, err
	}
	return len(claimed), counts, writeRows(ctx, tx, rows)
}

// planBackfillInvoices decides the rows of claimed invoices, in their order: a customer's
// contact upsert before its first invoice (contacts holds only customers never queued nor
// linked), the issue, and for an invoice voided after its issue, the void. Backfill and
// resync both queue claimed invoices with it; source marks whose rows they are.
func planBackfillInvoices(tenant string, invoices []*backfillInvoice, contacts map[string]ContactFields, source string) ([]row, BackfillResult, error) {
	var rows []row
	var n BackfillResult
	queued := map[string]bool{}
	for _, inv := range invoices {
		if c, ok := contacts[inv.p.CustomerID]; ok && !queued[inv.p.CustomerID] {
			queued[inv.p.CustomerID] = true // once per customer
			body, hash := ContactUpsert(inv.p.CustomerID, c)
			rows = append(rows, row{tenant: tenant, entity: EntityContact, id: inv.p.CustomerID, action: ActionUpsert,
				body: body, hash: hash, source: source})
			n.Contacts++
		}
		body, err := json.Marshal(inv.p)
		if err != nil {
			return nil, n, fmt.Errorf("encode invoice %s: %w", inv.p.Number, err)
		}
		rows = append(rows, row{tenant: tenant, entity: EntityInvoice, id: inv.p.InvoiceID, action: ActionIssue,
			dependsEntity: EntityContact, dependsID: inv.p.CustomerID, body: body, source: source})
		n.Invoices++
		if inv.void {
			// Issued, then voided: Xero gets both, so its record of numbers has no gaps.
			void, err := voidRow(tenant, inv.p.InvoiceID, inv.p.Number, source)
			if err != nil {
				return nil, n, err
			}
			rows = append(rows, void)
			n.Voids++
		}
	}
	return rows, n, nil
}

// voidRow is the void of an issued invoice, waiting behind the invoice's earlier rows.
func voidRow(tenant, invoiceID, number, source string) (row, error) {
	body, err := json.Marshal(VoidPayload{InvoiceID: invoiceID, Number: number})
	if err != nil {
		return row{}, fmt.Errorf("encode void of %s: %w", number, err)
	}
	return row{tenant: tenant, entity: EntityInvoice, id: invoiceID, action: ActionVoid,
		dependsEntity: EntityInvoice, dependsID: invoiceID, body: body, source: source}, nil
}

// backfillInvoice is one claimed invoice.
type backfillInvoice struct {
	p    InvoicePayload
	void bool
}

func readBackfillInvoices(ctx context.Context, tx pgx.Tx, ids []string) ([]*backfillInvoice, error) {
	rows, err := tx.Query(ctx, backfillInvoicesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*backfillInvoice, error) {
		inv := &backfillInvoice{p: InvoicePayload{Lines: []InvoiceLine{}}}
		p := &inv.p
		if err := r.Scan(&p.InvoiceID, &p.CustomerID, &p.Number, &p.Status, &p.Currency, &p.IssueDate,
			&p.DueDate, &p.Reference, &p.AmountsTax); err != nil {
			return nil, err
		}
		if p.Status == "void" {
			// The payload is the invoice as it was issued; the void is its own row.
			inv.void, p.Status = true, "issued"
		}
		return inv, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	byID := make(map[string]*backfillInvoice, len(out))
	for _, inv := range out {
		byID[inv.p.InvoiceID] = inv
	}
	err = readInvoiceLines(ctx, tx, ids, func(id string, l InvoiceLine) {
		if inv := byID[id]; inv != nil {
			inv.p.Lines = append(inv.p.Lines, l)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readUnknownContacts returns the fields of the invoices' customers whose contact must be
// queued first: those never queued nor linked, decided as capture decides it (load's states,
// entityState.known), so "a contact before its first invoice" is one rule.
func readUnknownContacts(ctx context.Context, tx pgx.Tx, invoices []*backfillInvoice) (map[string]ContactFields, error) {
	customers := set{}
	for _, inv := range invoices {
		customers.add(inv.p.CustomerID)
	}
	l := &loaded{states: map[entityKey]*entityState{}}
	if err := l.loadStates(ctx, tx, customers.list(), nil); err != nil {
		return nil, err
	}
	var unknown []string
	for id := range customers {
		if st := l.states[entityKey{EntityContact, id}]; st == nil || !st.known() {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil, nil
	}
	if err := l.fetchCustomers(ctx, tx, unknown); err != nil {
		return nil, err
	}
	return l.customers, nil
}

// queuePayments queues the payments of the invoices whose issue is queued and that have no
// outbox row, after making sure capture will not queue them too.
//
// Capture queues a payment when it reads the payment's insert from the WAL and finds its
// invoice issued at that moment. An invoice backfill has just claimed was not issued when
// capture read the payments committed before the claim, so those were skipped and are
// ours; payments committed after the claim are capture's. Which side a listed payment is on
// depends on when capture reads it, not when it committed, because capture runs behind the
// database. So: list the payments and the WAL position W after them, wait until capture has
// read up to W (it has then decided about every listed payment, and queued those it
// queues), and queue only the listed payments that still have no row. A payment committed
// after the list is capture's alone, since the claim committed before it.
func (b *backfill) queuePayments(ctx context.Context) error {
	var ids []string
	var wal string
	if err := b.p.DB.QueryRow(ctx, backfillPaymentIDsSQL, b.p.Tenant, b.p.Since.String()).Scan(&ids, &wal); err != nil {
		return fmt.Errorf("list payments: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if err := b.waitForCapture(ctx, wal, len(ids)); err != nil {
		return err
	}
	total := int64(len(ids))
	for start := 0; start < len(ids); start += backfillBatch {
		batch := ids[start:min(start+backfillBatch, len(ids))]
		if err := pgx.BeginFunc(ctx, b.p.DB, func(tx pgx.Tx) error { return b.paymentBatch(ctx, tx, batch) }); err != nil {
			return err
		}
		b.progress("payments", int64(start+len(batch)), total, false)
	}
	b.progress("payments", total, total, true)
	return nil
}

// waitForCapture returns once capture's stored position reaches wal, or at once when
// capture has never run on this database (then nothing will read these payments from the
// WAL: the slot, when created, starts after them).
func (b *backfill) waitForCapture(ctx context.Context, wal string, n int) error {
	deadline := time.Now().Add(b.p.CaptureWait)
	told := false
	for {
		var pos *string
		var reached bool
		err := b.p.DB.QueryRow(ctx, backfillCapturePositionSQL, b.p.Slot, wal).Scan(&pos, &reached)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("read the capture position: %w", err)
		case reached:
			return nil
		}
		if time.Now().After(deadline) {
			at := "nothing"
			if pos != nil {
				at = cmp.Or(*pos, at)
			}
			return fmt.Errorf("%d payments are not queued yet: capture (slot %s) is at %s and has not read the WAL up to %s within %s, "+
				"so it might still queue some of them itself; is `xerosync run` running? once it is, run backfill again to queue them",
				n, b.p.Slot, at, wal, b.p.CaptureWait)
		}
		if !told && b.p.WaitingForCapture != nil {
			b.p.WaitingForCapture(wal, n)
		}
		told = true
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *backfill) paymentBatch(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, backfillLockSQL, b.p.Tenant); err != nil {
		return fmt.Errorf("lock the tenant's backfill: %w", err)
	}
	rows, err := paymentRows(ctx, tx, b.p.Tenant, ids, sourceBackfill)
	if err != nil {
		return err
	}
	b.res.Payments += len(rows)
	return writeRows(ctx, tx, rows)
}

// paymentRows reads the payments ids that are still neither in Xero nor queued
// (backfill_payments.sql) and makes their rows, in the order of ids; backfill and resync
// queue payments with it.
func paymentRows(ctx context.Context, tx pgx.Tx, tenant string, ids []string, source string) ([]row, error) {
	rs, err := tx.Query(ctx, backfillPaymentsSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	payments, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (PaymentPayload, error) {
		var p PaymentPayload
		err := r.Scan(&p.PaymentID, &p.InvoiceID, &p.Amount, &p.PaidOn, &p.Method, &p.Reference)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	rows := make([]row, 0, len(payments))
	for _, p := range payments {
		body, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payment %s: %w", p.PaymentID, err)
		}
		rows = append(rows, row{tenant: tenant, entity: EntityPayment, id: p.PaymentID, action: ActionPay,
			dependsEntity: EntityInvoice, dependsID: p.InvoiceID, body: body, source: source})
	}
	return rows, nil
}
