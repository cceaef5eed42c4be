package daemon

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
)

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

// runBackfill queues the tenant's history (outbox.Backfill says how) once the start date
// passes the organisation's lock dates, showing progress on stderr and a summary on stdout.
func runBackfill(ctx context.Context, inv *invocation, p backfillParams) error {
	s, err := openXero(ctx, inv)
	if err != nil {
		return err
	}
	defer s.close()
	sc, org, err := s.connectedOrg(ctx, "backfill", p.tenant)
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
	warning, err := checkBackfillLock(o, since, p.force, p.since != nil)
	if err != nil {
		return err
	}
	if warning != "" {
		fmt.Fprintln(inv.p.Stdout, warning)
	}
	// What it will cost and how long it will take, before anything is queued.
	est, err := outbox.EstimateBackfill(ctx, s.pool, p.tenant, since)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	if est.Invoices > 0 {
		fmt.Fprintln(inv.p.Stdout, backfillEstimateLine(est, s.client.Budgets(sc.XeroTenantID), s.cfg.Xero.LiveShare))
	}
	errw := inv.p.Stderr
	var prog *progress // the pass being shown
	res, err := outbox.Backfill(ctx, outbox.BackfillParams{
		DB:     s.pool,
		Tenant: p.tenant,
		Since:  since,
		Slot:   s.cfg.Database.Slot,
		Progress: func(bp outbox.BackfillProgress) {
			if prog == nil || prog.what != bp.Pass {
				prog = newProgress(errw, bp.Pass, bp.Total)
			}
			if bp.Finished {
				prog.finish()
				prog = nil
				return
			}
			prog.update(bp.Done)
		},
		WaitingForCapture: func(wal string, n int) {
			fmt.Fprintf(errw, "waiting for capture to reach %s before queueing %d payments (so none is queued twice)\n", wal, n)
		},
	})
	switch {
	case err != nil && !res.InvoicesDone:
		return fmt.Errorf("backfill: %w; what was queued before this stays queued, and running backfill again continues from there", err)
	case err != nil:
		return fmt.Errorf("backfill: %d invoices queued, but payments: %w", res.Invoices, err)
	}
	backfillSummary(inv.p.Stdout, p.tenant, since, o.Name, res)
	return nil
}

// backfillEstimateLine says what a backfill will cost in Xero calls and how long it takes at
// the organisation's limits: 60 calls a minute, and the part of its day (as its last answer
// showed it: 1,000 on Starter, 5,000 otherwise) that xero.live_share leaves to backfill.
func backfillEstimateLine(e outbox.BackfillEstimate, b xero.BudgetSnapshot, liveShare float64) string {
	limit, seen := b.DayLimit, "as Xero reports it"
	if limit <= 0 {
		limit, seen = 5000, "assumed: Xero did not say"
	}
	d := e.Duration(limit, b.DayRemaining, liveShare)
	return fmt.Sprintf("estimate: %s invoices, %s new contacts and %s payments cost about %s Xero calls "+
		"(batches of 50, and a contact directory refresh per 50 contacts); at 60 calls a minute and %.0f %% of %s calls a day (%s) for backfill, about %s",
		thousands(int64(e.Invoices)), thousands(int64(e.Contacts)), thousands(int64(e.Payments)), thousands(int64(e.Calls())),
		100*(1-liveShare), thousands(int64(limit)), seen, durationText(d))
}

// durationText is a duration as a person reads it: "40s", "3m", "2h30m", "3 days".
func durationText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%.0f days", math.Ceil(d.Hours()/24))
}

// checkBackfillLock refuses a start date on or before a Xero lock date, naming the lock:
// every document dated there would fail with PeriodLocked. The end-of-year lock binds
// everyone; the period lock binds all but advisers, whose role the API does not show
// (XERO.md §8), so both count. With force it returns the warning to print instead. It is
// pure, so the rule is tested without a terminal (TestCheckBackfillLock).
func checkBackfillLock(o xero.Organisation, since xero.Date, force, explicit bool) (warning string, err error) {
	lock := o.LockDate() // the later of the two binds
	if lock.IsZero() || since.After(lock) {
		return "", nil
	}
	name := "period lock date"
	if lock == o.EndOfYearLockDate {
		name = "end of year lock date"
	}
	if force {
		return fmt.Sprintf("warning: %s is on or before Xero's %s %s; invoices and payments dated on or before it will fail with PeriodLocked unless the authorising user is an adviser (--force)",
			since, name, lock), nil
	}
	from := "--since " + since.String()
	if !explicit {
		from = "the start of the financial year (" + since.String() + ")"
	}
	next := xero.DateOf(lock.Time(time.UTC).AddDate(0, 0, 1))
	return "", fmt.Errorf("backfill: %s is on or before the Xero organisation's %s, %s, and Xero refuses documents dated on or before it; "+
		"backfill from --since %s or later, or add --force to queue them anyway (they fail with PeriodLocked unless the authorising user is an adviser); nothing was queued",
		from, name, lock, next)
}

// backfillSummary prints what a backfill queued.
func backfillSummary(w io.Writer, tenant string, since xero.Date, org string, b outbox.BackfillResult) {
	if b.Invoices+b.Payments+b.Contacts == 0 {
		fmt.Fprintf(w, "nothing to backfill for tenant %s since %s: every issued invoice and its payments are already queued\n", tenant, since)
		return
	}
	voids := ""
	if b.Voids > 0 {
		voids = fmt.Sprintf(" (%s of them voided after issue, queued as issue then void)", thousands(int64(b.Voids)))
	}
	fmt.Fprintf(w, "backfill of tenant %s since %s: queued %s invoices%s, %s contacts and %s payments for %q\n",
		tenant, since, thousands(int64(b.Invoices)), voids, thousands(int64(b.Contacts)), thousands(int64(b.Payments)), org)
	if b.Skipped > 0 {
		fmt.Fprintf(w, "%s invoices were queued by capture meanwhile and skipped\n", thousands(int64(b.Skipped)))
	}
	fmt.Fprintf(w, "a running daemon pushes them in order; follow it with: xerosync status --tenant %s\n", tenant)
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
