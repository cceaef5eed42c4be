// Command dayrun is issue #12's simulated day, end to end: the real daemon and the Xero
// simulator on one clock that runs -scale times as fast as the wall (internal/simclock), two
// organisations through one daemon, killed with SIGKILL every simulated hour and started
// again at once:
//
//   - a quiet organisation (Xero's 5,000 calls a day) receiving -quiet records over the day;
//   - a busy one on the Starter tier (1,000 calls a day) receiving -busy records.
//
// The busy organisation's day window starts with the run (the simulator's clock is moved to
// its start), so "the same day" is that window. Records are customers, invoices and payments
// (2:5:3), spread evenly over -window of the day. It reports, per organisation, the Xero
// calls spent, 429s, and each record's delay from its commit to its creation in Xero, in
// simulated time and in wall time: the pipeline's own work (capture, claim, HTTP) takes wall
// time whatever the scale, and pacing takes simulated time.
//
// scripts/bench runs it; its figures go in BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/internal/harness"
	"github.com/softbooq/xerosync/xero/xerosim"
)

type params struct {
	bin       string
	scale     float64
	quiet     int
	busy      int
	busyDay   int
	killEvery time.Duration
	lead      time.Duration
	window    time.Duration
	after     time.Duration
	seed      uint64
	verbose   bool
}

func main() {
	var p params
	flag.StringVar(&p.bin, "bin", "bin/xerosync", "the xerosync binary")
	flag.Float64Var(&p.scale, "scale", 96, "simulated seconds per wall second (96: a day in 15 minutes)")
	flag.IntVar(&p.quiet, "quiet", 200, "records the quiet organisation receives")
	flag.IntVar(&p.busy, "busy", 20_000, "records the busy (Starter) organisation receives")
	flag.IntVar(&p.busyDay, "busy-day-limit", 1000, "the busy organisation's calls a day (Starter: 1,000)")
	flag.DurationVar(&p.killEvery, "kill-every", time.Hour, "simulated time between SIGKILLs of the daemon (0: none)")
	flag.DurationVar(&p.lead, "lead", 10*time.Minute, "simulated time from the day's start to the first record (the daemon starts)")
	flag.DurationVar(&p.window, "window", 23*time.Hour+40*time.Minute, "simulated time the records are spread over")
	flag.DurationVar(&p.after, "after", 2*time.Hour, "simulated time after the day's end to wait for stragglers")
	flag.Uint64Var(&p.seed, "seed", 1, "seed of the workload")
	flag.BoolVar(&p.verbose, "v", false, "show the daemon's logs")
	flag.Parse()
	harness.Main("dayrun", func(ctx context.Context) error { return run(ctx, p) })
}

func logf(format string, args ...any) { harness.Logf(os.Stderr, format, args...) }

// org is one organisation's side of the run.
type org struct {
	name     string // quiet or busy
	orgName  string
	tenant   string // Softbooq tenant
	xeroID   string
	dayLimit int
	plan     []record
}

// record is one Softbooq write and when it was committed.
type record struct {
	kind      string // customer, invoice, payment
	due       time.Time
	committed time.Time // simulated
	key       string    // customer id (the ContactNumber), invoice number, payment reference
	parent    int       // the customer of an invoice, the invoice of a payment (index in plan)
	id        string    // Softbooq id, once written
}

