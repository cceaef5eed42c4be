package xerosim

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Path prefixes the Sim answers on. Xero spreads these over three hosts
// (login.xero.com, identity.xero.com, api.xero.com); their paths do not
// collide, so one Sim can serve all three and a single base URL can stand in
// for xerosync's login_url, identity_url and api_url.
const (
	AuthorizePath   = "/identity/connect/authorize"
	TokenPath       = "/connect/token"
	RevocationPath  = "/connect/revocation"
	ConnectionsPath = "/connections"
	AccountingPath  = "/api.xro/2.0"
	StatePath       = "/_sim/state"
)

// maxBodyBytes is Xero's request size limit, "3.5 MB" (XERO.md §2).
const maxBodyBytes = 3_670_016

// Config configures a Sim. The zero value is usable: every field has a
// default that matches Xero as XERO.md describes it.
type Config struct {
	// Now is the real clock the simulated clock is derived from; default
	// time.Now. Inject a fake to make a test independent of wall time.
	Now func() time.Time
	// TimeScale makes simulated time run faster than Now: with 60, one
	// second of Now is one simulated minute. Default 1. Token lifetimes,
	// idempotency retention and rate windows all use simulated time, and
	// Retry-After is converted back to real seconds.
	TimeScale float64
	// ClientsShareClock says that the clients run on this simulated clock too
	// (a simulated day's run: internal/simclock), so Retry-After is sent in
	// simulated seconds; by default it is converted back to real seconds,
	// for clients on the wall clock.
	ClientsShareClock bool
	// Seed seeds the RNG that draws random faults, so a failing run can be
	// replayed. IDs and tokens do not use it.
	Seed int64

	// Clients are the registered apps. If empty, DefaultClient() is
	// registered so a demo works with no setup.
	Clients []Client

	AccessTokenTTL  time.Duration // default 30m (expires_in 1800)
	RefreshTokenTTL time.Duration // unused refresh token lifetime; default 60 days
	RefreshGrace    time.Duration // how long a rotated-out refresh token still works; default 30m
	AuthCodeTTL     time.Duration // default 5m
	IdempotencyTTL  time.Duration // how long an Idempotency-Key is kept; default 6m

	// Limits are the rate limits; zero fields take Xero's defaults.
	Limits Limits
	// Problems is the wording of X-Rate-Limit-Problem; zero fields take
	// the defaults ("minute", "day", "appminute", "concurrent").
	Problems ProblemWords

	// Faults are random faults from the start; SetFaults changes them.
	Faults Faults
	// ElementShapes are the shapes of batch write elements from the start;
	// SetElementShapes changes them.
	ElementShapes ElementShapes

	// MaxRequestLog caps the request log (oldest dropped first); default
	// 100,000 requests.
	MaxRequestLog int
}

// Client is a registered Xero app.
type Client struct {
	ID string
	// Secret is empty for a PKCE-only app, which authenticates at the token
	// endpoint with client_id alone.
	Secret string
	// Name is what Xero reports as ProviderName in every envelope.
	Name string
	// RedirectURIs are the exact redirect URIs registered for the app; Xero
	// allows no wildcards (XERO.md §1).
	RedirectURIs []string
}

// DefaultClient is the app registered when Config.Clients is empty. Its
// redirect URI is xerosync's default xero.redirect_url.
func DefaultClient() Client {
	return Client{
		ID:           "xerosim-client",
		Secret:       "xerosim-secret",
		Name:         "xerosim",
		RedirectURIs: []string{"http://localhost:7434/callback"},
	}
}

// defaultUserID is the one Xero user who consents to every app;
// connections belong to a user and an app.
const defaultUserID = "6c1a9f3e-2b4d-4e8a-9f10-5d2c7b8e4a01"

// Sim is the simulator. Create it with New; it is an http.Handler.
type Sim struct {
	cfg   Config
	clock *simClock

	// mu guards the business state: apps, organisations and their
	// documents, OAuth grants, codes, tokens and connections. Handlers take
	// it for the whole of one request's work, which serialises writes the
	// way a single Xero organisation does and keeps validation and commit
	// atomic.
	mu          sync.Mutex
	clients     map[string]*Client
	orgs        map[string]*org
	orgOrder    []string
	consentOrgs []string // tenant ids the next consent grants (SetConsent); empty means all
	auth        authState
	shapes      ElementShapes

	limiter *limiter
	idem    *idemStore
	faults  *faultInjector
	stats   *recorder
}

