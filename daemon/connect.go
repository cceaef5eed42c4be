package daemon

import (
	"bufio"
	"cmp"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/simclock"
	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/oauthcallback"
)

// defaultConnectTimeout is how long connect waits for the browser: long enough to sign in
// with two-factor authentication and pick an organisation, short enough that a forgotten
// terminal does not keep a port open for the day.
const defaultConnectTimeout = 10 * time.Minute

// xeroSession is what the commands that talk to Xero share: the configuration, a small
// pool, the API client and the token store.
type xeroSession struct {
	cfg    *config.Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	client *xero.Client
	store  *tenant.TokenStore
	links  *tenant.Links
}

// xeroApp returns the token key once the Xero app is configured too (client id and secret):
// their problems are reported together, as configuration errors.
func xeroApp(cfg *config.Config) ([]byte, error) {
	var problems config.Errors
	var cfgErrs *config.Errors
	if err := cfg.RequireXero(); errors.As(err, &cfgErrs) {
		problems = append(problems, *cfgErrs...)
	}
	key, err := cfg.TokenKey()
	if errors.As(err, &cfgErrs) {
		problems = append(problems, *cfgErrs...)
	}
	if len(problems) > 0 {
		return nil, &problems
	}
	return key, nil
}

// xeroConfig is the Xero client's configuration from ours, on clock.
func xeroConfig(cfg *config.Config, log *slog.Logger, clock simclock.Clock) xero.Config {
	return xero.Config{
		Now:          clock.Now,
		APIURL:       cfg.Xero.APIURL,
		IdentityURL:  cfg.Xero.IdentityURL,
		LoginURL:     cfg.Xero.LoginURL,
		ClientID:     cfg.Xero.ClientID,
		ClientSecret: cfg.Xero.ClientSecret.Reveal(),
		RedirectURL:  cfg.Xero.RedirectURL,
		Scopes:       cfg.Xero.Scopes,
		Logger:       log,
	}
}

// openXero loads the configuration, requires the Xero credentials and the token key (both
// configuration problems, exit 2, reported together) and connects to the database.
func openXero(ctx context.Context, inv *invocation) (*xeroSession, error) {
	cfg, log, err := inv.setup()
	if err != nil {
		return nil, err
	}
	return openXeroWith(ctx, cfg, log, inv.clock)
}

// openXeroWith is openXero with the configuration loaded already.
func openXeroWith(ctx context.Context, cfg *config.Config, log *slog.Logger, clock simclock.Clock) (*xeroSession, error) {
	key, err := xeroApp(cfg)
	if err != nil {
		return nil, err
	}
	client, err := xero.New(xeroConfig(cfg, log, clock))
	if err != nil {
		return nil, fmt.Errorf("xero client: %w", err)
	}
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: pool, Key: key, KeyName: tokenKeyName(cfg), Refresher: client, Logger: log, Now: clock.Now})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("token store: %w", err)
	}
	links, err := tenant.NewLinks(tenant.LinksConfig{DB: pool, Store: store, Xero: client, Logger: log})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("tenant links: %w", err)
	}
	return &xeroSession{cfg: cfg, log: log, pool: pool, client: client, store: store, links: links}, nil
}

func (s *xeroSession) close() { s.pool.Close() }

// openPool opens a small pool for one operator command (the token store begins its own
// transactions, so one plain connection is not enough) and checks that it connects, so a
// wrong URL fails with the same message as every other command.
func openPool(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	pcfg, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, connectError(cfg, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, connectError(cfg, err)
	}
	return pool, nil
}

