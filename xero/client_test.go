package xero

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testTenant = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
	contactA   = "8138a266-fb42-49b2-a104-014b7045753d"
	invoiceA   = "4f7a2b3c-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
)

// rotatingTokens is a TokenSource whose token changes on every RefreshRejected.
type rotatingTokens struct {
	mu        sync.Mutex
	gen       int
	refreshes int
}

func (r *rotatingTokens) AccessToken(context.Context) (Secret, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return NewSecret(fmt.Sprintf("access-%d", r.gen)), nil
}

func (r *rotatingTokens) RefreshRejected(context.Context, Secret) (Secret, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.refreshes++
	return NewSecret(fmt.Sprintf("access-%d", r.gen)), nil
}

// recorded is one request a test server saw.
type recorded struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
}

// apiServer is an httptest server whose handler a test sets; it records every request.
type apiServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newAPIServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) (*apiServer, *Client, *Org, *rotatingTokens) {
	t.Helper()
	a := &apiServer{handle: handle}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.reqs = append(a.reqs, recorded{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), body})
		a.mu.Unlock()
		a.handle(w, r, body)
	}))
	t.Cleanup(a.srv.Close)
	c, err := New(Config{APIURL: a.srv.URL, IdentityURL: a.srv.URL, LoginURL: a.srv.URL, ClientID: "client-id", ClientSecret: "client-secret",
		RedirectURL: "http://localhost:7434/callback", HTTPClient: a.srv.Client(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	tokens := &rotatingTokens{}
	return a, c, c.Org(testTenant, tokens), tokens
}

func (a *apiServer) requests() []recorded {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]recorded(nil), a.reqs...)
}

func okHeaders(w http.ResponseWriter) {
	w.Header().Set("X-MinLimit-Remaining", "55")
	w.Header().Set("X-DayLimit-Remaining", "990")
	w.Header().Set("X-AppMinLimit-Remaining", "9000")
	w.Header().Set("Xero-Correlation-Id", "corr-123")
}

func sampleInvoice(number, unit string) Invoice {
	return Invoice{
		Type: "ACCREC", Contact: &ContactRef{ContactID: contactA}, InvoiceNumber: number, Reference: "ORD-1",
		Date: Date{2026, 5, 1}, DueDate: Date{2026, 5, 31}, CurrencyCode: "NZD", LineAmountTypes: "Exclusive", Status: "AUTHORISED",
		LineItems: []LineItem{{Description: "Widget", Quantity: MustDecimal("3"), UnitAmount: MustDecimal(unit), AccountCode: "200", TaxType: "OUTPUT2", DiscountRate: MustDecimal("10")}},
	}
}

