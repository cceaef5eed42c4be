package daemon

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/backfill_count.sql
	backfillCountSQL string
	//go:embed sql/backfill_candidates.sql
	backfillCandidatesSQL string
	//go:embed sql/backfill_lock.sql
	backfillLockSQL string
	//go:embed sql/backfill_claim.sql
	backfillClaimSQL string
	//go:embed sql/backfill_invoices.sql
	backfillInvoicesSQL string
	//go:embed sql/backfill_customers.sql
	backfillCustomersSQL string
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
	// captureWait bounds how long backfill waits for capture to catch up before it queues
	// payments (see queuePayments). The daemon's heartbeat moves capture every 10–15 s.
	captureWait = 2 * time.Minute
)

// backfillOutboxColumns are the columns backfill writes; the rest take their defaults.
// commit_lsn and commit_idx stay NULL: backfilled rows come from no WAL position.
var backfillOutboxColumns = []string{"tenant_id", "entity", "entity_id", "action", "depends_entity",
	"depends_entity_id", "payload", "payload_hash", "source"}

func backfillFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	tenant := tenantFlag(fs)
	since := fs.String("since", "", "queue invoices issued on or after `DATE` (YYYY-MM-DD; default: the start of the current Xero financial year)")
	force := fs.Bool("force", false, "queue invoices dated inside Xero's period or end-of-year lock too")
	return func(ctx context.Context) error {
		if err := checkTenant("backfill", tenant, true); err != nil {
			return err
		}
		p := backfillParams{tenant: *tenant, force: *force}
		if *since != "" {
			t, err := time.Parse(time.DateOnly, *since)
			if err != nil {
				return usagef("backfill", "backfill: --since %q is not a date (YYYY-MM-DD)", *since)
			}
			d := xero.DateOf(t)
			p.since = &d
		}
		return runBackfill(ctx, inv, p)
	}
}

// backfillParams are one backfill's flags.
type backfillParams struct {
	tenant string
	since  *xero.Date // nil: the start of the current financial year
	force  bool
}

// backfill is one run: its counts make the summary.
type backfill struct {
	s      *xeroSession
	tenant string
	since  xero.Date
	out    io.Writer
	errw   io.Writer

	invoices, voids, contacts, payments int
	skipped                             int // claimed by capture between our read and our claim
}

// runBackfill queues the tenant's history in two passes: invoices (each after its customer's
// contact, when that was never queued or linked), then their payments. Both passes pick
// only what has no outbox row yet, so running backfill again queues nothing new, and an
// interrupted backfill resumes where it stopped.
func runBackfill(ctx context.Context, inv *invocation, p backfillParams) error {
	s, err := openXero(ctx, inv)
	if err != nil {
		return err
	}
	defer s.close()
	_, org, err := s.connectedOrg(ctx, "backfill", p.tenant)
	if err != nil {
		return err
	}
	o, err := org.Organisation(ctx)
	if err != nil {
		return fmt.Errorf("backfill: read the Xero organisation (financial year, lock dates): %w", err)
	}
	since := o.FinancialYearStart(xero.DateOf(time.Now()))
	if p.since != nil {
		since = *p.since
	}
	if err := checkBackfillLock(inv.p.Stdout, o, since, p.force, p.since != nil); err != nil {
		return err
	}
	b := &backfill{s: s, tenant: p.tenant, since: since, out: inv.p.Stdout, errw: inv.p.Stderr}
	if err := b.queueInvoices(ctx); err != nil {
		return fmt.Errorf("backfill: %w; what was queued before this stays queued, and running backfill again continues from there", err)
	}
	if err := b.queuePayments(ctx); err != nil {
		return fmt.Errorf("backfill: %d invoices queued, but payments: %w", b.invoices, err)
	}
	b.summary(o.Name)
	return nil
}