// New returns a Sim. It does no I/O and starts no goroutines.
func New(cfg Config) *Sim {
	cfg.AccessTokenTTL = cmp.Or(cfg.AccessTokenTTL, 30*time.Minute)
	cfg.RefreshTokenTTL = cmp.Or(cfg.RefreshTokenTTL, 60*24*time.Hour)
	cfg.RefreshGrace = cmp.Or(cfg.RefreshGrace, 30*time.Minute)
	cfg.AuthCodeTTL = cmp.Or(cfg.AuthCodeTTL, 5*time.Minute)
	cfg.IdempotencyTTL = cmp.Or(cfg.IdempotencyTTL, 6*time.Minute)
	cfg.MaxRequestLog = cmp.Or(cfg.MaxRequestLog, 100_000)
	cfg.Limits = cfg.Limits.withDefaults()
	cfg.Problems = cfg.Problems.withDefaults()
	if len(cfg.Clients) == 0 {
		cfg.Clients = []Client{DefaultClient()}
	}
	clock := newSimClock(cfg.Now, cfg.TimeScale)
	clock.shared = cfg.ClientsShareClock
	s := &Sim{
		cfg:     cfg,
		clock:   clock,
		clients: map[string]*Client{},
		orgs:    map[string]*org{},
		auth:    newAuthState(),
		shapes:  cfg.ElementShapes,
		limiter: newLimiter(cfg.Limits, cfg.Problems),
		idem:    newIdemStore(cfg.IdempotencyTTL),
		faults:  newFaultInjector(rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)), cfg.Faults),
		stats:   newRecorder(cfg.MaxRequestLog),
	}
	for _, c := range cfg.Clients {
		s.AddClient(c)
	}
	return s
}

// Start returns a new Sim served by an httptest.Server. The caller closes
// the server.
func Start(cfg Config) (*Sim, *httptest.Server) {
	s := New(cfg)
	return s, httptest.NewServer(s)
}

// NewServer is Start for tests: the server is closed when the test ends.
func NewServer(tb interface {
	Helper()
	Cleanup(func())
}, cfg Config) (*Sim, *httptest.Server) {
	tb.Helper()
	s, srv := Start(cfg)
	tb.Cleanup(srv.Close)
	return s, srv
}

// AddClient registers (or replaces) an app.
func (s *Sim) AddClient(c Client) {
	c.Name = cmp.Or(c.Name, c.ID)
	c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = &c
}

// Now is the simulated time.
func (s *Sim) Now() time.Time { return s.clock.Now() }

// Clock returns the simulated clock's reference: at the real instant real
// it was sim, and it runs scale times as fast (Advance moves sim). A client
// that shares the clock (Config.ClientsShareClock) computes the same time.
func (s *Sim) Clock() (real, sim time.Time, scale float64) {
	return s.clock.reference()
}

// DayWindowStart is the start of the organisation's current day window (each
// organisation's windows are offset: XERO.md §2). A run that must fit one
// day of an organisation's budget Advances the clock to a window's start.
func (s *Sim) DayWindowStart(tenantID string) time.Time {
	s.mu.Lock()
	id := tenantID
	if o := s.org(tenantID); o != nil {
		id = o.id // the limiter's windows are offset by the id as the organisation has it
	}
	s.mu.Unlock()
	return dayWindowStart(id, s.clock.Now())
}

// Advance moves the simulated clock forward, for example past a token's
// 30 minutes or an idempotency key's 6.
func (s *Sim) Advance(d time.Duration) { s.clock.Advance(d) }

// route is what a request path resolved to.
type route struct {
	kind     routeKind
	endpoint string // path template, for statistics ("/api.xro/2.0/Invoices/{InvoiceID}")
	resource string // accounting resource, canonical case ("Invoices")
	id       string // path parameter, if any
}

type routeKind int

const (
	routeNone routeKind = iota
	routeAuthorize
	routeToken
	routeRevocation
	routeConnections
	routeAccounting
	routeState
)