// connectedOrg returns the tenant's stored connection, refusing with what to do when the
// tenant cannot call Xero (never connected, disconnected, or auth_failed).
func (s *xeroSession) connectedOrg(ctx context.Context, cmd, tenantID string) (tenant.StoredConnection, *xero.Org, error) {
	sc, err := s.store.Get(ctx, tenantID)
	switch {
	case errors.Is(err, tenant.ErrNoConnection):
		return sc, nil, fmt.Errorf("%s: tenant %s is not connected to Xero; link it first with: xerosync connect --tenant %s", cmd, tenantID, tenantID)
	case err != nil:
		return sc, nil, fmt.Errorf("%s: %w", cmd, err)
	case sc.State == tenant.StateDisconnected || sc.XeroTenantID == "":
		return sc, nil, fmt.Errorf("%s: tenant %s is disconnected from Xero; link it again with: xerosync connect --tenant %s", cmd, tenantID, tenantID)
	case sc.State == tenant.StateAuthFailed:
		return sc, nil, fmt.Errorf("%s: tenant %s cannot reach Xero (%s); reconnect it with: xerosync connect --tenant %s",
			cmd, tenantID, cmp.Or(sc.LastError, "its authorisation failed"), tenantID)
	}
	if err := s.checkTenantKey(ctx, cmd, tenantID); err != nil {
		return sc, nil, err
	}
	return sc, s.client.Org(sc.XeroTenantID, s.store.Source(tenantID)), nil
}

func connectFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	tenant := tenantFlag(fs)
	org := fs.String("org", "", "the Xero organisation to link, by `NAME` (case-insensitive) or Xero tenant id; needed when the authorisation grants several")
	timeout := fs.Duration("timeout", defaultConnectTimeout, "how long to wait for the browser to come back from Xero")
	return func(ctx context.Context) error {
		if err := checkTenant("connect", tenant, true); err != nil {
			return err
		}
		if *timeout <= 0 {
			return usagef("connect", "connect: --timeout must be positive")
		}
		return runConnect(ctx, inv, connectParams{tenant: *tenant, org: strings.TrimSpace(*org), timeout: *timeout})
	}
}

// connectParams are one connect's flags.
type connectParams struct {
	tenant  string
	org     string
	timeout time.Duration
}

func runConnect(ctx context.Context, inv *invocation, p connectParams) error {
	cfg, log, err := inv.setup()
	if err != nil {
		return err
	}
	redirect, err := loopbackRedirect(cfg) // before any connection: a bad URL is said first
	if err != nil {
		return err
	}
	s, err := openXeroWith(ctx, cfg, log, inv.clock)
	if err != nil {
		return err
	}
	defer s.close()
	out := inv.p.Stdout

	cur, err := s.links.ReadLinkState(ctx, p.tenant)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}

	// PKCE and state: the verifier never leaves this process until the exchange, and the
	// state ties the redirect to this run (an old or forged redirect is ignored).
	state, verifier := xero.NewState(), xero.NewVerifier()
	// The code is exchanged while the browser waits, so that its page tells the real outcome
	// (a replayed or expired code fails here) rather than a success the command then denies.
	exchange := func(ctx context.Context, code string) (*oauth2.Token, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute) // one POST; the browser waits for it
		defer cancel()
		tok, err := s.client.Exchange(ctx, code, verifier)
		if err != nil {
			return nil, fmt.Errorf("connect: exchange the authorisation code: %w; nothing was linked, run connect again", err)
		}
		return tok, nil
	}
	tok, err := waitForRedirect(ctx, inv, redirect, p.timeout, state, s.client.AuthCodeURL(state, verifier), exchange)
	if err != nil {
		return err
	}
	static := xero.StaticToken(tok)

	// The organisations this consent added share its authEventId (a claim of Xero's access
	// token); without it, every organisation the user has connected to the app is listed.
	event := authEventID(tok.AccessToken)
	conns, err := s.client.Connections(ctx, static, xero.ConnectionsParams{AuthEventID: event})
	if err == nil && event != "" && len(conns) == 0 {
		conns, err = s.client.Connections(ctx, static, xero.ConnectionsParams{})
	}
	if err != nil {
		return fmt.Errorf("connect: list the authorised organisations: %w", err)
	}
	conns = slices.DeleteFunc(conns, func(c xero.Connection) bool {
		return c.TenantType != "" && !strings.EqualFold(c.TenantType, "ORGANISATION")
	})

	res, err := s.links.Link(ctx, tenant.LinkParams{
		TenantID: p.tenant, Current: cur, Token: tok, Granted: conns,
		Choose: func(granted []xero.Connection) (xero.Connection, error) { return chooseOrg(inv, granted, p.org) },
	})
	if err != nil {
		printRemovals(out, res.Removed)
		return fmt.Errorf("connect: %w", err)
	}
	fmt.Fprintf(out, "linked Softbooq tenant %s (%s) to the Xero organisation %q (Xero tenant id %s)\n",
		p.tenant, cur.Name, res.Chosen.TenantName, res.Chosen.TenantID)
	printRemovals(out, res.Removed)

	switch res.Plan.Kind {
	case tenant.Reconnected:
		fmt.Fprintf(out, "reconnected: the %d rows queued while the connection was down are sent again; a running daemon resumes within 2 seconds\n", cur.Unfinished)
	case tenant.Replaced:
		fmt.Fprintln(out, "replaced the tenant's tokens; a running daemon uses them within 2 seconds")
	default:
		fmt.Fprintln(out, "a running xerosync daemon starts pushing this tenant's changes within 2 seconds")
		fmt.Fprintf(out, "next:\n"+
			"  xerosync check --tenant %s      pre-flight: account codes, tax types, currencies, lock dates\n"+
			"  xerosync backfill --tenant %s   queue the invoices issued before now (default: since the start of the Xero financial year)\n",
			p.tenant, p.tenant)
	}
	return nil
}

