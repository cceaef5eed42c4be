package xerosim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	clientID    = "test-app"
	secret      = "test-secret"
	redirectURI = "http://localhost:7434/callback"
	allScopes   = "offline_access accounting.contacts accounting.transactions accounting.settings.read"
)

// fakeClock is a frozen real clock, so simulated time moves only when a
// test says so and rate windows cannot roll over mid-test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's simulator, server, HTTP client and connected tenant.
type env struct {
	t      *testing.T
	sim    *xerosim.Sim
	base   string
	clock  *fakeClock
	client *http.Client // validates every response against the OpenAPI documents
	tr     *http.Transport
	tenant string
	tokens tokens
}

type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	Expires int    `json:"expires_in"`
	Type    string `json:"token_type"`
	Scope   string `json:"scope"`
}

type option func(*xerosim.Config, *[]xerosim.OrgConfig)

func withConfig(f func(*xerosim.Config)) option {
	return func(c *xerosim.Config, _ *[]xerosim.OrgConfig) { f(c) }
}

func withOrg(f func(*xerosim.OrgConfig)) option {
	return func(_ *xerosim.Config, orgs *[]xerosim.OrgConfig) { f(&(*orgs)[0]) }
}

func withOrgs(extra ...xerosim.OrgConfig) option {
	return func(_ *xerosim.Config, orgs *[]xerosim.OrgConfig) { *orgs = append(*orgs, extra...) }
}

// setup starts a simulator with DefaultOrg("Acme Ltd") (plus options),
// connects the test app through the real OAuth flow and returns the env.
func setup(t *testing.T, opts ...option) *env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)}
	cfg := xerosim.Config{
		Now:  clock.Now,
		Seed: 1,
		Clients: []xerosim.Client{
			{ID: clientID, Secret: secret, Name: "xerosync test", RedirectURIs: []string{redirectURI}},
			{ID: "other-app", Secret: "other-secret", RedirectURIs: []string{redirectURI}},
		},
	}
	acme := xerosim.DefaultOrg("Acme Ltd")
	// A fixed tenant id and a frozen clock make rate windows, whose offsets
	// derive from the id, the same on every run.
	acme.OrganisationID = "9e1f3a4b-5c6d-4e7f-8091-a2b3c4d5e6f7"
	orgs := []xerosim.OrgConfig{acme}
	for _, o := range opts {
		o(&cfg, &orgs)
	}
	sim, srv := xerosim.NewServer(t, cfg)
	var tenant string
	for i, o := range orgs {
		id, err := sim.AddOrg(o)
		if err != nil {
			t.Fatalf("add org: %v", err)
		}
		if i == 0 {
			tenant = id
		}
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{
		t: t, sim: sim, base: srv.URL, clock: clock, tenant: tenant, tr: tr,
		client: &http.Client{
			Transport:     &validatingTransport{t: t, next: tr},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		},
	}
	e.tokens = e.connect(clientID, secret, allScopes)
	return e
}

// inProcess is e for use inside a synctest bubble, failing t: its client calls the
// simulator's handler in the calling goroutine, with no network. A bubble's clock moves only
// when every goroutine in it waits on a timer or a channel, which a goroutine reading a
// connection never does; in-process, a latency fault's wait is such a timer, so a test can
// let it run out, or hold a call in it, exactly.
func (e *env) inProcess(t *testing.T) *env {
	local := *e
	local.t, local.tr = t, nil
	local.client = &http.Client{
		Transport:     &validatingTransport{t: t, next: serveTransport{e.sim}},
		CheckRedirect: e.client.CheckRedirect,
	}
	return &local
}

// serveTransport answers a request by calling h, as a server would.
type serveTransport struct{ h http.Handler }

func (s serveTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = strings.Repeat("v", 20) + fmt.Sprint(time.Now().UnixNano()) + strings.Repeat("x", 20)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs the consent step and returns the redirect's query.
func (e *env) authorize(params url.Values) (*http.Response, url.Values) {
	e.t.Helper()
	resp, err := e.client.Get(e.base + "/identity/connect/authorize?" + params.Encode())
	if err != nil {
		e.t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatalf("authorize location: %v", err)
	}
	return resp, loc.Query()
}

func authParams(client, scopes, challenge string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirectURI},
		"scope": {scopes}, "state": {"st-123"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

// connect runs authorisation code + PKCE for an app and returns its tokens.
func (e *env) connect(client, clientSecret, scopes string) tokens {
	e.t.Helper()
	verifier, challenge := pkce()
	_, q := e.authorize(authParams(client, scopes, challenge))
	if q == nil || q.Get("code") == "" || q.Get("state") != "st-123" {
		e.t.Fatalf("authorize: no code or state in redirect: %v", q)
	}
	status, body := e.token(client, clientSecret, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	})
	if status != http.StatusOK {
		e.t.Fatalf("token exchange: %d %s", status, body)
	}
	var tk tokens
	if err := json.Unmarshal(body, &tk); err != nil {
		e.t.Fatalf("token response: %v", err)
	}
	return tk
}

// token posts to the token endpoint with HTTP Basic client auth.
func (e *env) token(client, clientSecret string, form url.Values) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/connect/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, clientSecret)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) refresh(rt string) (int, tokens, []byte) {
	e.t.Helper()
	status, body := e.token(clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	var tk tokens
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &tk); err != nil {
			e.t.Fatalf("refresh response: %v", err)
		}
	}
	return status, tk, body
}