// accountingResources are the collections the simulator implements, with
// the name of their path parameter. Xero's paths are case-insensitive.
var accountingResources = []struct{ name, param string }{
	{"Contacts", "{ContactID}"},
	{"Invoices", "{InvoiceID}"},
	{"Payments", "{PaymentID}"},
	{"Organisation", ""},
	{"Currencies", ""},
	{"Accounts", "{AccountID}"},
	{"TaxRates", "{TaxType}"},
}

func resolveRoute(path string) route {
	switch {
	case path == AuthorizePath:
		return route{kind: routeAuthorize, endpoint: AuthorizePath}
	case path == TokenPath:
		return route{kind: routeToken, endpoint: TokenPath}
	case path == RevocationPath:
		return route{kind: routeRevocation, endpoint: RevocationPath}
	case path == StatePath:
		return route{kind: routeState, endpoint: StatePath}
	case strings.EqualFold(path, ConnectionsPath):
		return route{kind: routeConnections, endpoint: ConnectionsPath}
	case len(path) > len(ConnectionsPath)+1 && strings.EqualFold(path[:len(ConnectionsPath)+1], ConnectionsPath+"/"):
		id := path[len(ConnectionsPath)+1:]
		if id == "" || strings.Contains(id, "/") {
			return route{}
		}
		return route{kind: routeConnections, endpoint: ConnectionsPath + "/{id}", id: id}
	}
	prefix := AccountingPath + "/"
	if len(path) <= len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return route{}
	}
	parts := strings.Split(strings.TrimSuffix(path[len(prefix):], "/"), "/")
	if len(parts) > 2 {
		return route{}
	}
	for _, res := range accountingResources {
		if !strings.EqualFold(parts[0], res.name) {
			continue
		}
		rt := route{kind: routeAccounting, resource: res.name, endpoint: AccountingPath + "/" + res.name}
		if len(parts) == 2 {
			if res.param == "" || parts[1] == "" {
				return route{}
			}
			param := res.param
			if res.name == "Contacts" && !isGUID(parts[1]) {
				param = "{ContactNumber}"
			}
			rt.id = parts[1] // r.URL.Path is already unescaped
			rt.endpoint += "/" + param
		}
		return rt
	}
	return route{}
}

// outcome is what one request did, for the log and statistics.
type outcome struct {
	endpoint string
	tenantID string
	fault    FaultKind
	replayed bool
	lost     bool // the response must not reach the client
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		textResponse(http.StatusBadRequest, "read request body: "+err.Error()).write(w)
		return
	}
	entry := s.stats.begin(r, body, s.clock.Now())
	var res *response
	var out outcome
	if len(body) > maxBodyBytes {
		res = textResponse(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	} else {
		res, out = s.dispatch(r, body)
	}
	status := 0
	if res != nil && !out.lost {
		status = res.Status
	}
	s.stats.finish(entry, status, res, out)
	if out.lost || res == nil {
		abortConnection(w)
		return
	}
	res.write(w)
}

// abortConnection drops the connection without a response, so the client
// sees a transport error (EOF or reset) after the server did the work.
// Hijacking closes the socket at once on HTTP/1; where that is not possible
// (HTTP/2, a ResponseRecorder) http.ErrAbortHandler makes net/http abort the
// stream without logging a stack trace.
func abortConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *Sim) dispatch(r *http.Request, body []byte) (*response, outcome) {
	rt := resolveRoute(r.URL.Path)
	out := outcome{endpoint: rt.endpoint}
	if rt.kind == routeNone {
		out.endpoint = "unknown"
		return notFoundResponse(), out
	}
	if rt.kind == routeState {
		if r.Method != http.MethodGet {
			return methodNotAllowed(), out
		}
		return jsonResponse(http.StatusOK, s.State()), out
	}
	res := s.serveXero(r, body, rt, &out)
	// A lost response is lost whatever the handler answered: the work is
	// done and the client hears nothing.
	if out.fault == FaultLostResponse {
		out.lost = true
	}
	return res, out
}

