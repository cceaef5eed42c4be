// Command demo shows xerosync working end to end on one machine: a throwaway PostgreSQL with
// Softbooq's schema and sample data, the Xero simulator, and the real daemon binary. It
// connects a tenant through the real `xerosync connect` OAuth flow, backfills its history,
// writes changes in Softbooq live and prints each one as it arrives in "Xero", then a summary,
// and removes everything it started. Run it through scripts/demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/internal/harness"
	"github.com/softbooq/xerosync/xero/xerosim"
)

func main() {
	bin := flag.String("bin", "bin/xerosync", "the xerosync binary")
	changes := flag.Int("changes", 12, "live changes to write")
	wait := flag.Duration("timeout", 2*time.Minute, "how long to wait for Xero to catch up")
	metrics := flag.String("metrics", "", "write the daemon's last /metrics scrape to this `FILE` (CI lints it with promtool)")
	flag.Parse()
	harness.Main("demo", func(ctx context.Context) error { return run(ctx, *bin, *changes, *wait, *metrics) })
}

func say(format string, args ...any) { harness.Logf(os.Stdout, format, args...) }

func run(ctx context.Context, bin string, changes int, wait time.Duration, metricsFile string) error {
	say("starting a throwaway PostgreSQL (wal_level=logical) and the Xero simulator…")
	st, err := harness.Start(ctx, harness.Params{Bin: bin, Out: os.Stdout})
	if err != nil {
		return err
	}
	defer st.Close()
	kiwi := st.Tenants[0]
	say("Softbooq seeded: tenants \"Kiwi Kitchens Ltd\" and \"Tui Tours\", 2 customers, 1 issued invoice (history)")
	say("Xero simulator at %s with organisations \"Kiwi Kitchens Ltd\" and \"Kiwi Kitchens (old books)\"", st.SimServer.URL)

	say("starting the daemon: xerosync run")
	d, err := st.StartDaemon(ctx, "daemon")
	if err != nil {
		return err
	}
	defer func() { d.Stop(); say("daemon stopped") }()
	say("daemon answering at http://%s/healthz", d.Addr)

	// The operator connects the tenant: the real OAuth flow, the browser played by us.
	say("connecting tenant %s to \"Kiwi Kitchens Ltd\": xerosync connect", kiwi)
	if err := st.Connect(ctx, d.Config, kiwi, "Kiwi Kitchens Ltd"); err != nil {
		return err
	}
	say("backfilling its history: xerosync backfill")
	if err := st.Run(ctx, "--config", d.Config, "backfill", "--tenant", kiwi, "--since", "2026-01-01"); err != nil {
		say("backfill: %v", err)
	}

	// Live changes in Softbooq, as its users make them.
	watch := newWatcher(st.Sim, st.Org)
	go watch.run(ctx)
	if err := live(ctx, st.DB, kiwi, changes); err != nil {
		return err
	}
	say("waiting for Xero to catch up…")
	if err := settled(ctx, st.DB, wait); err != nil {
		say("%v", err)
	}
	if err := fixFailures(ctx, st.DB); err != nil {
		return err
	}
	if err := st.Drained(ctx, wait); err != nil {
		say("%v", err)
	}
	time.Sleep(300 * time.Millisecond) // let the watcher print the last arrivals
	watch.stop()

	fmt.Println()
	say("summary")
	sim, org := st.Sim, st.Org
	stats := sim.Stats()
	fmt.Printf("  Xero organisation \"Kiwi Kitchens Ltd\": %d contacts, %d invoices, %d payments; %d API calls, %d answered 429\n",
		len(sim.Contacts(org)), len(sim.Invoices(org)), len(sim.Payments(org)), calls(stats.Calls), total(stats.RateLimited))
	rows, err := st.DB.Query(ctx, `SELECT entity || '/' || action, state, count(*) FROM xerosync.outbox GROUP BY 1, 2 ORDER BY 1, 2`)
	if err == nil {
		fmt.Println("  xerosync.outbox:")
		for rows.Next() {
			var what, state string
			var n int
			if rows.Scan(&what, &state, &n) == nil {
				fmt.Printf("    %-16s %-10s %d\n", what, state, n)
			}
		}
		rows.Close()
	}
	frows, err := st.DB.Query(ctx, `SELECT id, entity, coalesce(number, name, ''), last_error_code, last_error FROM xerosync.failed ORDER BY id`)
	if err == nil {
		for frows.Next() {
			var id int64
			var entity, what, code, msg string
			if frows.Scan(&id, &entity, &what, &code, &msg) == nil {
				fmt.Printf("  failed: outbox row %d, %s %s: %s: %s\n", id, entity, what, code, msg)
			}
		}
		frows.Close()
	}
	fmt.Println("  xerosync status:")
	_ = st.Run(ctx, "--config", d.Config, "status")
	if metricsFile != "" {
		// Scraped after the drain, so the counters and the per-tenant series are all there.
		if err := saveMetrics(ctx, d.Addr, metricsFile); err != nil {
			return err
		}
		say("/metrics saved to %s", metricsFile)
	}
	// The demo is also CI's smoke test: it fails unless everything reached Xero.
	var left int
	if err := st.DB.QueryRow(ctx, `SELECT count(*) FROM xerosync.outbox WHERE state NOT IN ('done', 'cancelled')`).Scan(&left); err != nil {
		return err
	}
	if left > 0 || len(sim.Invoices(org)) == 0 {
		return fmt.Errorf("%d outbox rows did not reach Xero", left)
	}
	return nil
}