func TestCreateInvoicesWire(t *testing.T) {
	t.Parallel()
	a, c, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		okHeaders(w)
		writeJSON(w, 200, map[string]any{"Invoices": []map[string]any{
			{"InvoiceID": invoiceA, "InvoiceNumber": "INV-1", "Status": "AUTHORISED", "Total": json.Number("41.67"), "Date": "/Date(1777593600000+0000)/"},
			{"InvoiceID": zeroGUID, "InvoiceNumber": "INV-2", "HasErrors": true, "StatusAttributeString": "ERROR",
				"ValidationErrors": []map[string]string{{"Message": "Account code '200' is not a valid code for this document."}}},
		}})
	})
	res, err := org.CreateInvoices(context.Background(), CreateInvoicesParams{
		Invoices:       []Invoice{sampleInvoice("INV-1", "12.3456"), sampleInvoice("INV-2", "5.00")},
		IdempotencyKey: "outbox:42:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK() || res[0].XeroID != invoiceA || res[0].Entity.Total.String() != "41.67" || res[0].Entity.Date != (Date{2026, 5, 1}) {
		t.Errorf("element 0 = %+v", res[0])
	}
	if res[1].OK() || res[1].XeroID != "" || res[1].Code != CodeInvalidAccountCode || len(res[1].ValidationErrors) != 1 {
		t.Errorf("element 1 = %+v", res[1])
	}
	reqs := a.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPut || r.Path != "/api.xro/2.0/Invoices" || r.Query.Get("summarizeErrors") != "false" || r.Query.Get("unitdp") != "4" {
		t.Errorf("request line: %s %s ?%s", r.Method, r.Path, r.Query.Encode())
	}
	for h, want := range map[string]string{"Accept": "application/json", "Xero-Tenant-Id": testTenant, "Idempotency-Key": "outbox:42:1",
		"Authorization": "Bearer access-0", "Content-Type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	body := string(r.Body)
	for _, want := range []string{`"UnitAmount":12.3456`, `"Quantity":3`, `"DiscountRate":10`, `"Date":"2026-05-01"`, `"Contact":{"ContactID":"` + contactA + `"}`, `"UnitAmount":5.00`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	if s := c.Budgets(testTenant); s.MinuteRemaining != 55 || s.DayRemaining != 990 || s.AppMinuteRemaining != 9000 {
		t.Errorf("budgets = %+v", s)
	}
}

func TestUnitdpOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	a, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, map[string]any{"Invoices": []map[string]any{{"InvoiceID": invoiceA, "InvoiceNumber": "INV-1"}}})
	})
	if _, err := org.CreateInvoices(context.Background(), CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "12.3400")}, IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if q := a.requests()[0].Query; q.Has("unitdp") {
		t.Errorf("unitdp sent for 2 significant places: %v", q)
	}
	_, err := org.CreateInvoices(context.Background(), CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "1.23456")}, IdempotencyKey: "k"})
	if !errors.Is(err, ErrInvalidRequest) || len(a.requests()) != 1 {
		t.Errorf("5 decimal places: %v", err)
	}
}

func TestWritesRefusedWithoutKey(t *testing.T) {
	t.Parallel()
	a, c, org, tokens := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		t.Errorf("request sent: %s %s", r.Method, r.URL)
	})
	ctx := context.Background()
	errs := []error{}
	_, err := org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "1")}})
	errs = append(errs, err)
	_, err = org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{{Name: "A"}}, IdempotencyKey: "  "})
	errs = append(errs, err)
	_, err = org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{{ContactID: contactA, Name: "A"}}})
	errs = append(errs, err)
	_, err = org.CreatePayments(ctx, CreatePaymentsParams{Payments: []Payment{{Invoice: &InvoiceRef{InvoiceID: invoiceA}, Account: &AccountRef{Code: "090"}, Amount: MustDecimal("1")}}})
	errs = append(errs, err)
	_, err = org.VoidInvoices(ctx, VoidInvoicesParams{InvoiceIDs: []string{invoiceA}})
	errs = append(errs, err)
	errs = append(errs, c.DeleteConnection(ctx, tokens, DeleteConnectionParams{ConnectionID: contactA}))
	for i, err := range errs {
		if !errors.Is(err, ErrMissingIdempotencyKey) || Classify(err) != ClassPermanent {
			t.Errorf("call %d: %v", i, err)
		}
	}
	_, err = org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "1")}, IdempotencyKey: strings.Repeat("k", 129)})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("long key: %v", err)
	}
	if n := len(a.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestTokenExpiredRefreshesOnceAndResends(t *testing.T) {
	t.Parallel()
	a, _, org, tokens := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Header.Get("Authorization") == "Bearer access-0" {
			writeJSON(w, 401, map[string]any{"Type": nil, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at 04/09/2023 05:16:59"})
			return
		}
		writeJSON(w, 200, map[string]any{"Invoices": []map[string]any{{"InvoiceID": invoiceA, "InvoiceNumber": "INV-1"}}})
	})
	res, err := org.CreateInvoices(context.Background(), CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "1")}, IdempotencyKey: "k1"})
	if err != nil || !res[0].OK() {
		t.Fatalf("%v %+v", err, res)
	}
	reqs := a.requests()
	if len(reqs) != 2 || tokens.refreshes != 1 || reqs[1].Header.Get("Idempotency-Key") != "k1" || string(reqs[0].Body) != string(reqs[1].Body) {
		t.Fatalf("requests %d, refreshes %d", len(reqs), tokens.refreshes)
	}
}