// printRemovals says what became of the connections the authorisation made that no tenant
// uses (tenant.Unused).
func printRemovals(out io.Writer, removed []tenant.Removal) {
	for _, r := range removed {
		if r.Err == nil {
			fmt.Fprintf(out, "removed the connection to %q that this authorisation made: no tenant uses it\n", r.Connection.TenantName)
			continue
		}
		fmt.Fprintf(out, "could not remove the connection to %q (%v); remove xerosync under Settings → Connected apps in that organisation\n", r.Connection.TenantName, r.Err)
	}
}

// chooseOrg picks exactly one organisation: by --org (name case-insensitively, or Xero
// tenant id), else the only one, else by asking on a terminal.
func chooseOrg(inv *invocation, conns []xero.Connection, want string) (xero.Connection, error) {
	if len(conns) == 0 {
		return xero.Connection{}, errors.New("the authorisation granted no Xero organisation (was one ticked on Xero's consent page?)")
	}
	if want != "" {
		var match []xero.Connection
		for _, c := range conns {
			if strings.EqualFold(c.TenantID, want) || strings.EqualFold(strings.TrimSpace(c.TenantName), want) {
				match = append(match, c)
			}
		}
		switch len(match) {
		case 1:
			return match[0], nil
		case 0:
			return xero.Connection{}, fmt.Errorf("--org %q matches none of the organisations the authorisation granted:\n%s", want, listOrgs(conns))
		default:
			return xero.Connection{}, fmt.Errorf("--org %q matches several organisations; give the Xero tenant id instead:\n%s", want, listOrgs(match))
		}
	}
	if len(conns) == 1 {
		return conns[0], nil
	}
	if f, ok := inv.p.Stdin.(*os.File); ok && isTerminal(f) && isTerminal(inv.p.Stdout) {
		return promptOrg(inv, conns)
	}
	return xero.Connection{}, fmt.Errorf("the authorisation granted %d organisations; choose one with --org NAME_OR_XERO_TENANT_ID:\n%s", len(conns), listOrgs(conns))
}

func listOrgs(conns []xero.Connection) string {
	var b strings.Builder
	for _, c := range conns {
		fmt.Fprintf(&b, "  %q  (Xero tenant id %s)\n", c.TenantName, c.TenantID)
	}
	return strings.TrimRight(b.String(), "\n")
}

