package outbox_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// TestDispatchKillChild is the dispatching process of TestDispatchKillNineCreatesNothingTwice:
// it runs only when started by that test, and dispatches until it is killed.
func TestDispatchKillChild(t *testing.T) {
	dbURL, simURL := os.Getenv("XEROSYNC_TEST_DISPATCH_DB"), os.Getenv("XEROSYNC_TEST_DISPATCH_SIM")
	if dbURL == "" || simURL == "" {
		t.Skip("started by TestDispatchKillNineCreatesNothingTwice only")
	}
	// Small batches: more requests, so kills land between and inside more of them.
	runChildDispatcher(t, dbURL, simURL, os.Getenv("XEROSYNC_TEST_DISPATCH_KEY"), 7, func(c *xero.Config) {
		c.WriteTimeout, c.ReadTimeout = 5*time.Second, 5*time.Second
	})
}

// runChildDispatcher is the dispatching process a kill -9 test starts (it re-runs the test
// binary): a dispatcher against the parent's database and simulator, with the token key given
// in hex, until the parent kills it. set adjusts the Xero client (its clock, its timeouts).
func runChildDispatcher(t *testing.T, dbURL, simURL, hexKey string, batch int, set func(*xero.Config)) {
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	def := xerosim.DefaultClient()
	xcfg := xero.Config{APIURL: simURL, IdentityURL: simURL, LoginURL: simURL,
		ClientID: def.ID, ClientSecret: def.Secret, RedirectURL: def.RedirectURIs[0]}
	set(&xcfg)
	client, err := xero.New(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: pool, Key: key, Refresher: client, Now: xcfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	d, err := outbox.NewDispatcher(outbox.DispatcherConfig{DB: pool, Xero: client, Tokens: store, Logger: log, Now: xcfg.Now, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// A dispatcher killed with SIGKILL at many points, while Xero drops responses after applying
// the request, creates every contact, invoice and payment exactly once. The simulator lives
// in this process, so it outlives every child and sees every request.
func TestDispatchKillNineCreatesNothingTwice(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a subprocess many times")
	}
	s := newDispatchSetup(t, dsetupConfig{sim: xerosim.Config{
		Seed:   7,
		Limits: xerosim.Limits{PerMinute: 1_000_000, PerDay: 1_000_000, AppPerMinute: 1_000_000},
	}})
	ctx := context.Background()

	type payment struct{ invoice, ref string }
	var customers, numbers []string
	var payments []payment
	invoiceIDs := map[string]string{} // number → Softbooq invoice id
	for c := range 25 {
		customer, _ := s.contact(fmt.Sprintf("Killed %02d Ltd", c), fmt.Sprintf("k%02d@example.com", c))
		customers = append(customers, customer)
		if c%5 == 0 {
			s.update(customer, outbox.ContactFields{Name: fmt.Sprintf("Killed %02d Limited", c), Email: fmt.Sprintf("k%02d@example.com", c)})
		}
		for range 2 {
			inv, number, _ := s.invoice(customer)
			numbers = append(numbers, number)
			invoiceIDs[number] = inv
			ref := "P-" + number
			s.payment(inv, "10.00", ref)
			payments = append(payments, payment{inv, ref})
			if c%4 == 0 {
				s.payment(inv, "10.00", ref) // an equal second payment: two payments
				payments = append(payments, payment{inv, ref})
			}
		}
	}
	total := s.scalar("SELECT count(*)::text FROM xerosync.outbox")
	s.sim.SetFaults(xerosim.Faults{RateLostResponse: 0.3, Rate5xx: 0.05})

	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDispatchKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "XEROSYNC_TEST_DISPATCH_DB="+s.db.URL, "XEROSYNC_TEST_DISPATCH_SIM="+s.srv.URL,
			"XEROSYNC_TEST_DISPATCH_KEY="+hex.EncodeToString(s.key))
		cmd.Stdout, cmd.Stderr = tlog{t}, tlog{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const kills = 20
	for range kills {
		cmd := child()
		// Chaos timing on purpose, not a wait for a state: the kill lands at a random
		// moment of the child's dispatch (claim, request, record), which is what is tested.
		time.Sleep(time.Duration(150+rng.IntN(700)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	done := s.scalar("SELECT count(*)::text FROM xerosync.outbox WHERE state = 'done'")
	t.Logf("after %d kills: %s of %s rows done, %d requests", kills, done, total, s.sim.Stats().Requests)

	// One last run to quiescence. Rows that failed transiently often during the kills sit in
	// backoffs of minutes; the operator's retry flag makes them due now (SPEC §3), and Xero
	// stops losing responses so the run ends.
	s.sim.ClearFaults()
	s.db.Exec(t, "UPDATE xerosync.outbox SET retry_requested = true WHERE state IN ('pending', 'in_flight')")
	cmd := child()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitFor(t, 3*time.Minute, "every row done", func() bool {
		var open int
		_ = s.db.Pool.QueryRow(ctx, "SELECT count(*) FROM xerosync.outbox WHERE state <> 'done'").Scan(&open)
		return open == 0
	})

	for _, c := range customers {
		if n := s.sim.ContactCreations(s.org, c); n != 1 {
			t.Errorf("contact %s created %d times", c, n)
		}
	}
	invoices := map[string]string{} // number → Xero id
	for _, inv := range s.sim.Invoices(s.org) {
		invoices[inv.InvoiceNumber] = inv.InvoiceID
	}
	for _, n := range numbers {
		if c := s.sim.InvoiceCreations(s.org, n); c != 1 {
			t.Errorf("invoice %s created %d times", n, c)
		}
	}
	want := map[payment]int{}
	for _, p := range payments {
		want[p]++
	}
	for p, n := range want {
		number := ""
		for k, v := range invoiceIDs {
			if v == p.invoice {
				number = k
			}
		}
		if got := s.sim.PaymentCreations(s.org, invoices[number], p.ref); got != n {
			t.Errorf("payment %s of %s created %d times, want %d", p.ref, number, got, n)
		}
	}
	st := s.sim.Stats()
	t.Logf("%d kills, %d rows, %d requests, faults %v: everything in Xero exactly once", kills+1, len(customers)+len(numbers)+len(payments), st.Requests, st.Faults)
}