func TestTokenExpiredTwiceIsAuthError(t *testing.T) {
	t.Parallel()
	a, _, org, tokens := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 401, map[string]any{"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"})
	})
	_, err := org.Organisation(context.Background())
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Kind != TokenExpired || Classify(err) != ClassAuth {
		t.Fatalf("err = %v", err)
	}
	if n := len(a.requests()); n != 2 || tokens.refreshes != 1 {
		t.Fatalf("%d requests, %d refreshes", n, tokens.refreshes)
	}
}

func TestForbiddenTenant(t *testing.T) {
	t.Parallel()
	_, _, org, tokens := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 403, map[string]any{"Type": nil, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"})
	})
	_, err := org.Accounts(context.Background())
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Kind != TenantDisconnected || tokens.refreshes != 0 {
		t.Fatalf("err = %v", err)
	}
}

func TestRateLimitedIsReturnedNotRetried(t *testing.T) {
	t.Parallel()
	a, c, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("X-Rate-Limit-Problem", "minute")
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	_, err := org.CreateInvoices(context.Background(), CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "1")}, IdempotencyKey: "k"})
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Limit != LimitMinute || rl.RetryAfter != 30*time.Second || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("err = %v", err)
	}
	if n := len(a.requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
	if s := c.Budgets(testTenant); s.BlockedLimit != LimitMinute || s.BlockedUntil.IsZero() {
		t.Fatalf("budgets = %+v", s)
	}
}

func TestAppMinuteRateLimitBacksOff(t *testing.T) {
	t.Parallel()
	_, c, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("X-Rate-Limit-Problem", "appminute")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	_, err := org.Currencies(context.Background())
	var rl *RateLimitError
	// No Retry-After: the first of our doubling backoffs.
	if !errors.As(err, &rl) || rl.Limit != LimitAppMinute || rl.RetryAfter != time.Second {
		t.Fatalf("err = %v", err)
	}
	if s := c.Budgets(testTenant); s.BlockedLimit != LimitAppMinute || s.BlockedUntil.IsZero() {
		t.Fatalf("budgets = %+v", s)
	}
}

func TestServerErrorOnWriteIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	_, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Xero-Correlation-Id", "corr-500")
		writeJSON(w, 500, map[string]any{"ErrorNumber": 500, "Type": "UnknownErrorException", "Message": "An error occurred in Xero."})
	})
	ctx := context.Background()
	_, err := org.CreatePayments(ctx, CreatePaymentsParams{Payments: []Payment{{Invoice: &InvoiceRef{InvoiceID: invoiceA}, Account: &AccountRef{Code: "090"}, Amount: MustDecimal("10.00"), Date: Date{2026, 5, 2}}}, IdempotencyKey: "k"})
	if !errors.Is(err, ErrOutcomeUnknown) || Classify(err) != ClassTransient || !strings.Contains(err.Error(), "corr-500") {
		t.Fatalf("write: %v", err)
	}
	_, err = org.FindPaymentsByInvoice(ctx, invoiceA)
	if errors.Is(err, ErrOutcomeUnknown) || Classify(err) != ClassTransient {
		t.Fatalf("read: %v", err)
	}
}

func TestOrganisationOfflineIsTransient(t *testing.T) {
	t.Parallel()
	_, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(503)
		_, _ = io.WriteString(w, "The Organisation is Offline")
	})
	_, err := org.TaxRates(context.Background())
	if Classify(err) != ClassTransient {
		t.Fatalf("err = %v", err)
	}
}

func TestLostResponseOnWriteIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	_, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
	})
	_, err := org.CreateContacts(context.Background(), CreateContactsParams{Contacts: []Contact{{Name: "Acme", ContactNumber: "C-1"}}, IdempotencyKey: "k"})
	var te *TransportError
	if !errors.As(err, &te) || !errors.Is(err, ErrOutcomeUnknown) || Classify(err) != ClassTransient {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectionRefusedIsNotOutcomeUnknown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	c, _ := New(Config{APIURL: u})
	_, err := c.Org(testTenant, &rotatingTokens{}).CreateContacts(context.Background(), CreateContactsParams{Contacts: []Contact{{Name: "Acme"}}, IdempotencyKey: "k"})
	if Classify(err) != ClassTransient || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("err = %v", err)
	}
}