// serveXero runs a request for one of Xero's own endpoints. Scripted faults
// may target any of them, including the token endpoint (a lost refresh
// response is the case the grace period exists for). Random faults are for
// the Accounting API only: they model Xero's API having a bad moment, and a
// random failure of every login would make a demo unusable rather than
// realistic.
func (s *Sim) serveXero(r *http.Request, body []byte, rt route, out *outcome) *response {
	switch rt.kind {
	case routeAuthorize:
		return s.withScriptedFault(r, out, func() *response { return s.handleAuthorize(r) })
	case routeToken:
		return s.withScriptedFault(r, out, func() *response { return s.handleToken(r, body) })
	case routeRevocation:
		return s.withScriptedFault(r, out, func() *response { return s.handleRevocation(r, body) })
	case routeConnections:
		return s.serveConnections(r, rt, out)
	}
	return s.serveAccounting(r, body, rt, out)
}

// withScriptedFault runs a non-accounting handler under a scripted fault, if
// one matches.
func (s *Sim) withScriptedFault(r *http.Request, out *outcome, h func() *response) *response {
	out.fault = s.faults.pick(r, false)
	if res := faultResponse(out.fault); res != nil {
		return res
	}
	if out.fault == FaultLatency {
		s.sleep(r) // then do the work even if the client gave up, as Xero would
	}
	return h()
}

// faultResponse is what an injected fault answers instead of doing the
// work, or nil for the faults that let the work run (latency, a lost
// response). The Accounting API answers Fault429 from its limiter instead,
// so that the rest of the window is limited too.
func faultResponse(kind FaultKind) *response {
	switch kind {
	case FaultOffline:
		return offlineResponse()
	case Fault5xx:
		return internalError()
	case Fault429:
		return textResponse(http.StatusTooManyRequests, "Too Many Requests")
	}
	return nil
}

// sleep waits the configured latency, or until the client gives up, so
// a closed server is never held up by an injected delay.
func (s *Sim) sleep(r *http.Request) {
	t := time.NewTimer(s.faults.latency())
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func methodNotAllowed() *response {
	return textResponse(http.StatusMethodNotAllowed, "The requested resource does not support http method")
}

// apiRequest is one Accounting API call after authentication.
type apiRequest struct {
	r        *http.Request
	method   string
	body     []byte
	query    url.Values
	rt       route
	org      *org
	clientID string
	provider string
	now      time.Time
	shapes   ElementShapes // read under Sim.mu by handleAccounting
}

// summarize reports whether errors are summarised into one 400. Xero's
// default is summarised (XERO.md §5: the spec says the default is false,
// but Xero behaves as if it were true), so only an explicit false turns it
// off.
func (a *apiRequest) summarize() bool {
	return !strings.EqualFold(a.query.Get("summarizeErrors"), "false")
}

func (a *apiRequest) unitDP() int {
	if a.query.Get("unitdp") == "4" {
		return 4
	}
	return 2
}

// dayLimit is the organisation's calls a day: its own, or Config.Limits'.
func (s *Sim) dayLimit(o *org) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cmp.Or(o.cfg.DayLimit, s.cfg.Limits.PerDay)
}

// serveAccounting is the Accounting API pipeline, in Xero's order:
// authentication, tenant, scope, rate limits, then idempotency, then the
// work. A 429 therefore means nothing ran (XERO.md §3).
func (s *Sim) serveAccounting(r *http.Request, body []byte, rt route, out *outcome) *response {
	now := s.clock.Now()
	tok, res := s.authenticate(r, now)
	if res != nil {
		return res
	}
	tenantID := r.Header.Get("Xero-Tenant-Id")
	o, clientName, res := s.connectedOrg(tok, tenantID)
	if res != nil {
		return res
	}
	out.tenantID = o.id
	if res := s.checkScope(tok, rt, r.Method); res != nil {
		return res
	}

	perDay := s.dayLimit(o)
	admit := s.limiter.admit(tok.grant.clientID, o.id, perDay, now, s.clock)
	if admit.res != nil {
		return admit.res
	}
	defer admit.release()

	kind := s.faults.pick(r, true)
	out.fault = kind
	switch kind {
	case Fault429:
		// A burst exhausts the tenant's minute window, so the 429s that
		// follow are the limiter's own, with honest headers.
		return s.limiter.exhaustMinute(tok.grant.clientID, o.id, perDay, now, s.clock)
	case FaultOffline:
		// Answered before the idempotency store, so it is not cached.
		return withHeaders(faultResponse(kind), admit.headers)
	}

	ar := &apiRequest{
		r: r, method: r.Method, body: body, query: r.URL.Query(), rt: rt,
		org: o, clientID: tok.grant.clientID, provider: clientName, now: now,
	}
	exec := func() *response {
		// Latency sits inside the idempotent execution: a slow Xero is slow
		// while it works, which is when a concurrent duplicate must wait. If
		// the client gives up meanwhile, the work still completes, as it
		// would in Xero: that is the "timed out, outcome unknown" case a
		// client must reconcile.
		if kind == FaultLatency {
			s.sleep(r)
		}
		// Only a 5xx is left to answer here; it is cached under an
		// idempotency key, as Xero does.
		if res := faultResponse(kind); res != nil {
			return res
		}
		return s.handleAccounting(ar)
	}

	key := r.Header.Get("Idempotency-Key")
	if key != "" && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		if n := len([]rune(key)); n > 128 {
			return withHeaders(apiException(10, "ValidationException",
				fmt.Sprintf("Idempotency Key: %s is %d characters long. The maximum length is 128 characters.", key, n), nil), admit.headers)
		}
		fp := fingerprint(r, o.id, body)
		res, replayed, err := s.idem.do(r.Context(), tok.grant.clientID, key, fp, now, exec)
		if err != nil {
			// The client went away while a duplicate was in flight.
			out.lost = true
			return nil
		}
		out.replayed = replayed
		return withHeaders(res, admit.headers)
	}
	return withHeaders(exec(), admit.headers)
}

