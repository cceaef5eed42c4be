// Command demo shows xerosync working end to end on one machine: a throwaway PostgreSQL with
// Softbooq's schema and sample data, the Xero simulator, and the real daemon binary. It
// connects a tenant through the real `xerosync connect` OAuth flow, backfills its history,
// writes changes in Softbooq live and prints each one as it arrives in "Xero", then a summary,
// and removes everything it started. Run it through scripts/demo.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/xero/xerosim"
)

func main() {
	bin := flag.String("bin", "bin/xerosync", "the xerosync binary")
	changes := flag.Int("changes", 12, "live changes to write")
	wait := flag.Duration("timeout", 2*time.Minute, "how long to wait for Xero to catch up")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *changes, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, bin string, changes int, wait time.Duration) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	say("starting a throwaway PostgreSQL (wal_level=logical)…")
	cl, err := pgtest.StartLocal(ctx, pgtest.LocalConfig{})
	if err != nil {
		return err
	}
	defer cl.Close()
	db, tenants, err := seed(ctx, cl)
	if err != nil {
		return fmt.Errorf("seed softbooq: %w", err)
	}
	defer db.Close()
	kiwi := tenants[0]

	dir, err := os.MkdirTemp("", "xerosync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	redirect, err := freeAddr()
	if err != nil {
		return err
	}
	client := xerosim.DefaultClient()
	client.RedirectURIs = []string{"http://" + redirect + "/callback"}
	sim, srv := xerosim.Start(xerosim.Config{Clients: []xerosim.Client{client}})
	defer srv.Close()
	org := sim.MustAddOrg(xerosim.DefaultOrg("Kiwi Kitchens Ltd"))
	sim.MustAddOrg(xerosim.DefaultOrg("Kiwi Kitchens (old books)"))
	say("Xero simulator at %s with organisations \"Kiwi Kitchens Ltd\" and \"Kiwi Kitchens (old books)\"", srv.URL)

	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "token-key")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		return err
	}
	cfgFile := filepath.Join(dir, "xerosync.toml")
	cfg := fmt.Sprintf(`[database]
url = %q

[http]
addr = %q

[xero]
client_id = %q
client_secret = %q
redirect_url = %q
login_url = %q
identity_url = %q
api_url = %q

[token]
key_file = %q

[log]
level = "info"
`, cl.URL("softbooq"), httpAddr, client.ID, client.Secret, "http://"+redirect+"/callback", srv.URL, srv.URL, srv.URL, keyFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}

	say("starting the daemon: xerosync run")
	daemon := exec.Command(bin, "--config", cfgFile, "run")
	daemon.Env = append(os.Environ(), "NO_COLOR=1")
	out := prefixed("  [daemon] ")
	daemon.Stdout, daemon.Stderr = out, out
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = daemon.Wait(); close(exited) }()
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		done := exited
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = daemon.Process.Kill()
			<-done
		}
		say("daemon stopped")
	}()
	if err := waitHealthy(ctx, "http://"+httpAddr+"/healthz", exited); err != nil {
		return err
	}
	say("daemon healthy at http://%s/healthz", httpAddr)

	// The operator connects the tenant: the real OAuth flow, the browser played by us.
	say("connecting tenant %s to \"Kiwi Kitchens Ltd\": xerosync connect", kiwi)
	if err := connect(ctx, bin, cfgFile, kiwi); err != nil {
		return err
	}
	say("backfilling its history: xerosync backfill")
	if err := runCmd(ctx, bin, "--config", cfgFile, "backfill", "--tenant", kiwi, "--since", "2026-01-01"); err != nil {
		say("backfill: %v", err)
	}

	// Live changes in Softbooq, as its users make them.
	watch := newWatcher(sim, org)
	go watch.run(ctx)
	if err := live(ctx, db, kiwi, changes); err != nil {
		return err
	}
	say("waiting for Xero to catch up…")
	if err := waitDrained(ctx, db, wait); err != nil {
		say("%v", err)
	}
	time.Sleep(300 * time.Millisecond) // let the watcher print the last arrivals
	watch.stop()

	fmt.Println()
	say("summary")
	st := sim.Stats()
	fmt.Printf("  Xero organisation \"Kiwi Kitchens Ltd\": %d contacts, %d invoices, %d payments; %d API calls, %d answered 429\n",
		len(sim.Contacts(org)), len(sim.Invoices(org)), len(sim.Payments(org)), calls(st.Calls), total(st.RateLimited))
	rows, err := db.Query(ctx, `SELECT entity || '/' || action, state, count(*) FROM xerosync.outbox GROUP BY 1, 2 ORDER BY 1, 2`)
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
	fmt.Println("  xerosync status:")
	_ = runCmd(ctx, bin, "--config", cfgFile, "status")
	return nil
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