// fixFailures plays the administrator at a psql prompt: Xero refuses an email with letters
// it does not support (XERO.md §4: "umlauts not supported"), so the push of that customer
// failed alone and holds back only its own invoice and payment. The fix in Softbooq queues a
// new push; cancelling the failed one lets it through.
func fixFailures(ctx context.Context, db *pgxpool.Pool) error {
	rows, err := db.Query(ctx, `SELECT f.id, f.entity_id::text, f.name, f.last_error FROM xerosync.failed f
		WHERE f.entity = 'contact' AND f.last_error LIKE 'Email address must be valid%'`)
	if err != nil {
		return err
	}
	type failure struct {
		id                  int64
		customer, name, msg string
	}
	var fs []failure
	for rows.Next() {
		var f failure
		if err := rows.Scan(&f.id, &f.customer, &f.name, &f.msg); err != nil {
			rows.Close()
			return err
		}
		fs = append(fs, f)
	}
	rows.Close()
	for _, f := range fs {
		say("Xero refused customer %q (outbox row %d): %s", f.name, f.id, f.msg)
		fix := fmt.Sprintf(`UPDATE crm.customers SET email = translate(email, 'āēīōūë', 'aeioue') WHERE id = '%s'`, f.customer)
		cancel := fmt.Sprintf(`UPDATE xerosync.outbox SET cancel_requested = true WHERE id = %d`, f.id)
		say("an administrator fixes it at a psql prompt:")
		say("  psql> %s;", fix)
		say("  psql> %s;  -- the refused push, superseded by the fix", cancel)
		for _, sql := range []string{fix, cancel} {
			if _, err := db.Exec(ctx, sql); err != nil {
				return err
			}
		}
	}
	return nil
}

