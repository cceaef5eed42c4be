package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// dsetup is a database with one tenant connected to a simulated Xero organisation, its
// mappings, and (once started) a dispatcher. Rows are queued directly, as the enqueuer
// writes them, with the same NOTIFY.
type dsetup struct {
	t      testing.TB
	db     *pgtest.DB
	sim    *xerosim.Sim
	srv    *httptest.Server
	client *xero.Client
	store  *tenant.TokenStore
	key    []byte
	tenant string
	org    string
	log    *slog.Logger
	seq    int
	d      *outbox.Dispatcher // the one start runs
}

type dsetupConfig struct {
	sim  xerosim.Config
	org  func(*xerosim.OrgConfig)
	wrap func(http.Handler) http.Handler // around the simulator, to observe its traffic
}

func newDispatchSetup(t testing.TB, cfg dsetupConfig) *dsetup {
	t.Helper()
	s := &dsetup{t: t, db: pgtest.New(t)}
	s.log = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cfg.wrap == nil {
		s.sim, s.srv = xerosim.NewServer(t, cfg.sim)
	} else {
		s.sim = xerosim.New(cfg.sim)
		s.srv = httptest.NewServer(cfg.wrap(s.sim))
		t.Cleanup(s.srv.Close)
	}
	oc := xerosim.DefaultOrg("Acme Ltd")
	if cfg.org != nil {
		cfg.org(&oc)
	}
	s.org = s.sim.MustAddOrg(oc)
	s.tenant = s.scalar("INSERT INTO core.tenants (name) VALUES ('acme') RETURNING id::text")
	s.db.Exec(t, `INSERT INTO integrations.xero_account_mappings VALUES ($1, 'services', '200'), ($1, 'bad', '999')`, s.tenant)
	s.db.Exec(t, `INSERT INTO integrations.xero_tax_mappings VALUES ($1, 'GST15', 'OUTPUT2'), ($1, 'PURCHASE', 'INPUT2')`, s.tenant)
	s.db.Exec(t, `INSERT INTO integrations.xero_payment_accounts VALUES ($1, 'bank_transfer', '090')`, s.tenant)
	def := xerosim.DefaultClient()
	var err error
	s.client, err = xero.New(xero.Config{
		APIURL: s.srv.URL, IdentityURL: s.srv.URL, LoginURL: s.srv.URL,
		ClientID: def.ID, ClientSecret: def.Secret, RedirectURL: def.RedirectURIs[0],
		HTTPClient: s.srv.Client(), Now: s.sim.Now, Logger: s.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.key = make([]byte, 32)
	_, _ = rand.Read(s.key)
	s.store, err = tenant.NewTokenStore(tenant.TokenStoreConfig{DB: s.db.Pool, Key: s.key, Refresher: s.client, Now: s.sim.Now, Logger: s.log})
	if err != nil {
		t.Fatal(err)
	}
	s.connect()
	return s
}

// connect does what `xerosync connect` does: a consent in Xero, the token set saved.
func (s *dsetup) connect() {
	s.t.Helper()
	saveConnection(s.t, s.sim, s.store, s.tenant, s.org)
}

func saveConnection(t testing.TB, sim *xerosim.Sim, store *tenant.TokenStore, tenant, org string) {
	t.Helper()
	ts, err := sim.IssueTokens(xerosim.DefaultClient().ID, xero.DefaultScopes, org)
	if err != nil {
		t.Fatal(err)
	}
	tok := &oauth2.Token{AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken, TokenType: "Bearer", ExpiresIn: int64(ts.ExpiresIn)}
	conn := xero.Connection{ID: "4a1c7a3e-0000-4000-8000-000000000001", TenantID: org, TenantName: "Acme Ltd"}
	if err := store.Save(context.Background(), tenant, conn, tok); err != nil {
		t.Fatal(err)
	}
}

// start runs a dispatcher until the test ends; Run must return nil.
func (s *dsetup) start(mutate func(*outbox.DispatcherConfig)) {
	s.t.Helper()
	cfg := outbox.DispatcherConfig{DB: s.db.Pool, Xero: s.client, Tokens: s.store, Logger: s.log}
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := outbox.NewDispatcher(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	s.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				s.t.Errorf("dispatcher: %v", err)
			}
		case <-time.After(time.Minute):
			s.t.Error("dispatcher did not stop")
		}
	})
}

func (s *dsetup) scalar(sql string, args ...any) string {
	s.t.Helper()
	return scalar(s.t, s.db, sql, args...)
}

func (s *dsetup) uuid() string { return s.scalar("SELECT gen_random_uuid()::text") }

