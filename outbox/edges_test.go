package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// Exactly once at the edges (issue 10): Xero records we did not make, oversized batches and
// an operator's hand. Each test runs through capture, the enqueuer and the dispatcher against
// PostgreSQL and the simulator.

// accountant is somebody typing into the organisation through another app (Xero's own web
// app, as far as createdByMyApp is concerned): what it makes is not ours.
func (s *dsetup) accountant() *xero.Org {
	s.t.Helper()
	app := xerosim.Client{ID: "xero-web-app", Secret: "web-secret", Name: "Xero", RedirectURIs: []string{"http://localhost/cb"}}
	s.sim.AddClient(app)
	ts, err := s.sim.IssueTokens(app.ID, xero.DefaultScopes, s.org)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := xero.New(xero.Config{APIURL: s.srv.URL, IdentityURL: s.srv.URL, LoginURL: s.srv.URL,
		ClientID: app.ID, ClientSecret: app.Secret, RedirectURL: app.RedirectURIs[0], HTTPClient: s.srv.Client(), Now: s.sim.Now})
	if err != nil {
		s.t.Fatal(err)
	}
	return c.Org(s.org, xero.StaticTokenSource{Token: xero.NewSecret(ts.AccessToken)})
}

// accountantInvoice makes an authorised invoice in Xero, for a contact of the accountant's
// own, with the given number.
func accountantInvoice(t *testing.T, org *xero.Org, contactID, number string) string {
	t.Helper()
	res, err := org.CreateInvoices(context.Background(), xero.CreateInvoicesParams{IdempotencyKey: "acct-" + number, Invoices: []xero.Invoice{{
		Type: "ACCREC", Contact: &xero.ContactRef{ContactID: contactID}, InvoiceNumber: number, CurrencyCode: "NZD",
		Status: "AUTHORISED", LineAmountTypes: "Exclusive", Date: xero.DateOf(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)),
		LineItems: []xero.LineItem{{Description: "Bookkeeping", Quantity: xero.MustDecimal("1"), UnitAmount: xero.MustDecimal("500.00"), AccountCode: "200", TaxType: "OUTPUT2"}},
	}}})
	if err != nil || !res[0].OK() {
		t.Fatalf("accountant's invoice %s: %v %+v", number, err, res)
	}
	return res[0].XeroID
}

// Defect 1: Xero holds INV-00001 and INV-00002 for another contact, typed by an accountant.
// Softbooq issues its own INV-00001 and pays it, and its own INV-00002 and voids it. Nothing
// of ours may be linked to, paid on or voided in the accountant's invoices: our two issues
// fail InvoiceNumberInUse naming the holder, and their payment and void wait behind them.
func TestForeignInvoiceNumberIsNeverLinked(t *testing.T) {
	t.Parallel()
	h := newHostileSetup(t)
	acct := h.accountant()
	res, err := acct.CreateContacts(context.Background(), xero.CreateContactsParams{IdempotencyKey: "acct-c",
		Contacts: []xero.Contact{{Name: "Somebody Else Ltd"}}})
	if err != nil || !res[0].OK() {
		t.Fatalf("accountant's contact: %v %+v", err, res)
	}
	theirs1 := accountantInvoice(t, acct, res[0].XeroID, "INV-00001")
	theirs2 := accountantInvoice(t, acct, res[0].XeroID, "INV-00002")

	cust := h.customer(t, "Our Customer Ltd", nil)
	inv1 := h.invoice(t, cust, "INV-00001", "NZD", "2026-11-02", hline{"1", "200.00", "0", "services"})
	inv2 := h.invoice(t, cust, "INV-00002", "NZD", "2026-11-02", hline{"1", "100.00", "0", "services"})
	h.exec(t, `INSERT INTO finance.payments (tenant_id, invoice_id, amount, paid_on, method, reference)
		VALUES ($1, $2, 230.00, '2026-11-03', 'bank_transfer', 'DEP-9')`, h.tenant, inv1)
	h.exec(t, "UPDATE finance.invoices SET status = 'void', voided_at = now() WHERE id = $1", inv2)

	rows1 := h.rowsOf(t, outbox.EntityInvoice, inv1)
	rows2 := h.rowsOf(t, outbox.EntityInvoice, inv2)
	for i, holder := range []string{theirs1, theirs2} {
		issue := []int64{rows1[0], rows2[0]}[i]
		h.wantFailed(t, issue, string(xero.CodeInvoiceNumberInUse))
		if r := h.rowOf(t, issue); !strings.Contains(r.Error, holder) || r.XeroID != "" {
			t.Errorf("row %d: the message must name the holder %s and nothing be linked: %+v", issue, holder, r)
		}
	}
	// The canary goes through: the refusals held back only their own dependents.
	h.canary(t, "foreign-number")
	pay := h.rowsOf(t, outbox.EntityPayment, h.one(t, "SELECT id::text FROM finance.payments WHERE invoice_id = $1", inv1))
	if r := h.rowOf(t, pay[0]); r.State != outbox.StatePending || r.Attempts != 0 {
		t.Errorf("the payment of a refused invoice must wait, unsent: %+v", r)
	}
	if len(rows2) != 2 || h.rowOf(t, rows2[1]).State != outbox.StatePending || h.rowOf(t, rows2[1]).Attempts != 0 {
		t.Errorf("the void of a refused invoice must wait, unsent: rows %v", rows2)
	}
	if n := h.one(t, "SELECT count(*) FROM xerosync.entities WHERE entity = 'invoice' AND xero_id IS NOT NULL AND entity_id IN ($1, $2)", inv1, inv2); n != "0" {
		t.Errorf("%s of our invoices linked to the accountant's", n)
	}
	for _, x := range h.sim.Invoices(h.org) {
		switch x.InvoiceID {
		case theirs1, theirs2:
			if x.Status != "AUTHORISED" || len(x.PaymentIDs) != 0 || x.Total != "575.00" {
				t.Errorf("the accountant's %s was touched: %+v", x.InvoiceNumber, x)
			}
		}
	}
	if n := len(h.sim.Payments(h.org)); n != 0 {
		t.Errorf("xero holds %d payments, want none", n)
	}
}

