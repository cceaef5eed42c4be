package xero

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

// Tests of the client against the simulator in xero/xerosim, which is an independent
// reading of XERO.md (it imports nothing of ours).

// memTokens is an in-memory TokenSource that refreshes only when Xero rejects a token,
// so the 401 TokenExpired path is exercised for real.
type memTokens struct {
	c         *Client
	mu        sync.Mutex
	access    Secret
	refresh   string
	refreshes int
}

func (m *memTokens) AccessToken(context.Context) (Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.access, nil
}

func (m *memTokens) RefreshRejected(ctx context.Context, rejected Secret) (Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.access.Equal(rejected) {
		return m.access, nil
	}
	tok, err := m.c.Refresh(ctx, m.refresh)
	if err != nil {
		return Secret{}, err
	}
	m.refreshes++
	m.access, m.refresh = NewSecret(tok.AccessToken), tok.RefreshToken
	return m.access, nil
}

type simEnv struct {
	sim    *xerosim.Sim
	srv    *httptest.Server
	client *Client
	tenant string
	tokens *memTokens
	org    *Org
}

const simLockDate = "2026-01-31"

func newSimEnv(t testing.TB, cfg xerosim.Config, mutate func(*Config)) *simEnv {
	t.Helper()
	sim, srv := xerosim.NewServer(t, cfg)
	oc := xerosim.DefaultOrg("Acme Ltd")
	oc.Currencies = []xerosim.Currency{{Code: "NZD", Description: "New Zealand Dollar"}, {Code: "AUD", Description: "Australian Dollar"}}
	oc.PeriodLockDate = time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	tenant, err := sim.AddOrg(oc)
	if err != nil {
		t.Fatal(err)
	}
	def := xerosim.DefaultClient()
	ccfg := Config{
		APIURL: srv.URL, IdentityURL: srv.URL, LoginURL: srv.URL,
		ClientID: def.ID, ClientSecret: def.Secret, RedirectURL: def.RedirectURIs[0],
		HTTPClient: srv.Client(), Now: sim.Now,
	}
	if tt, ok := t.(*testing.T); ok {
		ccfg.Logger = testLogger(tt)
	}
	if mutate != nil {
		mutate(&ccfg)
	}
	c, err := New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := sim.IssueTokens(def.ID, DefaultScopes, tenant)
	if err != nil {
		t.Fatal(err)
	}
	m := &memTokens{c: c, access: NewSecret(ts.AccessToken), refresh: ts.RefreshToken}
	return &simEnv{sim: sim, srv: srv, client: c, tenant: tenant, tokens: m, org: c.Org(tenant, m)}
}

func simContact(n string) Contact {
	return Contact{
		ContactNumber: "CUST-" + n, Name: "Customer " + n, FirstName: "Jo", LastName: "Bloggs " + n,
		EmailAddress: "jo." + n + "@example.com", TaxNumber: "12-345-678",
		Phones:    []Phone{{PhoneType: "DEFAULT", PhoneNumber: "+64 21 555 000"}},
		Addresses: []Address{{AddressType: "STREET", AddressLine1: "1 Queen St", City: "Auckland", Region: "Auckland", PostalCode: "1010", Country: "NZ"}},
	}
}

func simInvoice(number, contactID, account, tax, currency string, date Date) Invoice {
	return Invoice{
		Type: "ACCREC", Contact: &ContactRef{ContactID: contactID}, InvoiceNumber: number, Reference: "REF-" + number,
		Date: date, DueDate: Date{2026, 6, 30}, CurrencyCode: currency, LineAmountTypes: "Exclusive", Status: "AUTHORISED",
		LineItems: []LineItem{
			{Description: "Consulting", Quantity: MustDecimal("2"), UnitAmount: MustDecimal("100.00"), AccountCode: account, TaxType: tax},
			{Description: "Widgets", Quantity: MustDecimal("3"), UnitAmount: MustDecimal("0.3333"), AccountCode: account, TaxType: tax, DiscountRate: MustDecimal("10")},
		},
	}
}