// queue writes an outbox row and notifies, in one transaction, as the enqueuer does.
func (s *dsetup) queue(entity, id, action, depEntity, depID string, payload any) int64 {
	s.t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	var depE, depI any
	if depEntity != "" {
		depE, depI = depEntity, depID
	}
	var rowID int64
	err = pgx.BeginFunc(context.Background(), s.db.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(context.Background(), `INSERT INTO xerosync.outbox
			(tenant_id, entity, entity_id, action, depends_entity, depends_entity_id, payload, source)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'backfill') RETURNING id`,
			s.tenant, entity, id, action, depE, depI, string(body)).Scan(&rowID); err != nil {
			return err
		}
		if entity == outbox.EntityInvoice && action == outbox.ActionIssue {
			if _, err := tx.Exec(context.Background(), `INSERT INTO xerosync.entities (entity, entity_id, tenant_id, issued)
				VALUES ('invoice', $1, $2, true) ON CONFLICT DO NOTHING`, id, s.tenant); err != nil {
				return err
			}
		}
		_, err := tx.Exec(context.Background(), "SELECT pg_notify($1, $2)", outbox.NotifyChannel, s.tenant)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return rowID
}

func (s *dsetup) contactWith(p outbox.ContactPayload) (string, int64) {
	if p.CustomerID == "" {
		p.CustomerID = s.uuid()
	}
	return p.CustomerID, s.queue(outbox.EntityContact, p.CustomerID, outbox.ActionUpsert, "", "", p)
}

func (s *dsetup) contact(name, email string) (string, int64) {
	return s.contactWith(outbox.ContactPayload{ContactFields: outbox.ContactFields{Name: name, Email: email}})
}

func (s *dsetup) update(customer string, f outbox.ContactFields) int64 {
	return s.queue(outbox.EntityContact, customer, outbox.ActionUpsert, "", "", outbox.ContactPayload{CustomerID: customer, ContactFields: f})
}

func ptr(s string) *string { return &s }

func line(category string, tax *string) outbox.InvoiceLine {
	return outbox.InvoiceLine{Position: 1, Description: "Consulting", Quantity: "2.0000", UnitPrice: "100.0000",
		DiscountRate: "0.00", RevenueCategory: category, TaxComponent: tax}
}

func (s *dsetup) invoiceWith(customer string, mutate func(*outbox.InvoicePayload)) (string, string, int64) {
	s.seq++
	p := outbox.InvoicePayload{
		InvoiceID: s.uuid(), CustomerID: customer, Number: fmt.Sprintf("INV-%05d", s.seq), Status: "issued",
		Currency: "NZD", IssueDate: ptr("2026-03-02"), DueDate: ptr("2026-03-31"), Reference: ptr("PO-7"),
		AmountsTax: "exclusive", Lines: []outbox.InvoiceLine{line("services", ptr("GST15"))},
	}
	if mutate != nil {
		mutate(&p)
	}
	return p.InvoiceID, p.Number, s.queue(outbox.EntityInvoice, p.InvoiceID, outbox.ActionIssue, outbox.EntityContact, customer, p)
}

func (s *dsetup) invoice(customer string) (string, string, int64) {
	return s.invoiceWith(customer, nil)
}

func (s *dsetup) payment(invoice, amount, ref string) (string, int64) {
	id := s.uuid()
	p := outbox.PaymentPayload{PaymentID: id, InvoiceID: invoice, Amount: amount, PaidOn: "2026-03-05", Method: "bank_transfer", Reference: ptr(ref)}
	return id, s.queue(outbox.EntityPayment, id, outbox.ActionPay, outbox.EntityInvoice, invoice, p)
}

func (s *dsetup) void(invoice, number string) int64 {
	return s.queue(outbox.EntityInvoice, invoice, outbox.ActionVoid, outbox.EntityInvoice, invoice, outbox.VoidPayload{InvoiceID: invoice, Number: number})
}

type rowState struct {
	State, Code, Error, XeroID, Key string
	Attempts                        int
}

func (s *dsetup) row(id int64) rowState {
	s.t.Helper()
	return readRow(s.t, s.db, id)
}

// readRow reads an outbox row's state as the tests compare it.
func readRow(t testing.TB, db *pgtest.DB, id int64) rowState {
	t.Helper()
	var r rowState
	if err := db.Pool.QueryRow(context.Background(), `SELECT state, coalesce(last_error_code, ''), coalesce(last_error, ''),
		coalesce(xero_id::text, ''), coalesce(idempotency_key, ''), attempts FROM xerosync.outbox WHERE id = $1`, id).
		Scan(&r.State, &r.Code, &r.Error, &r.XeroID, &r.Key, &r.Attempts); err != nil {
		t.Fatal(err)
	}
	return r
}

// wait waits for rows to reach state.
func (s *dsetup) wait(state string, ids ...int64) {
	s.t.Helper()
	for _, id := range ids {
		func() {
			var r rowState
			defer func() { // Eventually's Fatalf unwinds through here
				if r.State != state {
					s.t.Logf("row %d last seen: %+v", id, r)
				}
			}()
			pgtest.Eventually(s.t, 60*time.Second, fmt.Sprintf("row %d to be %s", id, state), func() bool {
				r = s.row(id)
				return r.State == state
			})
		}()
	}
}

// writes lists the bodies of successful method requests to endpoint, in arrival order.
func (s *dsetup) writes(method, endpoint string) []map[string]any {
	var out []map[string]any
	for _, r := range s.sim.Requests() {
		if r.Method == method && r.Endpoint == endpoint {
			var body map[string]any
			_ = json.Unmarshal(r.Body, &body)
			if r.IdempotencyKey == "" {
				s.t.Errorf("%s %s sent without an Idempotency-Key", method, endpoint)
			}
			out = append(out, body)
		}
	}
	return out
}

const (
	epContacts = "/api.xro/2.0/Contacts"
	epInvoices = "/api.xro/2.0/Invoices"
	epPayments = "/api.xro/2.0/Payments"
)

// The whole chain, mapped as SPEC §1 says, in dependency order, each write once with a key.
func TestDispatchPushesContactInvoicePayment(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	customer, cRow := s.contactWith(outbox.ContactPayload{ContactFields: outbox.ContactFields{
		Name: "Ada Ltd", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Phone: "+64 9 555 0101",
		TaxNumber: "12-345-678", AddressLine1: "1 Queen St", City: "Auckland", PostalCode: "1010", CountryCode: "NZ",
	}})
	invoice, number, iRow := s.invoiceWith(customer, func(p *outbox.InvoicePayload) {
		p.Lines = []outbox.InvoiceLine{
			{Position: 2, Description: "Widgets", Quantity: "3.0000", UnitPrice: "0.3333", DiscountRate: "10.00", RevenueCategory: "services", TaxComponent: nil, ItemCode: ptr("W-1")},
			line("services", ptr("GST15")),
		}
	})
	_, pRow := s.payment(invoice, "50.00", "DEP-1")
	s.start(nil)
	s.wait(outbox.StateDone, cRow, iRow, pRow)

	contacts := s.sim.Contacts(s.org)
	if len(contacts) != 1 {
		t.Fatalf("xero has %d contacts", len(contacts))
	}
	c := contacts[0]
	if c.ContactNumber != customer || c.Name != "Ada Ltd" || c.EmailAddress != "ada@example.com" || c.FirstName != "Ada" || c.TaxNumber != "12-345-678" || c.ContactStatus != "ACTIVE" {
		t.Errorf("contact %+v", c)
	}
	if !strings.Contains(string(c.Phones), "+64 9 555 0101") || !strings.Contains(string(c.Addresses), "STREET") || !strings.Contains(string(c.Addresses), "Auckland") {
		t.Errorf("contact phones %s addresses %s", c.Phones, c.Addresses)
	}
	if got := s.row(cRow).XeroID; got != c.ContactID {
		t.Errorf("contact row xero_id %s, want %s", got, c.ContactID)
	}
	invs := s.sim.Invoices(s.org)
	if len(invs) != 1 {
		t.Fatalf("xero has %d invoices", len(invs))
	}
	inv := invs[0]
	if inv.InvoiceNumber != number || inv.Type != "ACCREC" || inv.Status != "PAID" && inv.Status != "AUTHORISED" || inv.ContactID != c.ContactID ||
		inv.Reference != "PO-7" || inv.CurrencyCode != "NZD" || inv.LineAmountTypes != "Exclusive" || inv.Date.Format(time.DateOnly) != "2026-03-02" {
		t.Errorf("invoice %+v", inv)
	}
	if len(inv.LineItems) != 2 || inv.LineItems[0].Description != "Consulting" || inv.LineItems[0].TaxType != "OUTPUT2" ||
		inv.LineItems[0].AccountCode != "200" || inv.LineItems[1].TaxType != "NONE" || inv.LineItems[1].UnitAmount != "0.3333" ||
		inv.LineItems[1].DiscountRate != "10.00" || inv.LineItems[1].ItemCode != "W-1" {
		t.Errorf("lines %+v", inv.LineItems)
	}
	pays := s.sim.Payments(s.org)
	if len(pays) != 1 || pays[0].InvoiceID != inv.InvoiceID || pays[0].AccountCode != "090" || pays[0].Amount != "50.00" || pays[0].Reference != "DEP-1" {
		t.Errorf("payments %+v", pays)
	}
	if s.sim.InvoiceCreations(s.org, number) != 1 || s.sim.ContactCreations(s.org, customer) != 1 || s.sim.PaymentCreations(s.org, inv.InvoiceID, "DEP-1") != 1 {
		t.Error("something was created twice")
	}
	// Each write's key is stored on its row.
	if k := s.row(iRow).Key; !strings.HasPrefix(k, "xerosync-") {
		t.Errorf("invoice row key %q", k)
	}
	// Dependency order on the wire.
	var order []string
	for _, r := range s.sim.Requests() {
		if r.Method == "PUT" {
			order = append(order, r.Endpoint)
		}
	}
	if strings.Join(order, " ") != strings.Join([]string{epContacts, epInvoices, epPayments}, " ") {
		t.Errorf("writes in order %v", order)
	}
	_ = s.writes("PUT", epInvoices) // asserts keys were sent
}

// The changes of one contact reach Xero one after another, in commit order, and the first
// push links an existing Xero contact by email instead of creating one.
func TestDispatchPerEntityOrderAndLinking(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	// A contact that exists in Xero already, with another case of the email.
	existing := createXeroContact(t, s, "Bob Existing", "BOB@Example.com")
	customer, r1 := s.contact("Bob Ltd", "bob@example.com")
	r2 := s.update(customer, outbox.ContactFields{Name: "Bob Ltd 2", Email: "bob@example.com"})
	r3 := s.update(customer, outbox.ContactFields{Name: "Bob Ltd 3", Email: "bob@example.com", Archived: true})
	s.start(nil)
	s.wait(outbox.StateDone, r1, r2, r3)
	cs := s.sim.Contacts(s.org)
	if len(cs) != 1 || cs[0].ContactID != existing || cs[0].Name != "Bob Ltd 3" || cs[0].ContactNumber != customer || cs[0].ContactStatus != "ARCHIVED" {
		t.Fatalf("contacts %+v", cs)
	}
	var names []string
	for _, b := range s.writes("POST", epContacts) {
		for _, c := range b["Contacts"].([]any) {
			names = append(names, c.(map[string]any)["Name"].(string))
		}
	}
	// Pending upserts of one contact are folded into one request with the newest snapshot
	// (SPEC §1 allows it): whatever was sent, an older snapshot never follows a newer one.
	for i := 1; i < len(names); i++ {
		if names[i] < names[i-1] {
			t.Errorf("updates out of order %v", names)
		}
	}
	if len(names) == 0 || names[len(names)-1] != "Bob Ltd 3" {
		t.Errorf("updates %v do not end with the newest", names)
	}
	if n := len(s.writes("PUT", epContacts)); n != 1 { // the set-up's own
		t.Errorf("%d creates for a contact that existed", n-1)
	}
}

// A step of new contacts is looked up in the contact directory, filled by one read of
// Xero's contacts: no call per contact (issue 12; before the directory this step cost ten
// email searches and a ContactNumber query). The contact already in Xero under its customer
// id is linked, not created again; the others go out in one create.
func TestDispatchNewContactsLinkFromDirectory(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	var rows []int64
	var customers []string
	for i := range 10 {
		customer, r := s.contact(fmt.Sprintf("Customer %02d", i), fmt.Sprintf("c%02d@example.com", i))
		customers, rows = append(customers, customer), append(rows, r)
	}
	saveConnection(t, s.sim, s.store, s.tenant, s.org)
	org := s.client.Org(s.org, s.store.Source(s.tenant))
	res, err := org.CreateContacts(context.Background(), xero.CreateContactsParams{
		Contacts:       []xero.Contact{{Name: "Customer 03 (made by an earlier xerosync)", ContactNumber: customers[3]}},
		IdempotencyKey: "setup-number",
	})
	if err != nil || !res[0].OK() {
		t.Fatalf("create contact: %v %+v", err, res)
	}
	before := len(s.sim.Requests())
	s.start(nil)
	s.wait(outbox.StateDone, rows...)

	var reads, creates, updates int
	for _, r := range s.sim.Requests()[before:] {
		switch {
		case r.Method == "GET" && r.Endpoint == epContacts && strings.Contains(r.Query, "summaryOnly=true") && !strings.Contains(r.Query, "where="):
			reads++
		case r.Method == "GET":
			t.Errorf("unexpected lookup %s %s?%s", r.Method, r.Path, r.Query)
		case r.Method == "PUT" && r.Endpoint == epContacts:
			creates++
		case r.Method == "POST" && r.Endpoint == epContacts:
			updates++
		}
	}
	if reads != 1 || creates != 1 || updates != 1 {
		t.Errorf("%d directory reads, %d creates, %d updates; want 1, 1, 1", reads, creates, updates)
	}
	if got := s.row(rows[3]).XeroID; got != res[0].XeroID {
		t.Errorf("customer 03 linked to %s, want the existing contact %s", got, res[0].XeroID)
	}
	if n := len(s.sim.Contacts(s.org)); n != 10 {
		t.Errorf("xero has %d contacts, want 10", n)
	}
}

func createXeroContact(t testing.TB, s *dsetup, name, email string) string {
	t.Helper()
	saveConnection(t, s.sim, s.store, s.tenant, s.org)
	org := s.client.Org(s.org, s.store.Source(s.tenant))
	res, err := org.CreateContacts(context.Background(), xero.CreateContactsParams{
		Contacts: []xero.Contact{{Name: name, EmailAddress: email}}, IdempotencyKey: "setup-" + name,
	})
	if err != nil || !res[0].OK() {
		t.Fatalf("create contact: %v %+v", err, res)
	}
	return res[0].XeroID
}

// A failed row holds back only what depends on it.
func TestDispatchNoHeadOfLineBlocking(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	a, aRow := s.contact("Alpha", "")
	badInv, _, badRow := s.invoiceWith(a, func(p *outbox.InvoicePayload) { p.Lines[0].RevenueCategory = "unmapped" })
	_, waitingPay := s.payment(badInv, "10.00", "W")
	waitingVoid := s.void(badInv, "x")
	b, bRow := s.contact("Beta", "")
	_, _, goodRow := s.invoice(b)
	_, _, aGood := s.invoice(a) // another invoice of the same customer: not behind the failed one
	s.start(nil)
	s.wait(outbox.StateDone, aRow, bRow, goodRow, aGood)
	s.wait(outbox.StateFailed, badRow)
	if r := s.row(badRow); r.Code != "MappingMissing" || !strings.Contains(r.Error, `"unmapped"`) {
		t.Errorf("failed row %+v", r)
	}
	// The dependents wait, untouched.
	for _, id := range []int64{waitingPay, waitingVoid} {
		if r := s.row(id); r.State != outbox.StatePending || r.Attempts != 0 {
			t.Errorf("dependent row %d: %+v", id, r)
		}
	}
	if n := len(s.writes("PUT", epInvoices)); n > 2 {
		t.Errorf("%d invoice requests", n)
	}
}

// Ready rows of one kind share a request; each element's result lands on its own row.
func TestDispatchBatchMixedResults(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	customer, cRow := s.contact("Batch Co", "")
	var good, bad []int64
	for i := range 6 {
		cat := "services"
		if i%3 == 1 {
			cat = "bad" // mapped to an account code Xero does not have
		}
		_, _, id := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Lines[0].RevenueCategory = cat })
		if cat == "bad" {
			bad = append(bad, id)
		} else {
			good = append(good, id)
		}
	}
	s.start(nil)
	s.wait(outbox.StateDone, cRow)
	s.wait(outbox.StateDone, good...)
	s.wait(outbox.StateFailed, bad...)
	for _, id := range bad {
		if r := s.row(id); r.Code != "InvalidAccountCode" || !strings.Contains(r.Error, "999") {
			t.Errorf("bad row %+v", r)
		}
	}
	puts := s.writes("PUT", epInvoices)
	if len(puts) != 1 || len(puts[0]["Invoices"].([]any)) != 6 {
		t.Fatalf("want one batch of 6 invoices, got %d requests", len(puts))
	}
	keys := map[string]bool{}
	for _, id := range append(good, bad...) {
		keys[s.row(id).Key] = true
	}
	if len(keys) != 1 {
		t.Errorf("one request, %d keys stored", len(keys))
	}
}