// Defect 2: twelve invoices issued together, nine of them about 0.4 MB (100 lines of 4,000
// characters), make 3.7 MB: too much for one request. Batches are cut by size, so all twelve
// reach Xero, no request is over Xero's 3.5 MB, and a thirteenth invoice of 3.6 MB on its
// own fails alone, saying why, while the others go.
func TestOversizedBatchesAreCutBySize(t *testing.T) {
	t.Parallel()
	h := newHostileSetup(t)
	cust := h.customer(t, "Big Spender Ltd", nil)
	h.wantDone(t, h.rowsOf(t, outbox.EntityContact, cust)[0])
	draft := func(number string, lines, width int) string {
		id := h.one(t, `INSERT INTO finance.invoices (tenant_id, customer_id, number, currency, issue_date, due_date)
			VALUES ($1, $2, $3, 'NZD', '2026-11-02', '2026-12-02') RETURNING id::text`, h.tenant, cust, number)
		h.exec(t, `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, revenue_category)
			SELECT $1, $2, g, g || ' ' || repeat('x', $4 - 8), 1, 10.00, 'services' FROM generate_series(1, $3::int) g`, id, h.tenant, lines, width)
		return id
	}
	var ids []string
	for i := range 12 {
		lines := 100
		if i%4 == 3 {
			lines = 1 // three small ones among the large
		}
		ids = append(ids, draft(fmt.Sprintf("BIG-%02d", i+1), lines, 4000))
	}
	huge := draft("HUGE-01", 900, 4000) // 3.6 MB alone
	h.exec(t, "UPDATE finance.invoices SET status = 'issued', issued_at = now() WHERE id = ANY($1::uuid[])", append(ids, huge))

	for _, id := range ids {
		h.wantDone(t, h.rowsOf(t, outbox.EntityInvoice, id)[0])
	}
	row := h.rowsOf(t, outbox.EntityInvoice, huge)[0]
	h.wantFailed(t, row, string(xero.CodeValidationError))
	if r := h.rowOf(t, row); !strings.Contains(r.Error, "HUGE-01") || !strings.Contains(r.Error, "3.5 MB") || r.Attempts != 1 {
		t.Errorf("the oversized invoice's message must name it and the limit: %+v", r)
	}
	puts := 0
	for _, r := range h.sim.Requests() {
		if r.Method == "PUT" && r.Endpoint == epInvoices {
			puts++
			if len(r.Body) > xero.MaxRequestBody || r.Status != 200 {
				t.Errorf("a request of %d bytes answered %d", len(r.Body), r.Status)
			}
		}
	}
	if puts < 2 {
		t.Errorf("%d PUT /Invoices for 3.7 MB of invoices, want them cut in at least 2", puts)
	}
}

