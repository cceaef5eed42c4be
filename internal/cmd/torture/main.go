// Command torture runs the real xerosync binary through the worst a production day brings and
// checks that nothing was lost, duplicated or reordered: two daemons against one PostgreSQL,
// the Xero simulator with faults on (5xx, latency, responses lost after being applied, 429
// bursts), a workload of customers, invoices, voids and payments, while daemons are killed
// with SIGKILL at random moments and PostgreSQL is restarted. Then it runs to quiescence and
// compares the simulator's records with Softbooq's. Run it through scripts/torture.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/internal/harness"
	"github.com/softbooq/xerosync/xero/xerosim"
)

type params struct {
	bin                                         string
	changes                                     int
	kills, restarts                             int
	seed                                        uint64
	timeScale, rate                             float64
	drainTimeout                                time.Duration
	verbose                                     bool
	failover                                    bool
	fault5xx, faultLost, faultLatency, fault429 float64
	minuteLimit, dayLimit                       int
	deadline                                    time.Duration
}

func main() {
	var p params
	flag.StringVar(&p.bin, "bin", "bin/xerosync", "the xerosync binary")
	// The defaults are issue #12's run: about 1,200 changes in 40 s, 20 kills, 5 % 5xx and
	// 5 % lost responses, at Xero's real 60 calls a minute.
	flag.IntVar(&p.changes, "changes", 1200, "Softbooq changes to write")
	flag.IntVar(&p.kills, "kills", 20, "SIGKILLs of a daemon")
	flag.IntVar(&p.restarts, "restarts", 3, "PostgreSQL restarts (immediate shutdown, as in a crash)")
	flag.Uint64Var(&p.seed, "seed", 1, "seed of the workload, the kills and the simulator's faults")
	flag.Float64Var(&p.rate, "rate", 30, "Softbooq changes per second: the workload is spread so that kills and restarts land in it")
	flag.Float64Var(&p.timeScale, "time-scale", 1, "simulated Xero minutes per real minute; the daemons share the simulator's clock (internal/simclock)")
	flag.DurationVar(&p.drainTimeout, "drain-timeout", 10*time.Minute, "how long quiescence may take")
	flag.BoolVar(&p.verbose, "v", false, "show the daemons' logs")
	flag.BoolVar(&p.failover, "failover", false, "add a synchronous standby and, halfway through the workload, crash the primary (immediate shutdown) and promote the standby (PostgreSQL 17+: failover slots)")
	flag.Float64Var(&p.fault5xx, "fault-5xx", 0.05, "share of Accounting calls answered 500")
	flag.Float64Var(&p.faultLost, "fault-lost", 0.05, "share of calls applied whose response is lost")
	flag.Float64Var(&p.faultLatency, "fault-latency", 0.03, "share of calls delayed")
	flag.Float64Var(&p.fault429, "fault-429", 0.01, "share of calls answered with a 429 burst")
	flag.IntVar(&p.minuteLimit, "minute-limit", 60, "Xero's calls per organisation a minute (0: lifted)")
	flag.IntVar(&p.dayLimit, "day-limit", 5000, "Xero's calls per organisation a day (0: lifted)")
	flag.DurationVar(&p.deadline, "deadline", 0, "fail unless everything is in Xero within this long of the last write (0: report the time only)")
	flag.Parse()
	harness.Main("torture", func(ctx context.Context) error { return run(ctx, p) })
}

func logf(format string, args ...any) { harness.Logf(os.Stderr, format, args...) }

// expected is what Softbooq holds at the end, for the tenant that is connected.
type expected struct {
	mu        sync.Mutex
	customers map[string]customer // id → final Xero-held state
	invoices  map[string]invoice  // number → state
	payments  []payment
	changes   int
	lastWrite time.Time
}

type customer struct{ name, phone string }

type invoice struct {
	id, customer string
	voided       bool
	paid         int // payments recorded
}

type payment struct{ invoiceNumber, reference string }