// Every SPEC code, each from the situation that produces it, and the failed view.
func TestDispatchPermanentCodes(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{org: func(o *xerosim.OrgConfig) {
		o.PeriodLockDate = time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	}})
	customer, cRow := s.contact("Codes Ltd", "")
	twin, twinRow := s.contact("codes ltd", "") // the same name, another customer
	_, badEmail := s.contact("Mailer", "not an email")
	_, _, acct := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Lines[0].RevenueCategory = "bad" })
	_, _, tax := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Lines[0].TaxComponent = ptr("PURCHASE") })
	_, _, cur := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Currency = "EUR" })
	_, lockedNumber, locked := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.IssueDate = ptr("2026-01-15") })
	_, _, unmappedTax := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Lines[0].TaxComponent = ptr("VAT99") })
	okInv, _, okRow := s.invoice(customer)
	_, tooMuch := s.payment(okInv, "5000.00", "TOO-MUCH")
	s.start(nil)
	s.wait(outbox.StateDone, cRow, okRow)
	want := map[int64]string{
		twinRow: "ContactNameInUse", badEmail: "ValidationError", acct: "InvalidAccountCode", tax: "TaxRateNotFound",
		cur: "CurrencyNotEnabled", locked: "PeriodLocked", unmappedTax: "MappingMissing", tooMuch: "ValidationError",
	}
	for id, code := range want {
		s.wait(outbox.StateFailed, id)
		if r := s.row(id); r.Code != code || r.Error == "" {
			t.Errorf("row %d: code %q (%s), want %s", id, r.Code, r.Error, code)
		}
	}
	if e := s.row(twinRow).Error; !strings.Contains(e, `"codes ltd"`) || !strings.Contains(e, customer) || !strings.Contains(e, s.row(cRow).XeroID) {
		t.Errorf("ContactNameInUse message does not say who holds the name: %s", e)
	}
	if e := s.row(unmappedTax).Error; !strings.Contains(e, `"VAT99"`) {
		t.Errorf("MappingMissing message does not name the component: %s", e)
	}
	var n int
	var number, code string
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*) OVER (), number, last_error_code FROM xerosync.failed WHERE id = $1`, locked).Scan(&n, &number, &code); err != nil {
		t.Fatal(err)
	}
	if number != lockedNumber || code != "PeriodLocked" {
		t.Errorf("failed view: %s %s", number, code)
	}
	var name string
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT name FROM xerosync.failed WHERE id = $1`, twinRow).Scan(&name); err != nil || name != "codes ltd" {
		t.Errorf("failed view name %q, %v", name, err)
	}
	_ = twin
}