// Defect 3: an operator's open transaction holds FOR UPDATE on an outbox row for longer than
// the outcome write may take, while the row's request is under way. The outcome is kept and
// written once the lock goes (never dropped, the row never sent again), the row shows as in
// flight meanwhile, and its payment follows.
func TestOutcomeWaitsForAnOperatorsLock(t *testing.T) {
	t.Parallel()
	inRequest := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	s := newDispatchSetup(t, dsetupConfig{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && r.URL.Path == epInvoices {
				once.Do(func() { close(inRequest); <-release })
			}
			h.ServeHTTP(w, r)
		})
	}})
	customer, cRow := s.contact("Locked Ltd", "")
	invoice, number, iRow := s.invoiceWith(customer, nil)
	_, pRow := s.payment(invoice, "20.00", "LOCK-1")
	s.start(func(c *outbox.DispatcherConfig) { c.RecordTimeout = 300 * time.Millisecond })
	s.wait(outbox.StateDone, cRow)
	<-inRequest

	// The operator at a psql prompt: BEGIN; SELECT … FOR UPDATE; (and goes for coffee).
	ctx := context.Background()
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT * FROM xerosync.outbox WHERE id = $1 FOR UPDATE", iRow); err != nil {
		t.Fatal(err)
	}
	close(release)
	// The request completes in Xero; its outcome cannot be written while the lock is held:
	// tried (and timed out) several times over, the row stays in flight.
	// Seen as writes waiting on our lock, a later one after an earlier one timed out.
	var first time.Time
	waitFor(t, 30*time.Second, "the outcome's write to be tried again after it timed out", func() bool {
		var started *time.Time
		if err := s.db.Pool.QueryRow(ctx, `SELECT max(query_start) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE xerosync.outbox%'`).Scan(&started); err != nil {
			t.Fatal(err)
		}
		if started != nil && first.IsZero() {
			first = *started
		}
		return started != nil && started.After(first)
	})
	if n := s.sim.InvoiceCreations(s.org, number); n != 1 {
		t.Fatalf("invoice created %d times", n)
	}
	if r := s.row(iRow); r.State != outbox.StateInFlight {
		t.Fatalf("invoice row %+v, want in_flight while locked", r)
	}
	// The rest of the tenant keeps moving meanwhile: only the locked row's entity and its
	// dependents wait.
	_, other := s.contact("Unlocked Ltd", "")
	s.wait(outbox.StateDone, other)
	st, err := outbox.Stats(ctx, s.db.Pool, s.tenant, false)
	if err != nil || st[s.tenant].Rows[outbox.StateInFlight] != 1 || st[s.tenant].OldestInFlightAge <= 0 {
		t.Fatalf("stats while locked: %+v %v", st[s.tenant], err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	s.wait(outbox.StateDone, iRow, pRow)
	if n := s.sim.InvoiceCreations(s.org, number); n != 1 {
		t.Errorf("invoice created %d times", n)
	}
	if r := s.row(iRow); r.Attempts != 1 {
		t.Errorf("invoice row %+v: its one attempt must be recorded as done", r)
	}
}

// Defect 5: a done payment set back to pending by hand, after Xero's 6-minute idempotency
// window and with its payload edited, would be a second payment. The UPDATE is refused; and
// a row that gets there anyway (the trigger bypassed, or a row inserted by hand) is finished
// from what we know of Xero, without a call.
func TestDonePaymentSetBackByHandIsNotPushedAgain(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	customer, cRow := s.contact("Paid Ltd", "")
	invoice, _, iRow := s.invoiceWith(customer, nil)
	payment, pRow := s.payment(invoice, "20.00", "HAND-1")
	s.start(nil)
	s.wait(outbox.StateDone, cRow, iRow, pRow)
	s.sim.Advance(7 * time.Minute)
	xeroInvoice := s.row(iRow).XeroID

	ctx := context.Background()
	_, err := s.db.Pool.Exec(ctx, "UPDATE xerosync.outbox SET state = 'pending' WHERE id = $1", pRow)
	if err == nil || !strings.Contains(err.Error(), "is done") {
		t.Fatalf("setting a done row back to pending: %v, want it refused", err)
	}

	// Bypassed: the row goes back with its amount edited, and a copy is inserted by hand.
	s.db.Exec(t, "ALTER TABLE xerosync.outbox DISABLE TRIGGER outbox_done_is_final")
	s.db.Exec(t, `UPDATE xerosync.outbox SET state = 'pending', next_attempt_at = now(),
		payload = jsonb_set(payload::jsonb, '{amount}', '"25.00"')::json WHERE id = $1`, pRow)
	copyRow := s.queue(outbox.EntityPayment, payment, outbox.ActionPay, outbox.EntityInvoice, invoice, // a second row of the same payment
		outbox.PaymentPayload{PaymentID: payment, InvoiceID: invoice, Amount: "20.00", PaidOn: "2026-03-05", Method: "bank_transfer", Reference: ptr("HAND-1")})
	_, _, invoiceAgain := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.InvoiceID = invoice })
	s.db.Exec(t, "SELECT pg_notify($1, $2)", outbox.NotifyChannel, s.tenant)
	s.wait(outbox.StateDone, pRow, copyRow, invoiceAgain)
	if n := s.sim.PaymentCreations(s.org, xeroInvoice, "HAND-1"); n != 1 {
		t.Errorf("%d payments in Xero, want 1", n)
	}
	if n := len(s.sim.Invoices(s.org)); n != 1 {
		t.Errorf("%d invoices in Xero, want 1", n)
	}
	for _, id := range []int64{pRow, copyRow} {
		if r := s.row(id); !strings.EqualFold(r.XeroID, s.row(pRow).XeroID) || r.XeroID == "" {
			t.Errorf("row %d %+v: want it done as the payment Xero holds", id, r)
		}
	}
}