func run(ctx context.Context, p params) error {
	var out io.Writer = io.Discard
	if p.verbose {
		out = os.Stderr
	}
	st, err := harness.Start(ctx, harness.Params{Bin: p.bin, Out: out, Sim: xerosim.Config{
		TimeScale: p.scale, ClientsShareClock: true, Seed: int64(p.seed),
	}})
	if err != nil {
		return err
	}
	defer st.Close()
	starter := xerosim.DefaultOrg("Tui Tours Ltd")
	starter.Class, starter.DayLimit = "STARTER", p.busyDay
	quiet := &org{name: "quiet", orgName: "Kiwi Kitchens Ltd", tenant: st.Tenants[0], xeroID: st.Org, dayLimit: 5000}
	busy := &org{name: "busy", orgName: starter.Name, tenant: st.Tenants[1], xeroID: st.Sim.MustAddOrg(starter), dayLimit: p.busyDay}
	addr, err := harness.FreeAddr()
	if err != nil {
		return err
	}
	cfg, err := st.Config("connect", addr)
	if err != nil {
		return err
	}
	for _, o := range []*org{quiet, busy} {
		if err := st.Connect(ctx, cfg, o.tenant, o.orgName); err != nil {
			return fmt.Errorf("connect %s: %w", o.name, err)
		}
	}
	// The busy organisation's day starts now: what connect spent was the day before.
	now := st.Sim.Now()
	t0 := st.Sim.DayWindowStart(busy.xeroID).Add(24 * time.Hour)
	st.Sim.Advance(t0.Sub(now))
	dayEnd := t0.Add(24 * time.Hour)
	logf("simulated day %s → %s at %g×; %d and %d records; a kill -9 every %s", t0.Format(time.RFC3339), dayEnd.Format(time.RFC3339),
		p.scale, quiet.records(p), busy.records(p), p.killEvery)

	rng := rand.New(rand.NewPCG(p.seed, 3))
	for _, o := range []*org{quiet, busy} {
		o.plan = makePlan(rng, o.records(p), t0.Add(p.lead), p.window)
	}
	d, err := st.StartDaemon(ctx, "a")
	if err != nil {
		return err
	}
	defer func() { d.Stop() }()
	began := time.Now()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	written := make(chan error, 2)
	for _, o := range []*org{quiet, busy} {
		go func() { written <- write(wctx, st, o) }()
	}
	kills := 0
	pending := 2
	nextKill := t0.Add(p.killEvery)
	for pending > 0 || st.Sim.Now().Before(dayEnd) {
		wait := 500 * time.Millisecond
		if p.killEvery > 0 && nextKill.Before(dayEnd) {
			wait = min(wait, wallUntil(st, nextKill))
		}
		select {
		case err := <-written:
			if err != nil {
				return err
			}
			pending--
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if p.killEvery > 0 && nextKill.Before(dayEnd) && !st.Sim.Now().Before(nextKill) {
			d.Kill()
			kills++
			if d, err = st.StartDaemon(ctx, "a"); err != nil {
				return err
			}
			nextKill = nextKill.Add(p.killEvery)
			if kills%6 == 0 {
				logf("%d kills; simulated %s", kills, st.Sim.Now().Format("15:04"))
			}
		}
	}
	logf("day over after %s of wall time; waiting for the outbox to drain (at most %s simulated)", time.Since(began).Round(time.Second), p.after)
	if err := st.Drained(ctx, st.Clock().Wall(p.after)); err != nil {
		logf("%v", err)
	}
	return report(st, p, []*org{quiet, busy}, t0, dayEnd, kills, time.Since(began))
}

func (o *org) records(p params) int {
	if o.name == "busy" {
		return p.busy
	}
	return p.quiet
}

// wallUntil is the wall time until the simulator's clock reads t.
func wallUntil(st *harness.Stack, t time.Time) time.Duration {
	return max(st.Clock().Wall(t.Sub(st.Sim.Now())), 0)
}

// makePlan spreads n records evenly over window from start: customers, invoices and
// payments 2:5:3, each invoice for an earlier customer, each payment for an earlier invoice
// not yet paid.
func makePlan(rng *rand.Rand, n int, start time.Time, window time.Duration) []record {
	kinds := []string{"customer", "invoice", "invoice", "payment", "customer", "invoice", "payment", "invoice", "invoice", "payment"}
	var customers, unpaid []int
	plan := make([]record, 0, n)
	for i := range n {
		r := record{kind: kinds[i%len(kinds)], due: start.Add(window * time.Duration(i) / time.Duration(n))}
		switch {
		case r.kind == "invoice" && len(customers) > 0:
			r.parent = customers[rng.IntN(len(customers))]
			r.key = fmt.Sprintf("D-%06d", i)
			unpaid = append(unpaid, i)
		case r.kind == "payment" && len(unpaid) > 0:
			j := rng.IntN(len(unpaid))
			r.parent = unpaid[j]
			unpaid = slices.Delete(unpaid, j, j+1)
			r.key = fmt.Sprintf("D-%06d/P1", r.parent)
		default:
			r.kind = "customer"
			customers = append(customers, i)
		}
		plan = append(plan, r)
	}
	return plan
}

// write commits o's records, each when the simulator's clock reaches its due time.
func write(ctx context.Context, st *harness.Stack, o *org) error {
	for i := range o.plan {
		r := &o.plan[i]
		if w := wallUntil(st, r.due); w > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(w):
			}
		}
		var err error
		switch r.kind {
		case "customer":
			err = st.DB.QueryRow(ctx, `INSERT INTO crm.customers (tenant_id, name, email, country_code)
				VALUES ($1, $2, $3, 'NZ') RETURNING id::text`, o.tenant, fmt.Sprintf("Day customer %d", i),
				fmt.Sprintf("day%d@%s.example", i, o.name)).Scan(&r.id)
			r.key = r.id
		case "invoice":
			err = writeInvoice(ctx, st.DB, o.tenant, o.plan[r.parent].id, r)
		case "payment":
			_, err = st.DB.Exec(ctx, `INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method, reference)
				VALUES ($1, $2, 10.00, current_date, 'card', $3)`, o.tenant, o.plan[r.parent].id, r.key)
		}
		if err != nil {
			return fmt.Errorf("%s record %d (%s): %w", o.name, i, r.kind, err)
		}
		r.committed = st.Sim.Now()
	}
	return nil
}