// retry_requested and cancel_requested are applied within 2 seconds; a retried row keeps its
// history, a cancelled one releases its dependents.
func TestDispatchRetryAndCancelFlags(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	customer, cRow := s.contact("Flags Ltd", "")
	eur, _, eurRow := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Currency = "EUR" })
	_, eurPay := s.payment(eur, "10.00", "E1")
	gone, _, goneRow := s.invoiceWith(customer, func(p *outbox.InvoicePayload) { p.Lines[0].RevenueCategory = "nowhere" })
	_, gonePay := s.payment(gone, "10.00", "G1")
	s.start(nil)
	s.wait(outbox.StateDone, cRow)
	s.wait(outbox.StateFailed, eurRow, goneRow)

	// The operator enables EUR in Xero, then retries by code.
	if err := s.sim.UpdateOrg(s.org, func(o *xerosim.OrgConfig) {
		o.Currencies = append(o.Currencies, xerosim.Currency{Code: "EUR", Description: "Euro"})
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.db.Exec(t, "UPDATE xerosync.outbox SET retry_requested = true WHERE last_error_code = 'CurrencyNotEnabled'")
	s.db.Exec(t, "UPDATE xerosync.outbox SET cancel_requested = true WHERE id = $1", goneRow)
	waitFor(t, 2*time.Second+500*time.Millisecond, "flags applied", func() bool {
		return s.row(eurRow).State != outbox.StateFailed && s.row(goneRow).State == outbox.StateCancelled
	})
	t.Logf("flags applied after %v", time.Since(start).Round(time.Millisecond))
	s.wait(outbox.StateDone, eurRow, eurPay)
	if r := s.row(eurRow); r.Attempts != 2 {
		t.Errorf("retried row has %d attempts, want 2 (history kept)", r.Attempts)
	}
	var hist int
	if err := s.db.Pool.QueryRow(context.Background(), "SELECT jsonb_array_length(errors) FROM xerosync.outbox WHERE id = $1", eurRow).Scan(&hist); err != nil || hist != 1 {
		t.Errorf("history of the retried row: %d entries, %v", hist, err)
	}
	// The cancelled invoice's payment is released, and fails saying why.
	s.wait(outbox.StateFailed, gonePay)
	if r := s.row(gonePay); r.Code != "ValidationError" || !strings.Contains(r.Error, "cancelled") {
		t.Errorf("payment of a cancelled invoice: %+v", r)
	}
	var flagged int
	if err := s.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM xerosync.outbox WHERE retry_requested OR cancel_requested").Scan(&flagged); err != nil || flagged != 0 {
		t.Errorf("%d flags left set (%v)", flagged, err)
	}
}