func TestSimConnectFlow(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	verifier, state := NewVerifier(), NewState()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(e.client.AuthCodeURL(state, verifier))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirect %d %q: %v", resp.StatusCode, resp.Header.Get("Location"), err)
	}
	tok, err := e.client.Exchange(ctx, loc.Query().Get("code"), verifier)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("Exchange: %v", err)
	}
	conns, err := e.client.Connections(ctx, StaticToken(tok), ConnectionsParams{})
	if err != nil || len(conns) != 1 || conns[0].TenantID != e.tenant || conns[0].TenantName != "Acme Ltd" || conns[0].ID == "" {
		t.Fatalf("Connections = %+v, %v", conns, err)
	}
	org, err := e.client.Org(conns[0].TenantID, StaticToken(tok)).Organisation(ctx)
	if err != nil || !strings.EqualFold(org.OrganisationID, e.tenant) || org.BaseCurrency != "NZD" || org.PeriodLockDate.String() != simLockDate {
		t.Fatalf("Organisation = %+v, %v", org, err)
	}
	// A wrong verifier fails (PKCE is checked).
	if _, err := e.client.Exchange(ctx, loc.Query().Get("code"), NewVerifier()); Classify(err) != ClassAuth {
		t.Fatalf("reused code / wrong verifier: %v", err)
	}
	if err := e.client.DeleteConnection(ctx, StaticToken(tok), DeleteConnectionParams{ConnectionID: conns[0].ID, IdempotencyKey: "disconnect-1"}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, err = e.client.Org(conns[0].TenantID, StaticToken(tok)).Currencies(ctx)
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Kind != TenantDisconnected {
		t.Fatalf("after delete: %v", err)
	}
	if err := e.client.Revoke(ctx, tok.RefreshToken); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := e.client.Refresh(ctx, tok.RefreshToken); !errors.As(err, &auth) || auth.Kind != InvalidGrant {
		t.Fatalf("refresh after revoke: %v", err)
	}
}

func TestSimSettings(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	org, err := e.org.Organisation(ctx)
	if err != nil || org.Name != "Acme Ltd" || org.FinancialYearEndMonth != 3 || org.LockDate().String() != simLockDate {
		t.Fatalf("Organisation = %+v, %v", org, err)
	}
	curs, err := e.org.Currencies(ctx)
	if err != nil || len(curs) != 2 {
		t.Fatalf("Currencies = %+v, %v", curs, err)
	}
	accts, err := e.org.Accounts(ctx)
	var bank bool
	for _, a := range accts {
		bank = bank || (a.Code == "090" && a.AcceptsPayments())
	}
	if err != nil || !bank {
		t.Fatalf("Accounts = %+v, %v", accts, err)
	}
	rates, err := e.org.TaxRates(ctx)
	var output2 bool
	for _, r := range rates {
		output2 = output2 || (r.TaxType == "OUTPUT2" && r.CanApplyToRevenue && r.EffectiveRate.Equal(MustDecimal("15")))
	}
	if err != nil || !output2 {
		t.Fatalf("TaxRates = %+v, %v", rates, err)
	}
}