func run(ctx context.Context, p params) error {
	var out io.Writer = io.Discard
	if p.verbose {
		out = os.Stderr
	}
	st, err := harness.Start(ctx, harness.Params{Bin: p.bin, Out: out, Standby: p.failover, Sim: xerosim.Config{
		TimeScale: p.timeScale, ClientsShareClock: p.timeScale != 1, Seed: int64(p.seed),
		Limits: xerosim.Limits{PerMinute: cmp.Or(p.minuteLimit, 1_000_000), PerDay: cmp.Or(p.dayLimit, 100_000_000)},
		Faults: xerosim.Faults{Rate5xx: p.fault5xx, RateLostResponse: p.faultLost, RateLatency: p.faultLatency,
			Latency: 300 * time.Millisecond, Rate429Burst: p.fault429},
	}})
	if err != nil {
		return err
	}
	defer st.Close()
	tenant := st.Tenants[0]

	var mu sync.Mutex
	daemons := map[string]*harness.Daemon{}
	start := func(name string) error {
		d, err := st.StartDaemon(ctx, name)
		if err != nil {
			return err
		}
		mu.Lock()
		daemons[name] = d
		mu.Unlock()
		return nil
	}
	if err := start("a"); err != nil {
		return err
	}
	if err := start("b"); err != nil {
		return err
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range daemons {
			d.Stop()
		}
	}()
	logf("two daemons up; connecting tenant %s through xerosync connect", tenant)
	// The simulator's random faults hit Accounting calls only, so the OAuth flow is not
	// under fire; everything after it is.
	if err := connectRetrying(ctx, st, daemons["a"].Config, tenant); err != nil {
		return err
	}

	var fo *failover
	if p.failover {
		if fo, err = waitSynced(ctx, st, func() []*harness.Daemon {
			mu.Lock()
			defer mu.Unlock()
			return []*harness.Daemon{daemons["a"], daemons["b"]}
		}); err != nil {
			return err
		}
	}
	exp := &expected{customers: map[string]customer{}, invoices: map[string]invoice{}}
	rng := rand.New(rand.NewPCG(p.seed, 7))
	workDone := make(chan error, 1)
	started := time.Now()
	go func() { workDone <- workload(ctx, st.DB, tenant, p, exp) }()

	// Chaos: kills spread over the workload, restarts at even fractions of it, the failover
	// halfway. Restarts after the failover restart the new primary.
	kills, restarts := 0, 0
	primary := st.Cluster
	failedOver := false
	// killOne kills one of the two daemons with SIGKILL and starts it again.
	killOne := func() error {
		name := []string{"a", "b"}[rng.IntN(2)]
		mu.Lock()
		d := daemons[name]
		mu.Unlock()
		d.Kill()
		kills++
		logf("kill -9 daemon %s (%d/%d) at %d changes", name, kills, p.kills, exp.changes)
		return start(name)
	}
	for {
		select {
		case err := <-workDone:
			if err != nil {
				return err
			}
			goto quiesce
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(300+rng.IntN(900)) * time.Millisecond):
		}
		exp.mu.Lock()
		progress := float64(exp.changes) / float64(p.changes)
		exp.mu.Unlock()
		if fo != nil && !failedOver && progress >= 0.5 {
			failedOver = true
			if err := failOver(ctx, st, fo); err != nil {
				return err
			}
			primary = st.Standby
			continue
		}
		if restarts < p.restarts && progress >= float64(restarts+1)/float64(p.restarts+1) {
			restarts++
			logf("restarting PostgreSQL (%d/%d, immediate shutdown)", restarts, p.restarts)
			if err := primary.Restart(ctx, true); err != nil {
				return fmt.Errorf("restart postgres: %w", err)
			}
			continue
		}
		if kills < p.kills && progress >= float64(kills)/float64(p.kills) {
			if err := killOne(); err != nil {
				return err
			}
		}
	}
quiesce:
	// Kills still owed (a fast workload) happen now, during the drain.
	for kills < p.kills {
		if err := killOne(); err != nil {
			return err
		}
		time.Sleep(time.Duration(200+rng.IntN(500)) * time.Millisecond)
	}
	logf("workload done: %d changes in %s; faults off, waiting for quiescence", exp.changes, time.Since(started).Round(time.Second))
	lastWrite := exp.lastWrite
	st.Sim.ClearFaults()
	if err := st.Drained(ctx, p.drainTimeout); err != nil {
		logf("%v", err)
	}
	drained := time.Since(lastWrite)
	return report(ctx, st, exp, p, kills, restarts, fo, drained)
}