// An auth failure parks the tenant: its rows wait without burning attempts, and drain after
// the tenant is connected again.
func TestDispatchAuthFailureAndReconnect(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	s.start(nil)
	_, first := s.contact("Before", "")
	s.wait(outbox.StateDone, first)

	s.sim.RemoveConnection(s.org) // the organisation is disconnected in Xero
	_, parked := s.contact("Parked", "")
	lane := s.d.LaneOf(s.tenant) // the lane that meets the auth failure
	if lane == nil {
		t.Fatal("no lane runs for the tenant")
	}
	waitFor(t, 30*time.Second, "connection auth_failed", func() bool {
		return s.scalar("SELECT state FROM xerosync.connections WHERE tenant_id = $1", s.tenant) == "auth_failed"
	})
	_, later := s.contact("Later", "")
	for _, id := range []int64{parked, later} {
		waitFor(t, 10*time.Second, "row back to pending", func() bool { return s.row(id).State == outbox.StatePending })
	}
	// The negative, proven by the state that makes it true rather than by waiting: the lane
	// that met the failure has returned, and no lane runs for the tenant (an auth_failed
	// tenant gets none), so nothing can retry the rows before the reconnect.
	waitFor(t, 30*time.Second, "the tenant's lane to stop", lane.Exited)
	if s.d.LaneOf(s.tenant) != nil {
		t.Fatal("a lane runs for an auth_failed tenant")
	}
	for _, id := range []int64{parked, later} {
		if r := s.row(id); r.State != outbox.StatePending || r.Attempts != 0 {
			t.Errorf("row %d of an auth_failed tenant: %+v", id, r)
		}
	}

	start := time.Now()
	s.connect()
	s.wait(outbox.StateDone, parked, later)
	t.Logf("drained %v after reconnecting", time.Since(start).Round(time.Millisecond))
	if r := s.row(parked); r.Attempts != 1 {
		t.Errorf("parked row made %d attempts, want 1", r.Attempts)
	}
}