// settled waits until nothing is left to send, or until only rows held back by a failure
// are (nothing has changed for 3 seconds and a row has failed).
func settled(ctx context.Context, db *pgxpool.Pool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last, since := "", time.Now()
	for time.Now().Before(deadline) {
		var open, failed int
		var state string
		err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state IN ('pending', 'in_flight')),
			count(*) FILTER (WHERE state = 'failed'), string_agg(id || state, ',' ORDER BY id) FROM xerosync.outbox`).Scan(&open, &failed, &state)
		if err == nil && open == 0 {
			return nil
		}
		if state != last {
			last, since = state, time.Now()
		} else if failed > 0 && time.Since(since) > 3*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("outbox not drained within %s", limit)
}

func calls(cs []xerosim.CallCount) int {
	n := 0
	for _, c := range cs {
		n += c.Count
	}
	return n
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// live writes Softbooq changes one by one: customers, invoices issued, payments, an update
// that Xero holds and one it does not, a void.
func live(ctx context.Context, db *pgxpool.Pool, tenant string, n int) error {
	names := []string{"Pōhutukawa Bakery", "O'Connor & Sons", "Zoë's Deli", "Mānuka Farms", "Rātā Catering", "Kōwhai Co"}
	var last string
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		switch i % 4 {
		case 0:
			name := names[(i/4)%len(names)]
			err = db.QueryRow(ctx, `INSERT INTO crm.customers (tenant_id, name, email, city, country_code)
				VALUES ($1, $2, lower(replace($2, ' ', '')) || '@example.com', 'Christchurch', 'NZ') RETURNING id::text`, tenant, fmt.Sprint(name, " ", i/4+1)).Scan(&last)
			say("Softbooq: new customer %q", fmt.Sprint(name, " ", i/4+1))
		case 1:
			number := fmt.Sprintf("INV-%04d", 100+i)
			_, err = db.Exec(ctx, `WITH inv AS (
					INSERT INTO finance.invoices (tenant_id, customer_id, number, currency, issue_date, due_date, reference)
					VALUES ($1, $2, $3, 'NZD', current_date, current_date + 20, 'PO-' || $3) RETURNING id)
				INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category, tax_component)
				SELECT id, $1, 1, 'Lunch platters', 12, 18.75, 'catering', 'GST15' FROM inv
				UNION ALL SELECT id, $1, 2, 'Chafing dish hire', 2, 35, 'equipment', 'GST15' FROM inv`, tenant, last, number)
			if err == nil {
				_, err = db.Exec(ctx, `UPDATE finance.invoices SET status = 'issued', issued_at = now() WHERE number = $1`, number)
				say("Softbooq: invoice %s issued (draft, then \"Send Invoice\")", number)
			}
		case 2:
			number := fmt.Sprintf("INV-%04d", 100+i-1)
			_, err = db.Exec(ctx, `INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method, reference)
				SELECT $1, id, 100.00, current_date, 'bank_transfer', 'DD-' || number FROM finance.invoices WHERE number = $2`, tenant, number)
			say("Softbooq: payment of 100.00 on %s", number)
		case 3:
			_, err = db.Exec(ctx, `UPDATE crm.customers SET notes = 'called about next order' WHERE id = $1`, last)
			if err == nil {
				_, err = db.Exec(ctx, `UPDATE crm.customers SET phone = '+64 3 555 0199' WHERE id = $1`, last)
			}
			say("Softbooq: customer notes changed (not pushed), then phone changed (pushed)")
		}
		if err != nil {
			return err
		}
		time.Sleep(700 * time.Millisecond)
	}
	return nil
}

// watcher prints what appears in the simulated organisation.
type watcher struct {
	sim  *xerosim.Sim
	org  string
	seen map[string]string
	done chan struct{}
	wg   sync.WaitGroup
}

func newWatcher(sim *xerosim.Sim, org string) *watcher {
	w := &watcher{sim: sim, org: org, seen: map[string]string{}, done: make(chan struct{})}
	w.wg.Add(1)
	return w
}

func (w *watcher) stop() { close(w.done); w.wg.Wait() }

func (w *watcher) run(ctx context.Context) {
	defer w.wg.Done()
	for {
		for _, c := range w.sim.Contacts(w.org) {
			w.note("contact "+c.ContactID, c.Name+c.EmailAddress+string(c.Phones)+c.ContactStatus,
				fmt.Sprintf("Xero: contact %q (%s)", c.Name, c.EmailAddress))
		}
		for _, inv := range w.sim.Invoices(w.org) {
			w.note("invoice "+inv.InvoiceID, inv.Status+inv.AmountPaid,
				fmt.Sprintf("Xero: invoice %s %s, total %s, paid %s", inv.InvoiceNumber, inv.Status, inv.Total, inv.AmountPaid))
		}
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *watcher) note(key, state, line string) {
	if w.seen[key] == state {
		return
	}
	verb := "created"
	if _, ok := w.seen[key]; ok {
		verb = "updated"
	}
	w.seen[key] = state
	say("%s (%s)", line, verb)
}

// saveMetrics writes one GET /metrics of the daemon at addr to file.
func saveMetrics(ctx context.Context, addr, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("scrape /metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape /metrics: %s", resp.Status)
	}
	if err := os.WriteFile(file, body, 0o644); err != nil {
		return fmt.Errorf("save /metrics: %w", err)
	}
	return nil
}