// fingerprint identifies "the same request" for an idempotency key: method,
// path, query and body (XERO.md §3), plus the tenant. Xero scopes keys per
// app; whether it also compares the tenant header is not documented.
// Treating another tenant as a different request makes a client bug that
// reuses a key across tenants fail loudly instead of replaying another
// organisation's response.
func fingerprint(r *http.Request, tenantID string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", r.Method, strings.ToLower(r.URL.Path), r.URL.RawQuery, tenantID)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// withHeaders returns a copy of res with extra headers, leaving res (which
// may be cached under an idempotency key) untouched.
func withHeaders(res *response, extra http.Header) *response {
	cp := &response{Status: res.Status, Header: res.Header.Clone(), Body: res.Body}
	if cp.Header == nil {
		cp.Header = http.Header{}
	}
	for k, vs := range extra {
		cp.Header[k] = append([]string(nil), vs...)
	}
	cp.Header.Set("Xero-Correlation-Id", newGUID())
	return cp
}

// offlineResponse is the organisation-offline 503, plain text (XERO.md §8).
func offlineResponse() *response {
	return textResponse(http.StatusServiceUnavailable, "The Organisation is Offline")
}

// handleAccounting routes an authenticated, admitted call to its resource.
func (s *Sim) handleAccounting(a *apiRequest) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.shapes = s.shapes
	m := a.method
	switch a.rt.resource {
	case "Contacts":
		switch {
		case m == http.MethodGet && a.rt.id == "":
			return s.getContacts(a)
		case m == http.MethodGet:
			return s.getContact(a)
		case m == http.MethodPut && a.rt.id == "":
			return s.writeContacts(a, true)
		case m == http.MethodPost:
			return s.writeContacts(a, false)
		}
	case "Invoices":
		switch {
		case m == http.MethodGet && a.rt.id == "":
			return s.getInvoices(a)
		case m == http.MethodGet:
			return s.getInvoice(a)
		case m == http.MethodPut && a.rt.id == "":
			return s.writeInvoices(a, true)
		case m == http.MethodPost:
			return s.writeInvoices(a, false)
		}
	case "Payments":
		switch {
		case m == http.MethodGet && a.rt.id == "":
			return s.getPayments(a)
		case m == http.MethodGet:
			return s.getPayment(a)
		case (m == http.MethodPut || m == http.MethodPost) && a.rt.id == "":
			return s.writePayments(a)
		case m == http.MethodPost:
			return s.deletePayment(a)
		}
	case "Organisation":
		if m == http.MethodGet {
			return s.getOrganisation(a)
		}
	case "Currencies":
		if m == http.MethodGet {
			return s.getCurrencies(a)
		}
	case "Accounts":
		if m == http.MethodGet {
			return s.getAccounts(a)
		}
	case "TaxRates":
		if m == http.MethodGet {
			return s.getTaxRates(a)
		}
	}
	return methodNotAllowed()
}

// errBadBody marks a request body that is not the JSON Xero expects.
var errBadBody = errors.New("request body is not valid JSON")