func TestBatchResponseMismatch(t *testing.T) {
	t.Parallel()
	var reply atomic.Value
	_, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, reply.Load())
	})
	send := func() error {
		_, err := org.CreateInvoices(context.Background(), CreateInvoicesParams{Invoices: []Invoice{sampleInvoice("INV-1", "1"), sampleInvoice("INV-2", "1")}, IdempotencyKey: "k"})
		return err
	}
	reply.Store(map[string]any{"Invoices": []map[string]any{{"InvoiceID": invoiceA, "InvoiceNumber": "INV-1"}}})
	if err := send(); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("short response: %v", err)
	}
	reply.Store(map[string]any{"Invoices": []map[string]any{{"InvoiceID": invoiceA, "InvoiceNumber": "INV-2"}, {"InvoiceID": invoiceA, "InvoiceNumber": "INV-1"}}})
	if err := send(); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("reordered response: %v", err)
	}
	reply.Store(map[string]any{"Invoices": "garbage"})
	if err := send(); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("undecodable response: %v", err)
	}
}

func TestContactsCalls(t *testing.T) {
	t.Parallel()
	const email = `o'brien"\ünïcode@example.com`
	other := "2c5a3b1e-0f4d-4c3b-9a8e-7d6c5b4a3f2e"
	a, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/api.xro/2.0/Contacts" && r.URL.Query().Has("searchTerm"):
			if r.URL.Query().Get("page") == "1" {
				var cs []map[string]any
				for i := range pageSize {
					cs = append(cs, map[string]any{"ContactID": other, "Name": fmt.Sprint("n", i), "EmailAddress": "x" + email})
				}
				writeJSON(w, 200, map[string]any{"Contacts": cs})
				return
			}
			writeJSON(w, 200, map[string]any{"Contacts": []map[string]any{{"ContactID": contactA, "Name": "O'Brien", "EmailAddress": strings.ToUpper(email)}}})
		case r.Method == "GET" && r.URL.Path == "/api.xro/2.0/Contacts" && r.URL.Query().Has("where"):
			writeJSON(w, 200, map[string]any{"Contacts": []map[string]any{
				{"ContactID": contactA, "ContactNumber": other, "Name": "G"},
				{"ContactID": contactA, "ContactNumber": "someone else's", "Name": "H"},
			}})
		case r.Method == "POST" && r.URL.Path == "/api.xro/2.0/Contacts":
			var env contactsEnvelope
			_ = json.Unmarshal(body, &env)
			env.Contacts[0].ContactStatus = "ACTIVE"
			writeJSON(w, 200, env)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(500)
		}
	})
	ctx := context.Background()
	got, err := org.FindContactsByEmail(ctx, email)
	if err != nil || len(got) != 1 || got[0].ContactID != contactA {
		t.Fatalf("FindContactsByEmail = %+v, %v", got, err)
	}
	reqs := a.requests()
	if reqs[0].Query.Get("searchTerm") != email || reqs[0].Query.Get("includeArchived") != "true" || len(reqs) != 2 {
		t.Fatalf("search request %+v", reqs[0].Query)
	}
	before := len(a.requests())
	byNumber, err := org.FindContactsByNumbers(ctx, []string{"C-404", `C "1"`, other})
	if err != nil || len(byNumber) != 1 || byNumber[other].ContactID != contactA {
		t.Fatalf("FindContactsByNumbers = %+v, %v", byNumber, err)
	}
	// A number with a quote cannot be a where literal (Xero-Java#347): it is searched for
	// alone, and the others share one where.
	var searched []string
	var where string
	for _, r := range a.requests()[before:] {
		if v := r.Query.Get("searchTerm"); v != "" {
			searched = append(searched, v)
		}
		if v := r.Query.Get("where"); v != "" {
			where = v
		}
	}
	if !slices.Equal(slices.Compact(searched), []string{`C "1"`}) { // two pages
		t.Fatalf("searchTerm lookups %q", searched)
	}
	if want := `(ContactNumber=="C-404")||(ContactNumber=="` + other + `")`; where != want {
		t.Fatalf("where = %q, want %q", where, want)
	}
	calls := len(a.requests())
	if got, err := org.FindContactsByNumbers(ctx, []string{strings.Repeat("n", 51), ""}); err != nil || len(got) != 0 || len(a.requests()) != calls {
		t.Fatalf("numbers no contact can have: %+v, %v, %d calls", got, err, len(a.requests())-calls)
	}
	res, err := org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{{ContactID: contactA, ContactNumber: "C 1", Name: "A", EmailAddress: ""}}, IdempotencyKey: "k"})
	if err != nil || !res[0].OK() || res[0].XeroID != contactA {
		t.Fatalf("UpdateContacts = %+v, %v", res, err)
	}
	// Clearing a field sends it empty.
	if body := string(a.requests()[len(a.requests())-1].Body); !strings.Contains(body, `"EmailAddress":""`) {
		t.Fatalf("update body %s", body)
	}
	if _, err := org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{{Name: "no id"}}, IdempotencyKey: "k"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("update without id: %v", err)
	}
}