// A response lost after Xero applied the request: the row is reconciled, never created twice.
func TestDispatchReconcilesLostResponses(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	// Twice each: net/http itself resends a request with an Idempotency-Key once when its
	// kept-alive connection dies, and Xero would replay; the second loss is what the
	// dispatcher sees.
	for _, ep := range []string{epContacts, epInvoices, epPayments} {
		s.sim.FailNext(xerosim.Endpoint("PUT", ep), xerosim.FaultLostResponse)
		s.sim.FailNext(xerosim.Endpoint("PUT", ep), xerosim.FaultLostResponse)
	}
	customer, cRow := s.contact("Lost Ltd", "lost@example.com")
	invoice, number, iRow := s.invoice(customer)
	_, pRow := s.payment(invoice, "20.00", "L1")
	_, pRow2 := s.payment(invoice, "20.00", "L1") // an equal second payment is a second payment
	s.start(nil)
	s.wait(outbox.StateDone, cRow, iRow, pRow, pRow2)
	inv := s.sim.Invoices(s.org)[0]
	if s.sim.ContactCreations(s.org, customer) != 1 || s.sim.InvoiceCreations(s.org, number) != 1 {
		t.Errorf("creations: contact %d invoice %d", s.sim.ContactCreations(s.org, customer), s.sim.InvoiceCreations(s.org, number))
	}
	if n := s.sim.PaymentCreations(s.org, inv.InvoiceID, "L1"); n != 2 {
		t.Errorf("%d payments created, want 2", n)
	}
	if s.row(iRow).XeroID != inv.InvoiceID || s.row(pRow).XeroID == s.row(pRow2).XeroID {
		t.Errorf("links: invoice %s vs %s; payments %s %s", s.row(iRow).XeroID, inv.InvoiceID, s.row(pRow).XeroID, s.row(pRow2).XeroID)
	}
	var unknown int
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM xerosync.outbox, jsonb_array_elements(errors) e
		WHERE e->>'class' = 'unknown'`).Scan(&unknown); err != nil || unknown < 3 {
		t.Errorf("%d unknown outcomes in history (%v)", unknown, err)
	}
}

// Rows a crashed run left in_flight are reconciled on start, not sent again.
func TestDispatchStartupReconcilesInFlight(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	contactID := createXeroContact(t, s, "Crashed Co", "")
	customer := s.uuid()
	s.db.Exec(t, "INSERT INTO xerosync.entities (entity, entity_id, tenant_id, xero_id) VALUES ('contact', $1, $2, $3)", customer, s.tenant, contactID)
	_, number, iRow := s.invoice(customer)
	// The previous run sent it (what s.invoice queued, mapped) and died before recording.
	org := s.client.Org(s.org, s.store.Source(s.tenant))
	date, _ := xero.ParseDate("2026-03-02")
	res, err := org.CreateInvoices(context.Background(), xero.CreateInvoicesParams{IdempotencyKey: "crashed", Invoices: []xero.Invoice{{
		Type: "ACCREC", Contact: &xero.ContactRef{ContactID: contactID}, InvoiceNumber: number, Status: "AUTHORISED",
		CurrencyCode: "NZD", LineAmountTypes: "Exclusive", Date: date, Reference: "PO-7",
		LineItems: []xero.LineItem{{Description: "Consulting", Quantity: xero.MustDecimal("2"), UnitAmount: xero.MustDecimal("100"), AccountCode: "200", TaxType: "OUTPUT2"}},
	}}})
	if err != nil || !res[0].OK() {
		t.Fatal(err)
	}
	s.db.Exec(t, "UPDATE xerosync.outbox SET state = 'in_flight', attempts = 1, idempotency_key = 'crashed' WHERE id = $1", iRow)
	s.start(nil)
	s.wait(outbox.StateDone, iRow)
	if r := s.row(iRow); r.XeroID != res[0].XeroID || r.Attempts != 2 {
		t.Errorf("row %+v, want xero id %s", r, res[0].XeroID)
	}
	if n := s.sim.InvoiceCreations(s.org, number); n != 1 {
		t.Errorf("invoice created %d times", n)
	}
}

// A capture commit wakes the dispatcher at once: no polling on the hot path.
func TestDispatchWakesOnNotify(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	s.start(func(c *outbox.DispatcherConfig) { c.PollInterval = time.Hour })
	_, warm := s.contact("Warm", "")
	s.wait(outbox.StateDone, warm)
	start := time.Now()
	_, r := s.contact("Prompt", "")
	s.wait(outbox.StateDone, r)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("row pushed %v after commit", d)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	ctx := context.Background()
	s.contact("One", "")
	s.contact("Two", "")
	s.db.Exec(t, `UPDATE xerosync.outbox SET state = 'failed', last_error_code = 'ValidationError'
		WHERE id = (SELECT min(id) FROM xerosync.outbox)`)
	s.db.Exec(t, `INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, state, payload)
		VALUES ($1, 'invoice', gen_random_uuid(), 'issue', 'done', '{}')`, s.tenant)
	for _, history := range []bool{false, true} {
		st, err := outbox.Stats(ctx, s.db.Pool, "", history)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"pending": 1, "failed": 1}
		if history {
			want["done"] = 1
		}
		if ts := st[s.tenant]; len(st) != 1 || ts == nil || !maps.Equal(ts.Rows, want) ||
			ts.FailuresByCode["ValidationError"] != 1 || ts.OldestPendingAge <= 0 {
			t.Fatalf("stats (history %v) = %+v, want rows %v", history, st, want)
		}
	}
	if st, err := outbox.Stats(ctx, s.db.Pool, "00000000-0000-0000-0000-000000000001", true); err != nil || len(st) != 0 {
		t.Fatalf("another tenant's stats = %+v, %v", st, err)
	}

	// With sequential scans priced out, the polled form still reads none of the outbox's
	// heap by a scan: an index serves each part, so its cost does not grow with history.
	query, err := os.ReadFile("sql/queue_stats.sql")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "EXPLAIN "+string(query), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan on outbox") {
		t.Errorf("the polled stats query scans the outbox:\n%s", text)
	}
}

// The administrator's path at 2 a.m.: a contact refused by Xero (a bad email) holds back its
// invoice; its later snapshot, queued before the fix, is refused the same way. The fix in
// Softbooq queues a new snapshot; cancelling the refused row lets the newest snapshot
// through (pending upserts fold into it), and the invoice waits for it instead of failing.
func TestDispatchFixThenCancel(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	customer, bad := s.contact("Pōhutukawa Bakery", "pōhutukawa@example.com")
	s.start(nil)
	s.wait(outbox.StateFailed, bad)
	_, _, inv := s.invoice(customer)
	stale := s.update(customer, outbox.ContactFields{Name: "Pōhutukawa Bakery", Email: "pōhutukawa@example.com", Phone: "+64 9"})
	fixed := s.update(customer, outbox.ContactFields{Name: "Pōhutukawa Bakery", Email: "pohutukawa@example.com", Phone: "+64 9"})
	s.db.Exec(t, "UPDATE xerosync.outbox SET cancel_requested = true WHERE id = $1", bad)
	s.wait(outbox.StateCancelled, bad)
	s.wait(outbox.StateDone, stale, fixed, inv)
	cs := s.sim.Contacts(s.org)
	if len(cs) != 1 || cs[0].EmailAddress != "pohutukawa@example.com" {
		t.Fatalf("contacts in Xero: %+v", cs)
	}
	if n := s.sim.ContactCreations(s.org, customer); n != 1 {
		t.Fatalf("contact created %d times", n)
	}
}