// decodeElements reads a write body: either the wrapper {"<key>":[…]} or a
// single bare element, both of which Xero accepts.
func decodeElements(body []byte, key string) ([]obj, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: empty body", errBadBody)
	}
	top, err := decodeObj(body)
	if err != nil {
		return nil, err
	}
	raw, ok := top.raw(key)
	if !ok {
		return []obj{top}, nil
	}
	var items []jsonRaw
	if err := unmarshalNumber(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: %s must be an array", errBadBody, key)
	}
	out := make([]obj, 0, len(items))
	for i, it := range items {
		o, err := decodeObj(it)
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%d]: %v", errBadBody, key, i, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// batchResult is the outcome of one element of a write batch.
type batchResult struct {
	item   any  // the saved entity's JSON, or the echoed element with errors
	failed bool // true when the element had validation errors and was not saved
}

// writeBatch decodes a write body and saves its elements with save, one at
// a time and in order, so each element sees the ones saved before it (two
// new contacts with one name in a batch: the second fails).
func writeBatch(a *apiRequest, key string, save func(obj) batchResult) *response {
	elems, err := decodeElements(a.body, key)
	if err != nil {
		return postDataInvalid(err.Error())
	}
	results := make([]batchResult, 0, len(elems))
	for _, el := range elems {
		results = append(results, save(el))
	}
	return batchResponse(a, key, results)
}

// batchResponse turns element results into Xero's response. With
// summarizeErrors=false every element comes back in a 200 with its own
// status. Otherwise one failure makes the whole response a 400
// ValidationException listing the failed elements, although the valid
// elements were saved (XERO.md §0 row 11: the Xero quirk that makes
// summarizeErrors=false mandatory for xerosync).
func batchResponse(a *apiRequest, key string, results []batchResult) *response {
	items := make([]any, 0, len(results))
	var failed []any
	for _, r := range results {
		item := a.shapes.shape(key, r)
		items = append(items, item)
		if r.failed {
			failed = append(failed, item)
		}
	}
	if a.summarize() && len(failed) > 0 {
		return validationException(failed)
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, key, items, nil))
}

// filterWhere returns, in order, the items that pass keep (nil keeps all)
// and the request's where filter; a filter that does not parse or evaluate
// is the QueryParseException 400. fields is called only when there is a
// filter, because building an entity's field map costs more than the other
// checks and most list calls send no where.
func filterWhere[T any](a *apiRequest, items []T, keep func(T) bool, fields func(T) whereFields) ([]T, *response) {
	where, err := compileWhere(a.query.Get("where"))
	if err != nil {
		return nil, queryParseException(err.Error())
	}
	var out []T
	for _, it := range items {
		if keep != nil && !keep(it) {
			continue
		}
		if where != nil {
			ok, err := matchWhere(where, fields(it))
			if err != nil {
				return nil, queryParseException(err.Error())
			}
			if !ok {
				continue
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// pageOf applies Xero's page/pageSize: pages are 1-based, 100 items by
// default, at most 1,000 (XERO.md §2). Without a page parameter, GET returns
// everything and no pagination block.
func pageOf[T any](q url.Values, items []T) ([]T, *pagination) {
	pageText := q.Get("page")
	if pageText == "" {
		return items, nil
	}
	page := atoiOr(pageText, 1)
	if page < 1 {
		page = 1
	}
	size := atoiOr(q.Get("pageSize"), 100)
	if size < 1 {
		size = 100
	}
	if size > 1000 {
		size = 1000
	}
	p := &pagination{Page: page, PageSize: size, ItemCount: len(items), PageCount: (len(items) + size - 1) / size}
	start := (page - 1) * size
	if start >= len(items) {
		return []T{}, p
	}
	end := min(start+size, len(items))
	return items[start:end], p
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
		if n > 1_000_000 {
			return def
		}
	}
	return n
}

// splitList splits a comma-separated query list such as
// InvoiceNumbers=INV-1,INV-2 (explode: false in the spec), dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.Trim(strings.TrimSpace(p), `"`)
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ifModifiedSince parses the If-Modified-Since header (spec: a date-time).
func ifModifiedSince(r *http.Request) (time.Time, bool) {
	v := r.Header.Get("If-Modified-Since")
	if v == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", http.TimeFormat} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