func writeInvoice(ctx context.Context, db *pgxpool.Pool, tenant, customer string, r *record) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date, due_date, issued_at)
		VALUES ($1, $2, $3, 'issued', 'NZD', current_date, current_date + 30, now()) RETURNING id::text`, tenant, customer, r.key).Scan(&r.id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category, tax_component)
		VALUES ($1, $2, 1, 'Platters', 3, 19.99, 'catering', 'GST15')`, r.id, tenant); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// outcome is what one organisation's run came to.
type outcome struct {
	delays          []time.Duration // simulated, commit → created in Xero
	missing, twice  int
	byDayEnd        int
	lastIn          time.Time
	calls, callsDay int
	tooMany         int
	recordsByKind   map[string]int
	firstMissing    string
}

func measure(st *harness.Stack, o *org, t0, dayEnd time.Time) outcome {
	sim := st.Sim
	res := outcome{recordsByKind: map[string]int{}}
	created := map[string]time.Time{}
	for _, c := range sim.Contacts(o.xeroID) {
		created["customer "+c.ContactNumber] = c.Created
	}
	invoiceIDs := map[string]string{}
	for _, inv := range sim.Invoices(o.xeroID) {
		created["invoice "+inv.InvoiceNumber] = inv.Created
		invoiceIDs[inv.InvoiceNumber] = inv.InvoiceID
	}
	for _, pay := range sim.Payments(o.xeroID) {
		created["payment "+pay.Reference] = pay.Created
	}
	for _, r := range o.plan {
		res.recordsByKind[r.kind]++
		var n int
		switch r.kind {
		case "customer":
			n = sim.ContactCreations(o.xeroID, r.key)
		case "invoice":
			n = sim.InvoiceCreations(o.xeroID, r.key)
		case "payment":
			n = sim.PaymentCreations(o.xeroID, invoiceIDs[o.plan[r.parent].key], r.key)
		}
		at, ok := created[r.kind+" "+r.key]
		switch {
		case n == 0 || !ok:
			res.missing++
			if res.firstMissing == "" {
				res.firstMissing = r.kind + " " + r.key
			}
			continue
		case n > 1:
			res.twice++
		}
		res.delays = append(res.delays, at.Sub(r.committed))
		if at.Before(dayEnd) {
			res.byDayEnd++
		}
		if at.After(res.lastIn) {
			res.lastIn = at
		}
	}
	for _, req := range sim.Requests() {
		if !strings.EqualFold(req.TenantID, o.xeroID) || !strings.HasPrefix(req.Path, "/api.xro/") {
			continue
		}
		if req.Status == 429 {
			res.tooMany++
			continue
		}
		res.calls++
		if !req.Time.Before(t0) && req.Time.Before(dayEnd) {
			res.callsDay++
		}
	}
	return res
}