// result is one API response.
type result struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error // transport error (e.g. a dropped connection)
}

// JSON decodes the body keeping numbers exact.
func (r *result) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %d response %q: %v", r.Status, r.Body, err)
	}
	return m
}

// items returns the envelope's collection.
func (r *result) items(t *testing.T, key string) []map[string]any {
	t.Helper()
	m := r.JSON(t)
	raw, ok := m[key].([]any)
	if !ok {
		t.Fatalf("response has no %s array: %s", key, r.Body)
	}
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		out = append(out, it.(map[string]any))
	}
	return out
}

type callOpt func(*http.Request)

func withKey(k string) callOpt { return func(r *http.Request) { r.Header.Set("Idempotency-Key", k) } }
func withTenant(id string) callOpt {
	return func(r *http.Request) { r.Header.Set("Xero-Tenant-Id", id) }
}
func withToken(tok string) callOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
func withHeader(k, v string) callOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// call makes an Accounting or identity API call as the connected app.
// body may be nil, a string (sent as is) or a value (sent as JSON).
func (e *env) call(method, path string, body any, opts ...callOpt) *result {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		rdr = bytes.NewReader(j)
	}
	u := e.base + path
	if !strings.HasPrefix(path, "/") {
		u = e.base + "/api.xro/2.0/" + path
	}
	req, err := http.NewRequest(method, u, rdr)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens.Access)
	req.Header.Set("Xero-Tenant-Id", e.tenant)
	req.Header.Set("Accept", "application/json")
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return &result{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return &result{Status: resp.StatusCode, Header: resp.Header, Body: b, Err: err}
}

// mustOK fails unless the call answered 200.
func (r *result) mustOK(t *testing.T) *result {
	t.Helper()
	if r.Err != nil || r.Status != http.StatusOK {
		t.Fatalf("want 200, got %d %v: %s", r.Status, r.Err, r.Body)
	}
	return r
}

// addContact creates a contact and returns its ContactID.
func (e *env) addContact(fields map[string]any) string {
	e.t.Helper()
	r := e.call(http.MethodPut, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{fields}}).mustOK(e.t)
	c := r.items(e.t, "Contacts")[0]
	if c["HasValidationErrors"] == true {
		e.t.Fatalf("add contact %v: %s", fields, r.Body)
	}
	return c["ContactID"].(string)
}

// invoiceBody is a valid AUTHORISED sales invoice: 2 × 20.00 on 200/OUTPUT2.
func invoiceBody(contactID, number string) map[string]any {
	return map[string]any{
		"Type":    "ACCREC",
		"Contact": map[string]any{"ContactID": contactID},
		"LineItems": []any{map[string]any{
			"Description": "Widget", "Quantity": json.Number("2"), "UnitAmount": json.Number("20.00"),
			"AccountCode": "200", "TaxType": "OUTPUT2",
		}},
		"Date": "2026-05-01", "DueDate": "2026-05-31",
		"InvoiceNumber": number, "Reference": "ORD-" + number,
		"Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
	}
}

// addInvoice creates an invoice and returns its InvoiceID.
func (e *env) addInvoice(body map[string]any) string {
	e.t.Helper()
	r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{body}}).mustOK(e.t)
	inv := r.items(e.t, "Invoices")[0]
	if inv["HasErrors"] == true {
		e.t.Fatalf("add invoice: %s", r.Body)
	}
	return inv["InvoiceID"].(string)
}

// validationMessages collects every ValidationErrors[].Message in a body.
func validationMessages(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			if k == "ValidationErrors" {
				if list, ok := vv.([]any); ok {
					for _, it := range list {
						if m, ok := it.(map[string]any); ok {
							if s, ok := m["Message"].(string); ok {
								out = append(out, s)
							}
						}
					}
				}
				continue
			}
			out = append(out, validationMessages(vv)...)
		}
	case []any:
		for _, it := range x {
			out = append(out, validationMessages(it)...)
		}
	}
	return out
}

func num(v any) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return fmt.Sprintf("<%T %v>", v, v)
}