// failover is what failOver saw.
type failover struct {
	syncWait   time.Duration // from the daemons' start until the standby held the slot, synced
	promotedAt time.Time
}

// waitSynced waits until the daemons' slot is synchronised to the standby: what an operator
// checks before relying on a failover (xerosync status shows it), and what must hold for an
// unplanned one to lose nothing.
func waitSynced(ctx context.Context, st *harness.Stack, daemons func() []*harness.Daemon) (*failover, error) {
	fo := &failover{}
	began := time.Now()
	for {
		var synced bool
		err := st.Standby.QueryRow(ctx, "postgres", `SELECT coalesce(bool_or(synced AND NOT temporary), false) FROM pg_replication_slots WHERE slot_name = 'xerosync'`, &synced)
		if err == nil && synced {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Since(began) > 2*time.Minute {
			return nil, fmt.Errorf("the slot was not synchronised to the standby within 2 minutes (last error: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fo.syncWait = time.Since(began)
	// What the operator sees before relying on it: the leader's /healthz says the slot would
	// survive a failover (xerosync status says the same).
	for {
		ready := false
		for _, d := range daemons() {
			if _, body, err := d.Healthz(); err == nil {
				var h struct {
					Failover *struct{ Ready bool } `json:"failover"`
				}
				ready = ready || (json.Unmarshal([]byte(body), &h) == nil && h.Failover != nil && h.Failover.Ready)
			}
		}
		if ready {
			break
		}
		if time.Since(began) > 3*time.Minute {
			return nil, errors.New("the slot is synced on the standby, but no daemon's /healthz says failover ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
	logf("slot synced to the standby %s after the daemons started", fo.syncWait.Round(time.Millisecond))
	return fo, nil
}

// failOver crashes the primary with an immediate shutdown and promotes the standby.
func failOver(ctx context.Context, st *harness.Stack, fo *failover) error {
	logf("crashing the primary (immediate shutdown) and promoting the standby")
	if err := st.Cluster.Stop(true); err != nil {
		return err
	}
	if err := st.Standby.Promote(ctx); err != nil {
		return err
	}
	fo.promotedAt = time.Now()
	logf("standby promoted")
	return nil
}

// firstCaptureAfter is the time from the promotion to the first outbox row the new primary
// holds that was written after it.
func firstCaptureAfter(ctx context.Context, st *harness.Stack, fo *failover) (time.Duration, error) {
	var first *time.Time
	if err := st.DB.QueryRow(ctx, `SELECT min(created_at) FROM xerosync.outbox WHERE created_at > $1`, fo.promotedAt).Scan(&first); err != nil {
		return 0, err
	}
	if first == nil {
		return 0, errors.New("nothing was captured after the promotion")
	}
	return first.Sub(fo.promotedAt), nil
}

func connectRetrying(ctx context.Context, st *harness.Stack, cfg, tenant string) error {
	var err error
	for range 3 {
		if err = st.Connect(ctx, cfg, tenant, "Kiwi Kitchens Ltd"); err == nil {
			return nil
		}
		logf("connect: %v; again", err)
	}
	return err
}

// workload writes p.changes Softbooq changes: customers, Xero-held updates, invoices issued,
// voids and payments; while PostgreSQL restarts, a write is retried.
func workload(ctx context.Context, db *pgxpool.Pool, tenant string, p params, exp *expected) error {
	rng := rand.New(rand.NewPCG(p.seed, 11))
	var custIDs []string
	var open []string // issued, not voided invoice numbers
	seq := 0
	begin := time.Now()
	for exp.changes < p.changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Pace the workload: change n is due at n/rate seconds.
		if due := begin.Add(time.Duration(float64(exp.changes) / p.rate * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		seq++
		var err error
		kind := rng.IntN(10)
		switch {
		case len(custIDs) < 5 || kind < 3:
			name := fmt.Sprintf("Customer %05d", seq)
			var id string
			err = retrying(ctx, func() error {
				// Idempotent: a retry after a commit whose answer was lost (PostgreSQL
				// restarted) must not add the customer twice.
				return db.QueryRow(ctx, `WITH ins AS (
						INSERT INTO crm.customers (tenant_id, name, email, phone, country_code)
						SELECT $1, $2, $3, '+64 1', 'NZ'
						 WHERE NOT EXISTS (SELECT 1 FROM crm.customers WHERE tenant_id = $1 AND email = $3)
						RETURNING id)
					SELECT id::text FROM ins
					UNION ALL SELECT id::text FROM crm.customers WHERE tenant_id = $1 AND email = $3
					LIMIT 1`, tenant, name, fmt.Sprintf("c%05d@example.com", seq)).Scan(&id)
			})
			if err == nil {
				exp.mu.Lock()
				custIDs = append(custIDs, id)
				exp.customers[id] = customer{name: name, phone: "+64 1"}
				exp.changes++
				exp.mu.Unlock()
			}
		case kind < 5:
			id := custIDs[rng.IntN(len(custIDs))]
			phone := fmt.Sprintf("+64 %d", seq)
			err = retrying(ctx, func() error {
				_, err := db.Exec(ctx, `UPDATE crm.customers SET phone = $2 WHERE id = $1`, id, phone)
				return err
			})
			if err == nil {
				exp.mu.Lock()
				c := exp.customers[id]
				c.phone = phone
				exp.customers[id] = c
				exp.changes++
				exp.mu.Unlock()
			}
		case kind < 8:
			cust := custIDs[rng.IntN(len(custIDs))]
			number := fmt.Sprintf("T-%06d", seq)
			var id string
			err = retrying(ctx, func() error {
				tx, err := db.Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx)
				// Idempotent, as above: an invoice committed before a lost answer is kept.
				if err := tx.QueryRow(ctx, `SELECT id::text FROM finance.invoices WHERE tenant_id = $1 AND number = $2`, tenant, number).Scan(&id); err == nil {
					return nil
				}
				if err := tx.QueryRow(ctx, `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date, due_date, issued_at)
					VALUES ($1, $2, $3, 'issued', 'NZD', current_date, current_date + 30, now()) RETURNING id::text`, tenant, cust, number).Scan(&id); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category, tax_component)
					VALUES ($1, $2, 1, 'Platters', 3, 19.99, 'catering', 'GST15'), ($1, $2, 2, 'Hire', 1, 50, 'equipment', NULL)`, id, tenant); err != nil {
					return err
				}
				return tx.Commit(ctx)
			})
			if err == nil {
				exp.mu.Lock()
				exp.invoices[number] = invoice{id: id, customer: cust}
				open = append(open, number)
				exp.changes++
				exp.mu.Unlock()
			}
		case kind == 8 && len(open) > 0:
			i := rng.IntN(len(open))
			number := open[i]
			exp.mu.Lock()
			inv := exp.invoices[number]
			exp.mu.Unlock()
			if inv.paid > 0 {
				continue // Xero voids only invoices without payments
			}
			err = retrying(ctx, func() error {
				_, err := db.Exec(ctx, `UPDATE finance.invoices SET status = 'void', voided_at = now() WHERE number = $1 AND tenant_id = $2`, number, tenant)
				return err
			})
			if err == nil {
				exp.mu.Lock()
				inv.voided = true
				exp.invoices[number] = inv
				open = append(open[:i], open[i+1:]...)
				exp.changes++
				exp.mu.Unlock()
			}
		case len(open) > 0:
			number := open[rng.IntN(len(open))]
			exp.mu.Lock()
			inv := exp.invoices[number]
			exp.mu.Unlock()
			if inv.paid >= 2 {
				continue
			}
			ref := fmt.Sprintf("%s/P%d", number, inv.paid+1)
			err = retrying(ctx, func() error {
				// Idempotent, as above: a payment committed before a lost answer is not paid
				// twice (which Xero would rightly show as two payments).
				_, err := db.Exec(ctx, `INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method, reference)
					SELECT $1, $2, 10.00, current_date, 'card', $3
					 WHERE NOT EXISTS (SELECT 1 FROM finance.payments WHERE invoice_id = $2 AND reference = $3)`, tenant, inv.id, ref)
				return err
			})
			if err == nil {
				exp.mu.Lock()
				inv.paid++
				exp.invoices[number] = inv
				exp.payments = append(exp.payments, payment{number, ref})
				exp.changes++
				exp.mu.Unlock()
			}
		}
		if err != nil {
			return err
		}
	}
	exp.mu.Lock()
	exp.lastWrite = time.Now()
	exp.mu.Unlock()
	return nil
}

// retrying retries a Softbooq write while PostgreSQL restarts. A write whose commit landed
// but whose answer was lost is retried too, so every write passed here is idempotent.
func retrying(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		logf("retrying a Softbooq write after: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

func report(ctx context.Context, st *harness.Stack, exp *expected, p params, kills, restarts int, fo *failover, drained time.Duration) error {
	sim, org := st.Sim, st.Org
	lost, dup, order := 0, 0, 0
	var problems []string
	note := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	// created counts one record's creations in Xero: 0 is lost, more than 1 duplicated. It
	// reports whether the record is there to be compared further.
	created := func(n int, what string) bool {
		switch {
		case n == 0:
			lost++
			note("%s never reached Xero", what)
			return false
		case n > 1:
			dup++
			note("%s created %d times", what, n)
		}
		return true
	}
	contacts := map[string]xerosim.Contact{}
	for _, c := range sim.Contacts(org) {
		contacts[c.ContactNumber] = c
	}
	for id, want := range exp.customers {
		if !created(sim.ContactCreations(org, id), fmt.Sprintf("customer %s (%s)", id, want.name)) {
			continue
		}
		c := contacts[id]
		if c.Name != want.name || !strings.Contains(string(c.Phones), want.phone+`"`) {
			order++
			note("contact %s in Xero is %q %s, Softbooq has %q %s", id, c.Name, c.Phones, want.name, want.phone)
		}
	}
	invoices := map[string]xerosim.Invoice{}
	for _, inv := range sim.Invoices(org) {
		invoices[inv.InvoiceNumber] = inv
	}
	for number, want := range exp.invoices {
		if !created(sim.InvoiceCreations(org, number), "invoice "+number) {
			continue
		}
		got := invoices[number]
		if want.voided != (got.Status == "VOIDED") {
			order++
			note("invoice %s is %s in Xero, voided in Softbooq: %v", number, got.Status, want.voided)
		}
	}
	for _, pay := range exp.payments {
		inv := invoices[pay.invoiceNumber]
		created(sim.PaymentCreations(org, inv.InvoiceID, pay.reference), "payment "+pay.reference)
	}
	var states string
	var unfinished, failedNoCode int
	rows, err := st.DB.Query(ctx, `SELECT state, count(*), count(*) FILTER (WHERE state = 'failed' AND last_error_code IS NULL)
		FROM xerosync.outbox GROUP BY state ORDER BY state`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		var n, nocode int
		if err := rows.Scan(&s, &n, &nocode); err != nil {
			return err
		}
		states += fmt.Sprintf("%s %d, ", s, n)
		if s != "done" && s != "failed" {
			unfinished += n
		}
		failedNoCode += nocode
	}
	rows.Close()
	stats := sim.Stats()
	faults := 0
	for _, n := range stats.Faults {
		faults += n
	}
	fmt.Printf("| measure | value |\n|---|---|\n")
	fmt.Printf("| Softbooq changes | %d (%d customers, %d invoices, %d payments) |\n", exp.changes, len(exp.customers), len(exp.invoices), len(exp.payments))
	fmt.Printf("| daemon kill -9 | %d |\n", kills)
	fmt.Printf("| PostgreSQL restarts | %d |\n", restarts)
	if fo != nil {
		first, err := firstCaptureAfter(ctx, st, fo)
		if err != nil {
			return err
		}
		fmt.Printf("| failover | primary crashed (immediate shutdown), standby promoted; slot synced to the standby %s after the daemons started |\n", fo.syncWait.Round(time.Millisecond))
		fmt.Printf("| promotion → first change captured on the new primary | %s |\n", first.Round(time.Millisecond))
	}
	fmt.Printf("| faults injected by the simulator | %d (%s) |\n", faults, faultList(stats.Faults))
	limits := "lifted"
	if p.minuteLimit > 0 {
		limits = fmt.Sprintf("%d a minute", p.minuteLimit)
	}
	if p.dayLimit > 0 {
		limits += fmt.Sprintf(", %d a day", p.dayLimit)
	}
	reqs := sim.Requests()
	tm := sort429s(reqs)
	fmt.Printf("| Xero limits (time scale %g) | %s; %d requests; 429s served: %d (%s): %d injected bursts, %d in the minutes they spent, %d not injected |\n",
		p.timeScale, limits, stats.Requests, stats.TooManyRequests, problemList(stats.RateLimited), tm.injected, tm.burstWindow, len(tm.others))
	fmt.Printf("| last write → everything in Xero | %s |\n", drained.Round(time.Second))
	fmt.Printf("| outbox rows | %s |\n", strings.TrimSuffix(states, ", "))
	fmt.Printf("| lost | %d |\n", lost)
	fmt.Printf("| duplicated | %d |\n", dup)
	fmt.Printf("| out of order | %d |\n", order)
	fmt.Printf("| rows neither done nor failed-with-code | %d |\n", unfinished+failedNoCode)
	for _, pr := range problems {
		fmt.Println("  - " + pr)
	}
	if len(reqs) < stats.Requests {
		fmt.Printf("  - the simulator's request log holds the last %d of %d requests: 429s before it are not sorted above\n", len(reqs), stats.Requests)
	}
	for i, r := range tm.others {
		if i == 10 {
			fmt.Printf("  - and %d more 429s not injected\n", len(tm.others)-i)
			break
		}
		fmt.Printf("  - 429 not injected: request %d at %s, %s %s, problem %q\n", r.Seq, r.Time.Format("15:04:05.000"), r.Method, r.Path, r.RateLimitProblem)
	}
	if lost != 0 || dup != 0 || order != 0 || unfinished+failedNoCode != 0 {
		return errors.New("the run lost, duplicated or reordered something (above)")
	}
	if p.deadline > 0 && drained > p.deadline {
		return fmt.Errorf("everything reached Xero %s after the last write, over the deadline of %s", drained.Round(time.Second), p.deadline)
	}
	return nil
}

// tooMany sorts the 429s the simulator served. Issue #12 wants none but the injected: a burst's
// own 429 and the rest of the minute it used up, which the client can only learn of from the
// burst's answer (calls already sent meet it too). Every other 429 is one the client's budgets
// should have prevented.
type tooMany struct {
	injected    int                       // a burst's own 429 (Fault429)
	burstWindow int                       // a minute 429 in the window a burst used up
	others      []xerosim.RecordedRequest // the rest
}

// sort429s sorts the 429s of reqs (the simulator's request log, in arrival order). A minute
// 429 is in a burst's window when it comes after a burst for its organisation and before that
// organisation's next call that Xero counted (answered 2xx or 5xx, or lost): the window that
// follows admits at least one call before it can refuse one.
func sort429s(reqs []xerosim.RecordedRequest) tooMany {
	var tm tooMany
	spent := map[string]bool{} // Xero tenant id → a burst spent its minute and no call was counted since
	for _, r := range reqs {
		switch {
		case r.Fault == xerosim.Fault429:
			tm.injected++
			spent[r.TenantID] = true
		case r.Status == http.StatusTooManyRequests && r.RateLimitProblem == "minute" && spent[r.TenantID]:
			tm.burstWindow++
		case r.Status == http.StatusTooManyRequests:
			tm.others = append(tm.others, r)
		case r.Status == 0 || r.Status >= 200 && r.Status < 300 || r.Status >= 500:
			delete(spent, r.TenantID)
		}
	}
	return tm
}

func problemList(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func faultList(m map[xerosim.FaultKind]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%v %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