// checkBackfillLock refuses a start date on or before a Xero lock date, naming the lock:
// every document dated there would fail with PeriodLocked. The end-of-year lock binds
// everyone; the period lock binds all but advisers, whose role the API does not show
// (XERO.md §8), so both count.
func checkBackfillLock(out io.Writer, o xero.Organisation, since xero.Date, force, explicit bool) error {
	lock := o.LockDate() // the later of the two binds
	if lock.IsZero() || since.After(lock) {
		return nil
	}
	name := "period lock date"
	if lock == o.EndOfYearLockDate {
		name = "end of year lock date"
	}
	if force {
		fmt.Fprintf(out, "warning: %s is on or before Xero's %s %s; invoices and payments dated on or before it will fail with PeriodLocked unless the authorising user is an adviser (--force)\n",
			since, name, lock)
		return nil
	}
	from := "--since " + since.String()
	if !explicit {
		from = "the start of the financial year (" + since.String() + ")"
	}
	next := xero.DateOf(lock.Time(time.UTC).AddDate(0, 0, 1))
	return fmt.Errorf("backfill: %s is on or before the Xero organisation's %s, %s, and Xero refuses documents dated on or before it; "+
		"backfill from --since %s or later, or add --force to queue them anyway (they fail with PeriodLocked unless the authorising user is an adviser); nothing was queued",
		from, name, lock, next)
}

// queueInvoices claims and queues the invoices in batches, one transaction each.
func (b *backfill) queueInvoices(ctx context.Context) error {
	var total int64
	if err := b.s.pool.QueryRow(ctx, backfillCountSQL, b.tenant, b.since.String()).Scan(&total); err != nil {
		return fmt.Errorf("count invoices: %w", err)
	}
	prog := newProgress(b.errw, "invoices", total)
	var afterDate, afterID *string
	done := int64(0)
	for {
		rows, err := b.s.pool.Query(ctx, backfillCandidatesSQL, b.tenant, b.since.String(), afterDate, afterID, backfillBatch)
		if err != nil {
			return fmt.Errorf("list invoices: %w", err)
		}
		var ids []string
		var lastDate, lastID string
		for rows.Next() {
			if err := rows.Scan(&lastID, &lastDate); err != nil {
				rows.Close()
				return fmt.Errorf("list invoices: %w", err)
			}
			ids = append(ids, lastID)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list invoices: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		if err := pgx.BeginFunc(ctx, b.s.pool, func(tx pgx.Tx) error { return b.invoiceBatch(ctx, tx, ids) }); err != nil {
			return err
		}
		done += int64(len(ids))
		prog.update(done)
		afterDate, afterID = &lastDate, &lastID
	}
	prog.finish()
	return nil
}

// invoiceBatch queues one batch inside tx: claim, then the rows in issue-date order.
func (b *backfill) invoiceBatch(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, backfillLockSQL, b.tenant); err != nil {
		return fmt.Errorf("lock the tenant's backfill: %w", err)
	}
	claimed, err := collectStrings(tx.Query(ctx, backfillClaimSQL, ids))
	if err != nil {
		return fmt.Errorf("claim invoices: %w", err)
	}
	b.skipped += len(ids) - len(claimed)
	if len(claimed) == 0 {
		return nil
	}
	invoices, err := readInvoices(ctx, tx, claimed)
	if err != nil {
		return err
	}
	customers := make([]string, 0, len(invoices))
	for _, inv := range invoices {
		customers = append(customers, inv.p.CustomerID)
	}
	contacts, err := readContacts(ctx, tx, customers)
	if err != nil {
		return err
	}

	var rows [][]any
	add := func(entity, id, action, depEntity, depID string, body, hash []byte) {
		var de, di any
		if depEntity != "" {
			de, di = depEntity, depID
		}
		var h any
		if hash != nil {
			h = hash
		}
		rows = append(rows, []any{b.tenant, entity, id, action, de, di, body, h, "backfill"})
	}
	for _, inv := range invoices {
		if c, ok := contacts[inv.p.CustomerID]; ok {
			delete(contacts, inv.p.CustomerID) // once per customer
			body, hash := outbox.ContactUpsert(inv.p.CustomerID, c)
			add(outbox.EntityContact, inv.p.CustomerID, outbox.ActionUpsert, "", "", body, hash)
			b.contacts++
		}
		body, err := json.Marshal(inv.p)
		if err != nil {
			return fmt.Errorf("encode invoice %s: %w", inv.p.Number, err)
		}
		add(outbox.EntityInvoice, inv.p.InvoiceID, outbox.ActionIssue, outbox.EntityContact, inv.p.CustomerID, body, nil)
		b.invoices++
		if inv.void {
			// Issued, then voided: Xero gets both, so its record of numbers has no gaps.
			body, err := json.Marshal(outbox.VoidPayload{InvoiceID: inv.p.InvoiceID, Number: inv.p.Number})
			if err != nil {
				return fmt.Errorf("encode void of %s: %w", inv.p.Number, err)
			}
			add(outbox.EntityInvoice, inv.p.InvoiceID, outbox.ActionVoid, outbox.EntityInvoice, inv.p.InvoiceID, body, nil)
			b.voids++
		}
	}
	return b.write(ctx, tx, rows)
}