func report(st *harness.Stack, p params, orgs []*org, t0, dayEnd time.Time, kills int, wall time.Duration) error {
	res := make([]outcome, len(orgs))
	for i, o := range orgs {
		res[i] = measure(st, o, t0, dayEnd)
	}
	row := func(label string, f func(o *org, r outcome) string) {
		fmt.Printf("| %s | %s | %s |\n", label, f(orgs[0], res[0]), f(orgs[1], res[1]))
	}
	wallOf := st.Clock().Wall
	fmt.Printf("Simulated day at %g× (%s of wall time), one daemon, kill -9 every %s of simulated time: %d kills.\n\n", p.scale, wall.Round(time.Second), p.killEvery, kills)
	fmt.Printf("| | quiet | busy |\n|---|---|---|\n")
	row("organisation", func(o *org, _ outcome) string { return fmt.Sprintf("%s, %d calls a day", o.orgName, o.dayLimit) })
	row("records (customers / invoices / payments)", func(o *org, r outcome) string {
		return fmt.Sprintf("%d (%d / %d / %d)", len(o.plan), r.recordsByKind["customer"], r.recordsByKind["invoice"], r.recordsByKind["payment"])
	})
	row("Xero calls (records a call)", func(o *org, r outcome) string {
		return fmt.Sprintf("%d (%.1f)", r.calls, float64(len(o.plan))/float64(max(r.calls, 1)))
	})
	row("calls in the day window / day limit", func(o *org, r outcome) string {
		if o.name != "busy" {
			return "—"
		}
		return fmt.Sprintf("%d / %d (at least %d left)", r.callsDay, o.dayLimit, o.dayLimit-r.callsDay)
	})
	row("429s", func(_ *org, r outcome) string { return fmt.Sprint(r.tooMany) })
	row("delay commit → in Xero, simulated: p50 / p99 / max", func(_ *org, r outcome) string {
		return fmt.Sprintf("%s / %s / %s", pct(r.delays, .5).Round(time.Second), pct(r.delays, .99).Round(time.Second), pct(r.delays, 1).Round(time.Second))
	})
	row("the same in wall time", func(_ *org, r outcome) string {
		return fmt.Sprintf("%s / %s / %s", wallOf(pct(r.delays, .5)).Round(time.Millisecond), wallOf(pct(r.delays, .99)).Round(time.Millisecond),
			wallOf(pct(r.delays, 1)).Round(time.Millisecond))
	})
	row("records over 2 s of wall time", func(_ *org, r outcome) string {
		n := 0
		for _, d := range r.delays {
			if wallOf(d) > 2*time.Second {
				n++
			}
		}
		return fmt.Sprint(n)
	})
	row("in Xero by the day's end", func(o *org, r outcome) string {
		return fmt.Sprintf("%d of %d (last %s after the day's start)", r.byDayEnd, len(o.plan), r.lastIn.Sub(t0).Round(time.Second))
	})
	row("not in Xero when the run ended / created twice", func(_ *org, r outcome) string { return fmt.Sprintf("%d / %d", r.missing, r.twice) })
	var bad []string
	for i, r := range res {
		if r.missing > 0 || r.twice > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d not in Xero when the run ended (e.g. %s), %d created twice", orgs[i].name, r.missing, r.firstMissing, r.twice))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