func TestVoidAndFindInvoices(t *testing.T) {
	t.Parallel()
	a, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.Method {
		case "POST":
			writeJSON(w, 200, map[string]any{"Invoices": []map[string]any{{"InvoiceID": strings.ToUpper(invoiceA), "Status": "VOIDED", "InvoiceNumber": "INV-1"}}})
		case "GET":
			writeJSON(w, 200, map[string]any{"Invoices": []map[string]any{{"InvoiceID": invoiceA, "InvoiceNumber": "INV-1"}, {"InvoiceID": invoiceA, "InvoiceNumber": "inv-1"}}})
		}
	})
	ctx := context.Background()
	res, err := org.VoidInvoices(ctx, VoidInvoicesParams{InvoiceIDs: []string{invoiceA}, IdempotencyKey: "void:1"})
	if err != nil || !res[0].OK() {
		t.Fatalf("void: %+v %v", res, err)
	}
	if body := string(a.requests()[0].Body); body != `{"Invoices":[{"InvoiceID":"`+invoiceA+`","Status":"VOIDED"}]}` {
		t.Fatalf("void body %s", body)
	}
	invs, err := org.FindInvoicesByNumber(ctx, []string{"INV-1", "A,B", `Q"1`})
	if err != nil || len(invs) != 1 {
		t.Fatalf("find: %+v %v", invs, err)
	}
	reqs := a.requests()
	if reqs[1].Query.Get("where") != `InvoiceNumber=="A,B"` || reqs[2].Query.Get("searchTerm") != `Q"1` || reqs[3].Query.Get("InvoiceNumbers") != "INV-1" {
		t.Fatalf("queries %v / %v / %v", reqs[1].Query, reqs[2].Query, reqs[3].Query)
	}
}

func TestPaymentsCalls(t *testing.T) {
	t.Parallel()
	a, _, org, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.Method {
		case "PUT":
			writeJSON(w, 200, map[string]any{"Payments": []map[string]any{
				{"PaymentID": "", "Invoice": map[string]any{"InvoiceID": invoiceA}, "HasValidationErrors": true,
					"ValidationErrors": []map[string]string{{"Message": "Payment amount exceeds the amount outstanding on this document"}}},
			}})
		case "GET":
			writeJSON(w, 200, map[string]any{"Payments": []map[string]any{{"PaymentID": contactA, "Invoice": map[string]any{"InvoiceID": invoiceA}, "Amount": json.Number("10.00"), "Reference": "R1"}}})
		}
	})
	ctx := context.Background()
	p := Payment{Invoice: &InvoiceRef{InvoiceID: invoiceA}, Account: &AccountRef{Code: "090"}, Date: Date{2026, 5, 2}, Amount: MustDecimal("10.00"), Reference: "R1"}
	res, err := org.CreatePayments(ctx, CreatePaymentsParams{Payments: []Payment{p}, IdempotencyKey: "pay:1"})
	if err != nil || res[0].OK() || res[0].Code != CodeValidationError {
		t.Fatalf("create: %+v %v", res, err)
	}
	if body := string(a.requests()[0].Body); !strings.Contains(body, `"Amount":10.00`) || !strings.Contains(body, `"Account":{"Code":"090"}`) {
		t.Fatalf("body %s", body)
	}
	ps, err := org.FindPaymentsByInvoice(ctx, invoiceA)
	if err != nil || len(ps) != 1 || !ps[0].Amount.Equal(MustDecimal("10")) {
		t.Fatalf("find: %+v %v", ps, err)
	}
	if w := a.requests()[1].Query.Get("where"); w != `Invoice.InvoiceID==Guid("`+invoiceA+`")` {
		t.Fatalf("where %q", w)
	}
	bad := p
	bad.Amount = MustDecimal("10.001")
	if _, err := org.CreatePayments(ctx, CreatePaymentsParams{Payments: []Payment{bad}, IdempotencyKey: "k"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("3 dp amount: %v", err)
	}
}