// The whole push path: contacts, linking lookups, invoices with per-element errors mapped
// to SPEC codes, payments, voids, reconciliation reads.
func TestSimPushPath(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	guidNumber := "0b0e7a52-7c8e-4a0c-b4d5-2f5d3b1c9e11"
	quoted := simContact("2")
	quoted.EmailAddress = `o"brien\x@example.com`
	third := simContact("3")
	third.ContactNumber = guidNumber
	cres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1"), quoted, third}, IdempotencyKey: "contacts-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cres {
		if !r.OK() || r.XeroID == "" {
			t.Fatalf("create contact: %+v", r)
		}
	}
	contactID := cres[0].XeroID
	// Duplicate name: a failed element with ContactNameInUse; the batch still answers 200.
	dup := simContact("9")
	dup.Name = "CUSTOMER 1"
	dres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{dup}, IdempotencyKey: "contacts-2"})
	if err != nil || dres[0].OK() || dres[0].Code != CodeContactNameInUse {
		t.Fatalf("duplicate name: %+v, %v", dres, err)
	}

	found, err := e.org.FindContactsByEmail(ctx, "JO.1@EXAMPLE.COM")
	if err != nil || len(found) != 1 || found[0].ContactID != contactID {
		t.Fatalf("FindContactsByEmail = %+v, %v", found, err)
	}
	found, err = e.org.FindContactsByEmail(ctx, quoted.EmailAddress)
	if err != nil || len(found) != 1 || found[0].ContactID != cres[1].XeroID {
		t.Fatalf("FindContactsByEmail(quoted) = %+v, %v", found, err)
	}
	byNumber, err := e.org.FindContactsByNumbers(ctx, []string{"CUST-1", guidNumber, "NOPE"})
	if err != nil || len(byNumber) != 2 || byNumber["CUST-1"].ContactID != contactID || byNumber[guidNumber].ContactID != cres[2].XeroID {
		t.Fatalf("FindContactsByNumbers = %+v, %v", byNumber, err)
	}
	upd := simContact("1")
	upd.ContactID, upd.EmailAddress, upd.ContactStatus = contactID, "", "ACTIVE"
	ures, err := e.org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{upd}, IdempotencyKey: "contacts-3"})
	if err != nil || !ures[0].OK() {
		t.Fatalf("UpdateContacts = %+v, %v", ures, err)
	}
	after, err := e.org.FindContactsByNumbers(ctx, []string{"CUST-1"})
	if got, ok := after["CUST-1"]; err != nil || !ok || got.ContactID != contactID || got.EmailAddress != "" {
		t.Fatalf("email not cleared: %+v, %v", after, err)
	}

	may := Date{2026, 5, 1}
	ires, err := e.org.CreateInvoices(ctx, CreateInvoicesParams{IdempotencyKey: "invoices-1", Invoices: []Invoice{
		simInvoice("INV-001", contactID, "200", "OUTPUT2", "NZD", may),
		simInvoice("INV-002", contactID, "999", "OUTPUT2", "NZD", may),
		simInvoice("INV-003", contactID, "200", "BOGUS", "NZD", may),
		simInvoice("INV-004", contactID, "200", "OUTPUT2", "EUR", may),
		simInvoice("INV-005", contactID, "200", "OUTPUT2", "NZD", Date{2026, 1, 15}),
		simInvoice("INV-006", contactID, "200", "OUTPUT2", "NZD", may),
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantCodes := []ErrorCode{"", CodeInvalidAccountCode, CodeTaxRateNotFound, CodeCurrencyNotEnabled, CodePeriodLocked, ""}
	for i, r := range ires {
		if r.Code != wantCodes[i] || r.OK() != (r.XeroID != "") {
			t.Errorf("invoice %d: code %q (want %q), id %q, errors %v", i, r.Code, wantCodes[i], r.XeroID, r.ValidationErrors)
		}
	}
	inv := ires[0].Entity
	// 2×100.00 + 3×0.3333 less 10% (0.89991, a line amount rounded to 0.90) = 200.90: exact
	// decimals, and unitdp=4 was sent.
	if !inv.SubTotal.Equal(MustDecimal("200.90")) || inv.Total.IsZero() {
		t.Fatalf("totals: %+v", inv)
	}
	if q := e.sim.Requests(); !strings.Contains(q[len(q)-1].Query, "unitdp=4") {
		t.Fatalf("unitdp not sent: %s", q[len(q)-1].Query)
	}

	found2, err := e.org.FindInvoicesByNumber(ctx, []string{"INV-001", "INV-002", "INV-006"})
	if err != nil || len(found2) != 2 {
		t.Fatalf("FindInvoicesByNumber = %+v, %v", found2, err)
	}

	pres, err := e.org.CreatePayments(ctx, CreatePaymentsParams{IdempotencyKey: "payments-1", Payments: []Payment{
		{Invoice: &InvoiceRef{InvoiceID: ires[0].XeroID}, Account: &AccountRef{Code: "090"}, Date: Date{2026, 5, 2}, Amount: MustDecimal("50.00"), Reference: "P-1"},
		{Invoice: &InvoiceRef{InvoiceID: ires[0].XeroID}, Account: &AccountRef{Code: "090"}, Date: Date{2026, 5, 2}, Amount: MustDecimal("99999.00"), Reference: "P-2"},
	}})
	if err != nil || !pres[0].OK() || pres[1].OK() || pres[1].Code != CodeValidationError {
		t.Fatalf("CreatePayments = %+v, %v", pres, err)
	}
	pays, err := e.org.FindPaymentsByInvoice(ctx, ires[0].XeroID)
	if err != nil || len(pays) != 1 || !pays[0].Amount.Equal(MustDecimal("50")) || pays[0].Reference != "P-1" {
		t.Fatalf("FindPaymentsByInvoice = %+v, %v", pays, err)
	}

	vres, err := e.org.VoidInvoices(ctx, VoidInvoicesParams{InvoiceIDs: []string{ires[0].XeroID, ires[5].XeroID}, IdempotencyKey: "void-1"})
	if err != nil || vres[0].OK() || !vres[1].OK() || vres[1].Entity.Status != "VOIDED" {
		t.Fatalf("VoidInvoices = %+v, %v", vres, err)
	}
}

func TestSimIdempotency(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	c, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c"})
	if err != nil {
		t.Fatal(err)
	}
	p := CreateInvoicesParams{Invoices: []Invoice{simInvoice("INV-1", c[0].XeroID, "200", "OUTPUT2", "NZD", Date{2026, 5, 1})}, IdempotencyKey: "inv-batch-1"}
	a, err := e.org.CreateInvoices(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.org.CreateInvoices(ctx, p) // a retry within 6 minutes replays
	if err != nil || b[0].XeroID != a[0].XeroID || e.sim.InvoiceCreations(e.tenant, "INV-1") != 1 {
		t.Fatalf("replay: %+v, %v, creations %d", b, err, e.sim.InvoiceCreations(e.tenant, "INV-1"))
	}
	p.Invoices[0].Reference = "changed"
	_, err = e.org.CreateInvoices(ctx, p)
	if !errors.Is(err, ErrIdempotencyKeyReused) || Classify(err) != ClassPermanent {
		t.Fatalf("key reuse: %v", err)
	}
}

// Every error class the simulator can produce, as Classify sees it.
func TestSimErrorClasses(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	c, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c"})
	if err != nil {
		t.Fatal(err)
	}
	invoices := func(n string) CreateInvoicesParams {
		return CreateInvoicesParams{Invoices: []Invoice{simInvoice(n, c[0].XeroID, "200", "OUTPUT2", "NZD", Date{2026, 5, 1})}, IdempotencyKey: "key-" + n}
	}
	put := xerosim.Endpoint(http.MethodPut, "/api.xro/2.0/Invoices")

	e.sim.FailNext(put, xerosim.Fault5xx)
	_, err = e.org.CreateInvoices(ctx, invoices("INV-500"))
	if Classify(err) != ClassTransient || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("5xx: %v", err)
	}

	e.sim.FailNext(put, xerosim.FaultOffline)
	_, err = e.org.CreateInvoices(ctx, invoices("INV-503"))
	if Classify(err) != ClassTransient {
		t.Errorf("offline: %v", err)
	}

	// Lost response on a reused connection: net/http resends a request that carries an
	// Idempotency-Key by itself, Xero replays the stored answer, and nothing is duplicated.
	e.sim.FailNext(put, xerosim.FaultLostResponse)
	if _, err = e.org.CreateInvoices(ctx, invoices("INV-LOST-1")); err != nil && !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("lost response on a reused connection: %v", err)
	}
	if n := e.sim.InvoiceCreations(e.tenant, "INV-LOST-1"); n != 1 {
		t.Errorf("INV-LOST-1 created %d times", n)
	}
	// Lost response on a fresh connection: the outcome is unknown, and reconciliation by
	// number finds the invoice that was created.
	fresh, err := New(Config{APIURL: e.srv.URL, HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, Now: e.sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.FailNext(put, xerosim.FaultLostResponse)
	_, err = fresh.Org(e.tenant, e.tokens).CreateInvoices(ctx, invoices("INV-LOST-2"))
	if Classify(err) != ClassTransient || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("lost response: %v", err)
	}
	if got, err := e.org.FindInvoicesByNumber(ctx, []string{"INV-LOST-2"}); err != nil || len(got) != 1 {
		t.Errorf("reconcile: %+v, %v", got, err)
	}

	e.sim.FailNext(put, xerosim.Fault429)
	_, err = e.org.CreateInvoices(ctx, invoices("INV-429"))
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Limit != LimitMinute || rl.RetryAfter <= 0 || Classify(err) != ClassRateLimited {
		t.Errorf("429: %v", err)
	}
	if s := e.client.Budgets(e.tenant); s.BlockedLimit != LimitMinute {
		t.Errorf("budgets after 429: %+v", s)
	}
	e.sim.Advance(2 * time.Minute) // past the burst window

	// The access token expires: Xero says 401 TokenExpired, the client refreshes once and
	// resends under the same key.
	e.sim.Advance(31 * time.Minute)
	res, err := e.org.CreateInvoices(ctx, invoices("INV-AFTER-EXPIRY"))
	if err != nil || !res[0].OK() || e.tokens.refreshes != 1 {
		t.Errorf("after expiry: %+v, %v, refreshes %d", res, err, e.tokens.refreshes)
	}

	// Validation (400 outside a batch): a bad where-less request is hard to provoke through
	// the typed API, so check a permanent refusal before sending instead.
	_, err = e.org.CreateInvoices(ctx, CreateInvoicesParams{IdempotencyKey: "k"})
	if Classify(err) != ClassPermanent {
		t.Errorf("empty batch: %v", err)
	}

	// The organisation removes the app: 403 AuthenticationUnsuccessful.
	e.sim.RemoveConnection(e.tenant)
	_, err = e.org.Organisation(ctx)
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Kind != TenantDisconnected || Classify(err) != ClassAuth {
		t.Errorf("removed connection: %v", err)
	}
}

// 50 goroutines on one tenant: never more than 5 calls in flight, and no 429 while the
// budget headers are honoured. The simulator's clock runs 60 times faster, so a minute
// window passes in a second and the goroutines must wait for several resets.
func TestSimConcurrencyAndBudgets(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{TimeScale: 60}, nil)
	// A fresh token that survives the test's simulated hours.
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range 50 {
		wg.Go(func() {
			for range 3 {
				if _, err := e.org.Currencies(ctx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		for _, r := range e.sim.Requests() {
			t.Logf("sim request %d at %s: %d", r.Seq, r.Time.Format("15:04:05.000"), r.Status)
		}
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	st := e.sim.Stats()
	if st.PeakConcurrency[e.tenant] > 5 || st.PeakConcurrency[e.tenant] == 0 {
		t.Errorf("peak concurrency %d", st.PeakConcurrency[e.tenant])
	}
	if st.TooManyRequests != 0 {
		t.Errorf("%d 429s: %v", st.TooManyRequests, st.RateLimited)
		for _, r := range e.sim.Requests() {
			t.Logf("sim request %d at %s: %d", r.Seq, r.Time.Format("15:04:05.000"), r.Status)
		}
	}
	if n := e.sim.Calls(http.MethodGet, "/api.xro/2.0/Currencies", http.StatusOK); n != 150 {
		t.Errorf("%d successful calls", n)
	}
	if s := e.client.Budgets(e.tenant); s.InFlight != 0 {
		t.Errorf("budgets after: %+v", s)
	}
}

// With Xero leaving X-AppMinLimit-Remaining off every answer (as a recorded 2020 answer did,
// XERO.md §10b), calls still run five at a time: a missing header is unknown, not zero.
func TestSimMissingRateHeaderKeepsConcurrency(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{
		Limits: xerosim.Limits{OmitHeaders: []string{"X-AppMinLimit-Remaining"}},
		Faults: xerosim.Faults{RateLatency: 1, Latency: 50 * time.Millisecond},
	}, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := e.org.Currencies(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st := e.sim.Stats()
	if p := st.PeakConcurrency[e.tenant]; p < 3 || p > 5 {
		t.Errorf("peak concurrency %d, want the concurrent limit to be used (3 to 5)", p)
	}
	if st.TooManyRequests != 0 {
		t.Errorf("%d 429s", st.TooManyRequests)
	}
	if s := e.client.Budgets(e.tenant); s.AppMinuteRemaining != -1 || s.MinuteRemaining < 0 {
		t.Errorf("budgets: %+v", s)
	}
}

// Numbers that cannot be where literals (a quote, a backslash) are still found, by searchTerm,
// against a simulator that, like Xero, refuses a backslash-escaped quote (Xero-Java#347).
func TestSimLookupsOfUnquotableValues(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	numbers := []string{`Q"1`, `B\2`, "C-3", `Q"1"`}
	var cs []Contact
	for i, n := range numbers {
		c := simContact(fmt.Sprint(i))
		c.ContactNumber = n
		cs = append(cs, c)
	}
	cres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: cs, IdempotencyKey: "contacts-q"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.org.FindContactsByNumbers(ctx, append(numbers, `Q"`))
	if err != nil || len(got) != len(numbers) {
		t.Fatalf("FindContactsByNumbers = %+v, %v", got, err)
	}
	for i, n := range numbers {
		if got[n].ContactID != cres[i].XeroID {
			t.Errorf("number %q found as %+v", n, got[n])
		}
	}
	may := Date{2026, 5, 1}
	invNumbers := []string{`A,"B"`, `C\D`, "E,F", "G"}
	var invs []Invoice
	for _, n := range invNumbers {
		invs = append(invs, simInvoice(n, cres[0].XeroID, "200", "OUTPUT2", "NZD", may))
	}
	ires, err := e.org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: invs, IdempotencyKey: "invoices-q"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ires {
		if !r.OK() {
			t.Fatalf("create: %+v", r)
		}
	}
	found, err := e.org.FindInvoicesByNumber(ctx, append(invNumbers, `A,"`))
	if err != nil || len(found) != len(invNumbers) {
		t.Fatalf("FindInvoicesByNumber = %+v, %v", found, err)
	}
}

// Against every element shape Xero is seen to give (XERO.md §10b), the client reads success
// from the status: a failed element with a made-up id and no error flag is failed, and a
// saved one that carries a message is saved, its message kept as a warning.
func TestSimElementShapes(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{ElementShapes: xerosim.ElementShapes{
		FailedID: xerosim.FailedIDGenerated, FailedWithoutFlag: true, SavedWarning: "Contact details were updated",
	}}, nil)
	ctx := context.Background()
	cres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c-1"})
	if err != nil || !cres[0].OK() || cres[0].XeroID == "" || !slices.Equal(cres[0].Warnings, []string{"Contact details were updated"}) {
		t.Fatalf("saved contact with a warning: %+v, %v", cres, err)
	}
	may := Date{2026, 5, 1}
	ires, err := e.org.CreateInvoices(ctx, CreateInvoicesParams{IdempotencyKey: "i-1", Invoices: []Invoice{
		simInvoice("S-1", cres[0].XeroID, "200", "OUTPUT2", "NZD", may),
		simInvoice("S-2", cres[0].XeroID, "999", "OUTPUT2", "NZD", may),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := ires[0]; !r.OK() || r.XeroID == "" || len(r.Warnings) != 1 {
		t.Errorf("saved invoice: %+v", r)
	}
	if r := ires[1]; r.OK() || r.XeroID != "" || r.Entity.InvoiceID == "" || r.Entity.HasErrors || r.Code != CodeInvalidAccountCode {
		t.Errorf("failed invoice with a made-up id and HasErrors false: ok=%v id=%q entity id=%q code=%q", r.OK(), r.XeroID, r.Entity.InvoiceID, r.Code)
	}
	if n := len(e.sim.Invoices(e.tenant)); n != 1 {
		t.Errorf("%d invoices in the simulator", n)
	}
	e.sim.SetElementShapes(xerosim.ElementShapes{FailedID: xerosim.FailedIDZero, FailedWithoutStatus: true})
	pres, err := e.org.CreatePayments(ctx, CreatePaymentsParams{IdempotencyKey: "p-1", Payments: []Payment{
		{Invoice: &InvoiceRef{InvoiceID: ires[0].XeroID}, Account: &AccountRef{Code: "090"}, Date: Date{2026, 5, 2}, Amount: MustDecimal("99999.00")},
	}})
	if err != nil || pres[0].OK() || pres[0].XeroID != "" || pres[0].Entity.PaymentID != "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("failed payment with an all-zero id: %+v, %v", pres, err)
	}
}

// ListContacts, the contact directory's read: every contact, archived ones included, in
// summary pages of 1,000 (a full last page costs no extra call when pagination says it is
// the last), and with ModifiedSince only what changed since (If-Modified-Since).
func TestListContactsPagesAndSince(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newSimEnv(t, xerosim.Config{Now: clock}, nil)
	ctx := context.Background()
	var cs []Contact
	for i := range 2000 {
		c := Contact{Name: fmt.Sprintf("Person %04d", i), EmailAddress: fmt.Sprintf("p%04d@example.com", i)}
		if i == 1999 {
			c.ContactStatus = "ARCHIVED"
		}
		cs = append(cs, c)
	}
	for start := 0; start < len(cs); start += MaxBatch {
		if _, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: cs[start : start+MaxBatch], IdempotencyKey: fmt.Sprint("seed-", start)}); err != nil {
			t.Fatal(err)
		}
	}
	before := e.sim.Calls("GET", "/api.xro/2.0/Contacts", 0)
	all, err := e.org.ListContacts(ctx, ListContactsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Calls("GET", "/api.xro/2.0/Contacts", 0) - before; len(all) != 2000 || got != 2 {
		t.Fatalf("read %d contacts in %d calls, want 2000 in 2", len(all), got)
	}
	if all[1999].ContactStatus != "ARCHIVED" || all[5].UpdatedDateUTC.IsZero() || all[5].EmailAddress != "p0005@example.com" {
		t.Fatalf("contacts read: %+v, %+v", all[1999], all[5])
	}

	since := all[0].UpdatedDateUTC.Time
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	edit := Contact{ContactID: all[7].ContactID, Name: all[7].Name, EmailAddress: "changed@example.com"}
	if _, err := e.org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{edit}, IdempotencyKey: "edit"}); err != nil {
		t.Fatal(err)
	}
	changed, err := e.org.ListContacts(ctx, ListContactsParams{ModifiedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].ContactID != all[7].ContactID || changed[0].EmailAddress != "changed@example.com" {
		t.Fatalf("since %s: %+v, want the edited contact alone", since, changed)
	}
}

// FindInvoicesByID reads invoices by id with their payments, 50 to a call.
func TestFindInvoicesByID(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{}, nil)
	ctx := context.Background()
	cres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for b := range 2 {
		var invs []Invoice
		for i := range 30 {
			invs = append(invs, simInvoice(fmt.Sprintf("INV-%d-%d", b, i), cres[0].XeroID, "200", "OUTPUT2", "NZD", Date{2026, 5, 1}))
		}
		res, err := e.org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: invs, IdempotencyKey: fmt.Sprint("i", b)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.XeroID)
		}
	}
	if _, err := e.org.CreatePayments(ctx, CreatePaymentsParams{Payments: []Payment{{Invoice: &InvoiceRef{InvoiceID: ids[42]}, Account: &AccountRef{Code: "090"},
		Date: Date{2026, 5, 2}, Amount: MustDecimal("10.00"), Reference: "P-1"}}, IdempotencyKey: "p"}); err != nil {
		t.Fatal(err)
	}
	before := e.sim.Calls("GET", "/api.xro/2.0/Invoices", 0)
	got, err := e.org.FindInvoicesByID(ctx, append(ids, strings.ToUpper(ids[0]), "not-a-guid"))
	if err != nil {
		t.Fatal(err)
	}
	if calls := e.sim.Calls("GET", "/api.xro/2.0/Invoices", 0) - before; len(got) != 60 || calls != 2 {
		t.Fatalf("read %d invoices in %d calls, want 60 in 2", len(got), calls)
	}
	for _, inv := range got {
		if inv.InvoiceID == ids[42] && (len(inv.Payments) != 1 || inv.Payments[0].Reference != "P-1" || !inv.Payments[0].Amount.Equal(MustDecimal("10"))) {
			t.Fatalf("invoice with a payment: %+v", inv.Payments)
		}
	}
}

// An organisation whose day is spent resumes when Xero frees calls, not a day after we first
// saw the day: our reset is an estimate, so the day is probed after dayProbe; the probe's 429
// gives the true reset (Retry-After), and the first call after it goes (issue #12).
func TestSimDaySpentResumesOnRetryAfter(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, xerosim.Config{Limits: xerosim.Limits{PerDay: 3}}, nil)
	ctx := context.Background()
	// At the start of the organisation's day window: its end (offset by a hash of the random
	// organisation id) must not fall within the probe's wait, or the probe finds a new day
	// (10 minutes of a 24-hour window: about one run in 144; it failed once).
	e.sim.Advance(e.sim.DayWindowStart(e.tenant).Add(24 * time.Hour).Sub(e.sim.Now()))
	for range 3 {
		if _, err := e.org.Organisation(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.org.Organisation(ctx)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Predicted || rl.Limit != LimitDay || rl.RetryAfter > dayProbe || rl.RetryAfter < dayProbe-time.Second {
		t.Fatalf("spent day: got %v, want a predicted day limit for %s", err, dayProbe)
	}
	e.sim.Advance(dayProbe)
	_, err = e.org.Organisation(ctx)
	if !errors.As(err, &rl) || rl.Predicted || rl.Limit != LimitDay || rl.RetryAfter <= 0 || rl.RetryAfter > 24*time.Hour {
		t.Fatalf("probe: got %v, want Xero's own day 429 with its Retry-After", err)
	}
	e.sim.Advance(rl.RetryAfter)
	if _, err := e.org.Organisation(ctx); err != nil {
		t.Fatalf("after Retry-After (%s): %v", rl.RetryAfter, err)
	}
	if st := e.sim.Stats(); st.RateLimited["day"] != 1 {
		t.Errorf("day 429s: %v, want the probe's one", st.RateLimited)
	}
}

// A lost answer on a reused connection makes net/http send the request again by itself (a GET,
// or a write with an Idempotency-Key). Xero counts both calls, so the resend must wait for the
// budget like any call: in the torture run, the last call of a minute lost its answer and the
// resend, sent at once under the same reservation, was a 429 (issue #12).
func TestSimResendAfterLostResponseWaitsForBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		call func(context.Context, *Org) error
		path string
	}{
		{"GET", func(ctx context.Context, o *Org) error { _, err := o.Currencies(ctx); return err }, "GET /api.xro/2.0/Currencies"},
		{"PUT with Idempotency-Key", func(ctx context.Context, o *Org) error {
			_, err := o.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c1"})
			return err
		}, "PUT /api.xro/2.0/Contacts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, xerosim.Config{Limits: xerosim.Limits{PerMinute: 3}}, nil)
			ctx := context.Background()
			// Calls on one keep-alive connection until one is left in this minute (more than
			// two if the simulator's window turns meanwhile).
			for i := 0; e.client.Budgets(e.tenant).MinuteRemaining != 1; i++ {
				if i == 10 {
					t.Fatalf("budgets: %+v", e.client.Budgets(e.tenant))
				}
				if _, err := e.org.Currencies(ctx); err != nil {
					t.Fatal(err)
				}
			}
			method, path, _ := strings.Cut(tc.path, " ")
			e.sim.FailNext(xerosim.Endpoint(method, path), xerosim.FaultLostResponse)
			done := make(chan error, 1)
			go func() { done <- tc.call(ctx, e.org) }()
			lost := func() bool {
				for _, r := range e.sim.Requests() {
					if r.Fault == xerosim.FaultLostResponse {
						return true
					}
				}
				return false
			}
			for deadline := time.Now().Add(10 * time.Second); !lost(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no answer was lost within 10 s")
				}
			}
			// The lost call spent the minute's last call: the resend waits for the next minute.
			select {
			case err := <-done:
				t.Fatalf("the call whose answer was lost returned within the spent minute (%v); 429s: %v", err, e.sim.Stats().RateLimited)
			case <-time.After(3 * pollInterval):
			}
			e.sim.Advance(time.Minute)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("after the minute: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the resend still waits after the minute")
			}
			if st := e.sim.Stats(); st.TooManyRequests != 0 {
				t.Errorf("%d 429s: %v", st.TooManyRequests, st.RateLimited)
			}
			reqs := e.sim.Requests()
			if lost, last := reqs[len(reqs)-2], reqs[len(reqs)-1]; lost.Fault != xerosim.FaultLostResponse ||
				last.Method != method || last.Path != path || last.Status != http.StatusOK {
				t.Errorf("want the lost call and then its resend, answered; the log ends %d %s %s %v, %d %s %s", lost.Status, lost.Method, lost.Path, lost.Fault, last.Status, last.Method, last.Path)
			}
			if s := e.client.Budgets(e.tenant); s.InFlight != 0 {
				t.Errorf("budgets after: %+v", s)
			}
		})
	}
}
