package xero

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for Config.
const (
	DefaultAPIURL      = "https://api.xero.com"
	DefaultIdentityURL = "https://identity.xero.com"
	DefaultLoginURL    = "https://login.xero.com"

	// MaxBatch is the most elements we send in one request: Xero recommends batches of up
	// to 50 (XERO.md §2), and SPEC §2 promises it.
	MaxBatch = 50
	// MaxConcurrent is Xero's per-tenant limit of calls in flight.
	MaxConcurrent = 5
	// maxIdempotencyKey is Xero's limit on the key's length.
	maxIdempotencyKey = 128
	// MaxRequestBody is Xero's 3.5 MB limit on one POST or PUT (XERO.md §2): a caller cuts
	// its batches by size as well as by count, and a single record over it fails alone.
	MaxRequestBody = 3_500_000
	// maxResponseBody bounds what we read from a success response.
	maxResponseBody = 64 << 20
	// apiPath is the Accounting API's prefix under APIURL.
	apiPath = "/api.xro/2.0"
)

// DefaultScopes are SPEC §4's default: the broad scopes, for apps created before
// 2 March 2026.
var DefaultScopes = []string{"offline_access", "accounting.contacts", "accounting.transactions", "accounting.settings.read"}

// Config configures a Client. Only the fields the calls in use need must be set: API calls
// need nothing but a TokenSource; the OAuth flow needs ClientID, ClientSecret, RedirectURL.
type Config struct {
	APIURL      string // default https://api.xero.com; the Accounting API is APIURL+"/api.xro/2.0"
	IdentityURL string // default https://identity.xero.com (token, revocation)
	LoginURL    string // default https://login.xero.com (authorize)

	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string // default DefaultScopes

	HTTPClient *http.Client     // default: a client with no overall timeout (per-call timeouts apply)
	Now        func() time.Time // default time.Now; the rate budgets read it
	Logger     *slog.Logger     // default: discard

	// ReadTimeout bounds a GET (default 30 s). WriteTimeout bounds a PUT/POST/DELETE (default
	// 2 min): a slow batch may still commit, and cutting it short only turns a success into
	// an unknown outcome that must be reconciled (XERO.md §10, Xero-Net#362).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxConcurrent per tenant (default and maximum 5).
	MaxConcurrent int
	// MaxBudgetWait is the longest a call waits for an exhausted budget before returning a
	// predicted *RateLimitError instead (default 2 min: a minute window always fits, a day
	// window does not).
	MaxBudgetWait time.Duration
	// OnCall, if set, is told of every HTTP exchange with Xero as it completes (metrics). It
	// must be quick and safe for concurrent use.
	OnCall    func(CallInfo)
	UserAgent string // default "xerosync"
}

// Client talks to Xero for every tenant: it owns the HTTP client, the OAuth configuration and
// the rate budgets, which must be shared by all calls of one process. Calls for one
// organisation go through Org. A Client is safe for concurrent use.
type Client struct {
	cfg         Config
	apiBase     string // APIURL + /api.xro/2.0
	connections string // APIURL + /connections
	hc          *http.Client
	log         *slog.Logger
	limits      *limiter
}

// New checks cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	cfg.APIURL = strings.TrimRight(cmp.Or(cfg.APIURL, DefaultAPIURL), "/")
	cfg.IdentityURL = strings.TrimRight(cmp.Or(cfg.IdentityURL, DefaultIdentityURL), "/")
	cfg.LoginURL = strings.TrimRight(cmp.Or(cfg.LoginURL, DefaultLoginURL), "/")
	for name, u := range map[string]string{"APIURL": cfg.APIURL, "IdentityURL": cfg.IdentityURL, "LoginURL": cfg.LoginURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, fmt.Errorf("xero config: %s %q is not an absolute http(s) URL", name, u)
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 30*time.Second)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, 2*time.Minute)
	if cfg.MaxConcurrent <= 0 || cfg.MaxConcurrent > MaxConcurrent {
		cfg.MaxConcurrent = MaxConcurrent
	}
	cfg.MaxBudgetWait = cmp.Or(cfg.MaxBudgetWait, 2*time.Minute)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, "xerosync")
	return &Client{
		cfg:         cfg,
		apiBase:     cfg.APIURL + apiPath,
		connections: cfg.APIURL + "/connections",
		hc:          cfg.HTTPClient,
		log:         cfg.Logger,
		limits:      newLimiter(cfg.Now, cfg.MaxConcurrent, cfg.MaxBudgetWait),
	}, nil
}