// seed creates Softbooq's database: two tenants, mappings, customers and some history.
func seed(ctx context.Context, cl *pgtest.Cluster) (*pgxpool.Pool, []string, error) {
	admin, err := pgx.Connect(ctx, cl.URL("postgres"))
	if err != nil {
		return nil, nil, err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE softbooq")
	admin.Close(ctx)
	if err != nil {
		return nil, nil, err
	}
	db, err := pgxpool.New(ctx, cl.URL("softbooq"))
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.Exec(ctx, pgtest.SoftbooqSchema); err != nil {
		return nil, nil, err
	}
	var tenants []string
	for _, name := range []string{"Kiwi Kitchens Ltd", "Tui Tours"} {
		var id string
		if err := db.QueryRow(ctx, "INSERT INTO core.tenants (name) VALUES ($1) RETURNING id::text", name).Scan(&id); err != nil {
			return nil, nil, err
		}
		tenants = append(tenants, id)
	}
	t := tenants[0]
	for _, stmt := range []string{
		`INSERT INTO integrations.xero_account_mappings VALUES ($1, 'catering', '200'), ($1, 'equipment', '200')`,
		`INSERT INTO integrations.xero_tax_mappings VALUES ($1, 'GST15', 'OUTPUT2')`,
		`INSERT INTO integrations.xero_payment_accounts VALUES ($1, 'bank_transfer', '090'), ($1, 'card', '090')`,
		`INSERT INTO crm.customers (tenant_id, name, first_name, last_name, email, phone, city, country_code)
		 VALUES ($1, 'Aroha Events', 'Aroha', 'Ngata', 'aroha@events.example', '+64 9 555 0101', 'Auckland', 'NZ'),
		        ($1, 'Harbour Café', NULL, NULL, 'hello@harbour.example', NULL, 'Wellington', 'NZ')`,
		`INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date, due_date, amounts_tax, issued_at)
		 SELECT $1, id, 'INV-0001', 'issued', 'NZD', '2026-10-01', '2026-10-31', 'exclusive', now() FROM crm.customers WHERE name = 'Aroha Events'`,
		`INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category, tax_component)
		 SELECT id, $1, 1, 'Wedding catering, 80 guests', 80, 42.5, 'catering', 'GST15' FROM finance.invoices WHERE number = 'INV-0001'`,
	} {
		if _, err := db.Exec(ctx, stmt, t); err != nil {
			return nil, nil, err
		}
	}
	say("Softbooq seeded: tenants \"Kiwi Kitchens Ltd\" and \"Tui Tours\", 2 customers, 1 issued invoice (history)")
	return db, tenants, nil
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

func waitDrained(ctx context.Context, db *pgxpool.Pool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var open int
		err := db.QueryRow(ctx, `SELECT count(*) FROM xerosync.outbox WHERE state IN ('pending', 'in_flight')`).Scan(&open)
		if err == nil && open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("outbox not drained in time")
}

// connect runs `xerosync connect` and plays the browser: it opens the printed authorisation
// URL, and the simulator consents and redirects to connect's loopback listener.
func connect(ctx context.Context, bin, cfgFile, tenant string) error {
	cmd := exec.CommandContext(ctx, bin, "--config", cfgFile, "connect", "--tenant", tenant, "--org", "Kiwi Kitchens Ltd")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = prefixed("  [connect] ")
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdout)
	opened := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Println("  [connect] " + line)
		if u := strings.TrimSpace(line); !opened && strings.HasPrefix(u, "http") && strings.Contains(u, "authorize") {
			opened = true
			go func() {
				resp, err := http.Get(u)
				if err != nil {
					say("browser: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("xerosync connect: %w", err)
	}
	return nil
}

func runCmd(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	w := prefixed("    ")
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

func waitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the daemon exited (its log is above)")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("daemon did not become healthy within 60s")
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

func prefixed(prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Println(prefix + sc.Text())
		}
	}()
	return pw
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