func promptOrg(inv *invocation, conns []xero.Connection) (xero.Connection, error) {
	out := inv.p.Stdout
	fmt.Fprintln(out, "the authorisation granted several organisations; which one is this tenant's?")
	for i, c := range conns {
		fmt.Fprintf(out, "  %d) %s  (Xero tenant id %s)\n", i+1, c.TenantName, c.TenantID)
	}
	in := bufio.NewReader(inv.p.Stdin)
	for range 3 {
		fmt.Fprintf(out, "number [1-%d]: ", len(conns))
		line, err := in.ReadString('\n')
		if n, perr := strconv.Atoi(strings.TrimSpace(line)); perr == nil && n >= 1 && n <= len(conns) {
			return conns[n-1], nil
		}
		if err != nil {
			break
		}
	}
	return xero.Connection{}, fmt.Errorf("no organisation chosen; run connect again with --org NAME_OR_XERO_TENANT_ID:\n%s", listOrgs(conns))
}

// authEventID reads the authentication_event_id claim of a Xero access token (a JWT). The
// signature is not checked: the value only narrows a /connections listing made with this
// very token, so a wrong one can only make the list empty (then the full list is used).
func authEventID(accessToken string) string {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		AuthEventID string `json:"authentication_event_id"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.AuthEventID
}

// loopbackRedirect checks that xero.redirect_url can be served here: connect receives the
// browser's redirect itself, on a plain-HTTP listener.
func loopbackRedirect(cfg *config.Config) (*url.URL, error) {
	u, err := oauthcallback.ParseRedirect(cfg.Xero.RedirectURL)
	if err != nil {
		return nil, &config.Errors{{Key: "xero.redirect_url", Msg: fmt.Sprintf(
			"connect receives the redirect itself on a temporary listener, so it must be a plain http:// URL "+
				"on this machine, such as http://localhost:7434/callback (registered with the Xero app); got %q", cfg.Xero.RedirectURL)}}
	}
	return u, nil
}

// waitForRedirect prints the authorisation URL once the loopback listener is open, and
// waits for the browser (oauthcallback.Wait), saying each outcome in connect's words.
func waitForRedirect(ctx context.Context, inv *invocation, redirect *url.URL, timeout time.Duration, state, authURL string,
	exchange func(ctx context.Context, code string) (*oauth2.Token, error)) (*oauth2.Token, error) {
	out := inv.p.Stdout
	tok, err := oauthcallback.Wait(ctx, oauthcallback.Config{
		Redirect: redirect, State: state, Timeout: timeout, Exchange: exchange,
		Ready: func() {
			fmt.Fprintln(out, "open this URL in a browser, sign in to Xero and allow access to the organisation to link:")
			fmt.Fprintln(out)
			fmt.Fprintln(out, authURL)
			fmt.Fprintln(out)
			fmt.Fprintf(out, "waiting up to %s for Xero to redirect to %s\n", timeout, redirect.String())
		},
		Foreign: func() {
			fmt.Fprintln(inv.p.Stderr, "xerosync: ignored a redirect whose state does not match this connect (an old authorisation URL?)")
		},
		Denied: func(d *oauthcallback.DeniedError) error {
			return fmt.Errorf("connect: %w; nothing was linked", d)
		},
	})
	var listen *oauthcallback.ListenError
	switch {
	case errors.As(err, &listen):
		return nil, fmt.Errorf("connect: listen on %s for Xero's redirect (xero.redirect_url): %w; is another connect running, or the port in use?", listen.Addr, listen.Err)
	case errors.Is(err, oauthcallback.ErrTimeout):
		return nil, fmt.Errorf("connect: no authorisation arrived within %s (--timeout); nothing was linked; run connect again", timeout)
	case errors.Is(err, oauthcallback.ErrInterrupted):
		return nil, fmt.Errorf("connect: interrupted before the authorisation arrived; nothing was linked: %w", ctx.Err())
	}
	return tok, err
}