// Budgets returns what is known of a Xero tenant's rate budgets.
func (c *Client) Budgets(xeroTenantID string) BudgetSnapshot { return c.limits.snapshot(xeroTenantID) }

// Org is a handle on one Xero organisation: its tenant id (sent as xero-tenant-id) and the
// token source of the authorisation that reaches it. It is cheap; make one per use or keep it.
type Org struct {
	c        *Client
	tenantID string
	tokens   TokenSource
}

// Org returns a handle for calls to the organisation xeroTenantID with tokens.
func (c *Client) Org(xeroTenantID string, tokens TokenSource) *Org {
	return &Org{c: c, tenantID: xeroTenantID, tokens: tokens}
}

// TenantID is the Xero tenant id the handle sends.
func (o *Org) TenantID() string { return o.tenantID }

// call is one request.
type call struct {
	method string
	url    string // absolute, without query
	op     string // for errors and logs: "PUT /Invoices"
	query  url.Values
	body   any
	key    string // Idempotency-Key
	tenant string // xero-tenant-id; "" for identity calls
	// modifiedSince, when set, is sent as If-Modified-Since: "only records created or
	// modified since this timestamp will be returned" (spec parameter ifModifiedSince).
	modifiedSince time.Time
}

// CallInfo describes one HTTP exchange with Xero, for OnCall.
type CallInfo struct {
	Op           string // "PUT /Invoices"
	XeroTenantID string // "" for identity and connection calls
	Status       int    // 0 when no response arrived
	Duration     time.Duration
}

// do sends cl and decodes a 2xx body into out (if not nil). Every write must carry an
// Idempotency-Key. A 401 TokenExpired is answered by one refresh and one resend with the same
// key (nothing ran, so the key is still unused). Nothing else is retried here: retries of
// writes live in the outbox row.
func (c *Client) do(ctx context.Context, tokens TokenSource, cl call, out any) (http.Header, error) {
	write := cl.method != http.MethodGet
	if write {
		if strings.TrimSpace(cl.key) == "" {
			return nil, fmt.Errorf("%s: %w", cl.op, ErrMissingIdempotencyKey)
		}
		if len(cl.key) > maxIdempotencyKey {
			return nil, fmt.Errorf("%s: idempotency key of %d characters exceeds %d: %w", cl.op, len(cl.key), maxIdempotencyKey, ErrInvalidRequest)
		}
	}
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("%s: encode body: %w: %w", cl.op, ErrInvalidRequest, err)
		}
		if len(body) > MaxRequestBody {
			return nil, fmt.Errorf("%s: body of %d bytes exceeds Xero's 3.5 MB: %w", cl.op, len(body), ErrInvalidRequest)
		}
	}
	u := cl.url
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	if tokens == nil {
		return nil, &AuthError{Kind: NotConnected, Detail: "no token source"}
	}
	tok, err := tokens.AccessToken(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cl.op, err)
	}
	for attempt := 0; ; attempt++ {
		h, status, data, err := c.send(ctx, cl, u, tok, body, write)
		if err != nil {
			return nil, err
		}
		if status >= 200 && status < 300 {
			if out != nil && len(bytes.TrimSpace(data)) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					// We cannot read what Xero did; for a write that is an unknown outcome.
					return h, &TransportError{Op: cl.op, Err: fmt.Errorf("decode response: %w", err), OutcomeUnknown: write}
				}
			}
			return h, nil
		}
		perr := parseError(cl.op, status, h, data, write)
		var auth *AuthError
		if errors.As(perr, &auth) && auth.Kind == TokenExpired && attempt == 0 {
			fresh, rerr := tokens.RefreshRejected(ctx, tok)
			if rerr != nil {
				return h, fmt.Errorf("%s: refresh after 401: %w", cl.op, rerr)
			}
			tok = fresh
			continue
		}
		var rl *RateLimitError
		if errors.As(perr, &rl) {
			c.limits.hit(cl.tenant, rl)
		}
		return h, perr
	}
}