func TestConnectionsCalls(t *testing.T) {
	t.Parallel()
	a, c, _, tokens := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.Method {
		case "GET":
			_, _ = io.WriteString(w, `[{"id":"7cb59f93-2964-421d-bb5e-a0f7a4572a44","tenantId":"`+testTenant+`","tenantName":"Demo Company (NZ)","tenantType":"ORGANISATION","createdDateUtc":"2019-12-07T18:46:19.5165400","updatedDateUtc":"2019-12-07T18:46:19.5187840"}]`)
		case "DELETE":
			w.WriteHeader(204)
		}
	})
	ctx := context.Background()
	conns, err := c.Connections(ctx, tokens, ConnectionsParams{AuthEventID: "d99ecdfe-3d5a-4c8f-9bb1-1c1f1d0e7a2b"})
	if err != nil || len(conns) != 1 || conns[0].TenantID != testTenant || conns[0].CreatedDateUTC.Year() != 2019 {
		t.Fatalf("Connections = %+v, %v", conns, err)
	}
	if err := c.DeleteConnection(ctx, tokens, DeleteConnectionParams{ConnectionID: conns[0].ID, IdempotencyKey: "disc:1"}); err != nil {
		t.Fatal(err)
	}
	reqs := a.requests()
	if reqs[0].Path != "/connections" || reqs[0].Header.Get("Xero-Tenant-Id") != "" || reqs[0].Query.Get("authEventId") == "" {
		t.Errorf("GET /connections: %+v", reqs[0])
	}
	if reqs[1].Method != "DELETE" || reqs[1].Path != "/connections/7cb59f93-2964-421d-bb5e-a0f7a4572a44" {
		t.Errorf("DELETE: %+v", reqs[1])
	}
}

func TestAuthCodeURLAndExchange(t *testing.T) {
	t.Parallel()
	var verifierSeen string
	a, c, _, _ := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		q, _ := url.ParseQuery(string(body))
		verifierSeen = q.Get("code_verifier")
		if id, sec, _ := r.BasicAuth(); id != "client-id" || sec != "client-secret" || q.Get("code") != "the-code" || q.Get("grant_type") != "authorization_code" {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "at", "refresh_token": "rt", "expires_in": 1800, "token_type": "Bearer", "scope": "offline_access"})
	})
	verifier, state := NewVerifier(), NewState()
	u, err := url.Parse(c.AuthCodeURL(state, verifier))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(verifier))
	if u.Path != "/identity/connect/authorize" || q.Get("state") != state || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) || q.Get("response_type") != "code" ||
		q.Get("client_id") != "client-id" || q.Get("redirect_uri") != "http://localhost:7434/callback" ||
		q.Get("scope") != strings.Join(DefaultScopes, " ") {
		t.Fatalf("auth URL %s", u)
	}
	tok, err := c.Exchange(context.Background(), "the-code", verifier)
	if err != nil || tok.RefreshToken != "rt" || verifierSeen != verifier || time.Until(tok.Expiry) < 29*time.Minute {
		t.Fatalf("Exchange = %v, %v", tok, err)
	}
	_, err = c.Exchange(context.Background(), "wrong", verifier)
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Kind != InvalidGrant {
		t.Fatalf("bad code: %v", err)
	}
	if got := a.requests()[0].Path; got != "/connect/token" {
		t.Fatalf("token path %s", got)
	}
}