// write COPYs the rows (identity ids follow the order of rows) and wakes the dispatcher
// when tx commits.
func (b *backfill) write(ctx context.Context, tx pgx.Tx, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"xerosync", "outbox"}, backfillOutboxColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("insert outbox rows: %w", err)
	}
	return outbox.Notify(ctx, tx, []string{b.tenant})
}

// backfillInvoice is one claimed invoice.
type backfillInvoice struct {
	p    outbox.InvoicePayload
	void bool
}

func readInvoices(ctx context.Context, tx pgx.Tx, ids []string) ([]*backfillInvoice, error) {
	rows, err := tx.Query(ctx, backfillInvoicesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	var out []*backfillInvoice
	byID := map[string]*backfillInvoice{}
	for rows.Next() {
		inv := &backfillInvoice{p: outbox.InvoicePayload{Lines: []outbox.InvoiceLine{}}}
		p := &inv.p
		if err := rows.Scan(&p.InvoiceID, &p.CustomerID, &p.Number, &p.Status, &p.Currency, &p.IssueDate,
			&p.DueDate, &p.Reference, &p.AmountsTax); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read invoices: %w", err)
		}
		if p.Status == "void" {
			// The payload is the invoice as it was issued; the void is its own row.
			inv.void, p.Status = true, "issued"
		}
		out = append(out, inv)
		byID[p.InvoiceID] = inv
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	err = outbox.ReadInvoiceLines(ctx, tx, ids, func(id string, l outbox.InvoiceLine) {
		if inv := byID[id]; inv != nil {
			inv.p.Lines = append(inv.p.Lines, l)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readContacts returns the fields of the customers whose contact must be queued first.
func readContacts(ctx context.Context, tx pgx.Tx, ids []string) (map[string]outbox.ContactFields, error) {
	rows, err := tx.Query(ctx, backfillCustomersSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	defer rows.Close()
	out := map[string]outbox.ContactFields{}
	for rows.Next() {
		var id string
		var f outbox.ContactFields
		if err := rows.Scan(&id, &f.Name, &f.FirstName, &f.LastName, &f.Email, &f.Phone, &f.TaxNumber,
			&f.AddressLine1, &f.AddressLine2, &f.City, &f.Region, &f.PostalCode, &f.CountryCode, &f.Archived); err != nil {
			return nil, fmt.Errorf("read customers: %w", err)
		}
		out[id] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	return out, nil
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
	if err := b.s.pool.QueryRow(ctx, backfillPaymentIDsSQL, b.tenant, b.since.String()).Scan(&ids, &wal); err != nil {
		return fmt.Errorf("list payments: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if err := b.waitForCapture(ctx, wal, len(ids)); err != nil {
		return err
	}
	prog := newProgress(b.errw, "payments", int64(len(ids)))
	for start := 0; start < len(ids); start += backfillBatch {
		batch := ids[start:min(start+backfillBatch, len(ids))]
		if err := pgx.BeginFunc(ctx, b.s.pool, func(tx pgx.Tx) error { return b.paymentBatch(ctx, tx, batch) }); err != nil {
			return err
		}
		prog.update(int64(start + len(batch)))
	}
	prog.finish()
	return nil
}

// waitForCapture returns once capture's stored position reaches wal, or at once when
// capture has never run on this database (then nothing will read these payments from the
// WAL: the slot, when created, starts after them).
func (b *backfill) waitForCapture(ctx context.Context, wal string, n int) error {
	slot := b.s.cfg.Database.Slot
	deadline := time.Now().Add(captureWait)
	told := false
	for {
		var pos *string
		var reached bool
		err := b.s.pool.QueryRow(ctx, backfillCapturePositionSQL, slot, wal).Scan(&pos, &reached)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("read the capture position: %w", err)
		case reached:
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d payments are not queued yet: capture (slot %s) is at %s and has not read the WAL up to %s within %s, "+
				"so it might still queue some of them itself; is `xerosync run` running? once it is, run backfill again to queue them",
				n, slot, cmp.Or(deref(pos), "nothing"), wal, captureWait)
		}
		if !told {
			fmt.Fprintf(b.errw, "waiting for capture to reach %s before queueing %d payments (so none is queued twice)\n", wal, n)
			told = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *backfill) paymentBatch(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, backfillLockSQL, b.tenant); err != nil {
		return fmt.Errorf("lock the tenant's backfill: %w", err)
	}
	rs, err := tx.Query(ctx, backfillPaymentsSQL, ids)
	if err != nil {
		return fmt.Errorf("read payments: %w", err)
	}
	var rows [][]any
	for rs.Next() {
		var p outbox.PaymentPayload
		if err := rs.Scan(&p.PaymentID, &p.InvoiceID, &p.Amount, &p.PaidOn, &p.Method, &p.Reference); err != nil {
			rs.Close()
			return fmt.Errorf("read payments: %w", err)
		}
		body, err := json.Marshal(p)
		if err != nil {
			rs.Close()
			return fmt.Errorf("encode payment %s: %w", p.PaymentID, err)
		}
		rows = append(rows, []any{b.tenant, outbox.EntityPayment, p.PaymentID, outbox.ActionPay,
			outbox.EntityInvoice, p.InvoiceID, body, nil, "backfill"})
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read payments: %w", err)
	}
	b.payments += len(rows)
	return b.write(ctx, tx, rows)
}

func (b *backfill) summary(org string) {
	w := b.out
	if b.invoices+b.payments+b.contacts == 0 {
		fmt.Fprintf(w, "nothing to backfill for tenant %s since %s: every issued invoice and its payments are already queued\n", b.tenant, b.since)
		return
	}
	voids := ""
	if b.voids > 0 {
		voids = fmt.Sprintf(" (%s of them voided after issue, queued as issue then void)", thousands(int64(b.voids)))
	}
	fmt.Fprintf(w, "backfill of tenant %s since %s: queued %s invoices%s, %s contacts and %s payments for %q\n",
		b.tenant, b.since, thousands(int64(b.invoices)), voids, thousands(int64(b.contacts)), thousands(int64(b.payments)), org)
	if b.skipped > 0 {
		fmt.Fprintf(w, "%s invoices were queued by capture meanwhile and skipped\n", thousands(int64(b.skipped)))
	}
	fmt.Fprintf(w, "a running daemon pushes them in order; follow it with: xerosync status --tenant %s\n", b.tenant)
}

// progress shows how far a pass is: a bar redrawn in place on a terminal, otherwise one
// plain line per batch (logs and pipes get no control characters).
type progress struct {
	w     io.Writer
	tty   bool
	what  string
	total int64
	shown bool
}

func newProgress(w io.Writer, what string, total int64) *progress {
	return &progress{w: w, tty: isTerminal(w), what: what, total: total}
}

func (p *progress) update(done int64) {
	p.shown = true
	if !p.tty {
		fmt.Fprintf(p.w, "queued %s/%s %s\n", thousands(done), thousands(p.total), p.what)
		return
	}
	const width = 30
	filled := width
	if p.total > 0 {
		filled = int(min(done, p.total) * width / p.total)
	}
	fmt.Fprintf(p.w, "\r[%s%s] %s/%s %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		thousands(done), thousands(p.total), p.what)
}

func (p *progress) finish() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
}

// thousands formats n with comma separators: 2,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// collectStrings reads a one-column text result.
func collectStrings(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