// send performs one HTTP exchange under the rate budgets.
func (c *Client) send(ctx context.Context, cl call, u string, tok Secret, body []byte, write bool) (http.Header, int, []byte, error) {
	res, err := c.limits.reserve(ctx, cl.tenant)
	if err != nil {
		var rl *RateLimitError
		if errors.As(err, &rl) {
			return nil, 0, nil, err
		}
		return nil, 0, nil, &TransportError{Op: cl.op, Err: fmt.Errorf("wait for rate budget: %w", err)}
	}
	timeout := c.cfg.ReadTimeout
	if write {
		timeout = c.cfg.WriteTimeout
	}
	budgetCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// net/http itself resends a request that carries an Idempotency-Key, or a GET, when a
	// reused keep-alive connection dies before any response byte arrives. The resend has the
	// same key and body, so Xero replays the first answer instead of acting twice: it is safe,
	// and it turns some unknown outcomes into known ones. But Xero counts it as a call, so
	// each attempt after the first is admitted by the budgets before it goes (resend); it
	// waits as long as the caller would wait for any call (budgetCtx), not only while this
	// attempt's timeout runs, since it cannot be stopped once the hook returns (see resend).
	var attempts atomic.Int32
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GetConn: func(string) {
		if attempts.Add(1) > 1 && res.resend(budgetCtx) != nil {
			cancel() // most likely not sent after all; counted as spent either way
		}
	}})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		res.release(nil)
		return nil, 0, nil, fmt.Errorf("%s: build request: %w: %w", cl.op, ErrInvalidRequest, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.tenant != "" {
		req.Header.Set("Xero-Tenant-Id", cl.tenant)
	}
	if write {
		req.Header.Set("Idempotency-Key", cl.key)
	}
	if !cl.modifiedSince.IsZero() {
		// The spec's own example form (date-time with milliseconds, "2020-02-06T12:17:43.202-08:00").
		req.Header.Set("If-Modified-Since", cl.modifiedSince.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if c.cfg.OnCall != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.cfg.OnCall(CallInfo{Op: cl.op, XeroTenantID: cl.tenant, Status: status, Duration: time.Since(start)})
	}
	if err != nil {
		res.release(nil)
		return nil, 0, nil, &TransportError{Op: cl.op, Err: scrubURLError(err), OutcomeUnknown: write && !neverSent(err)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	res.release(resp.Header)
	c.log.LogAttrs(ctx, slog.LevelDebug, "xero call",
		slog.String("op", cl.op),
		slog.String("xero_tenant_id", cl.tenant),
		slog.Int("status", resp.StatusCode),
		slog.Duration("duration", time.Since(start)),
		slog.String("correlation_id", resp.Header.Get("Xero-Correlation-Id")),
		slog.String("idempotency_key", cl.key),
	)
	if err != nil {
		// The status line arrived but the body did not: for a 2xx write we do not know
		// which elements Xero accepted.
		return nil, 0, nil, &TransportError{Op: cl.op, Err: fmt.Errorf("read response: %w", err), OutcomeUnknown: write}
	}
	return resp.Header, resp.StatusCode, data, nil
}

// neverSent reports a failure to connect at all, after which Xero cannot have seen the request.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// scrubURLError drops the query string from a *url.Error: where-filters may hold customer
// emails, which need not be in our logs.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if p, perr := url.Parse(ue.URL); perr == nil {
			p.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: p.String(), Err: ue.Err}
		}
	}
	return err
}
