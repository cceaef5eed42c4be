package xerosim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file is the login and identity hosts: the authorisation endpoint
// with auto-consent, the token endpoint (authorization_code with PKCE, and
// refresh_token with rotation), revocation, and /connections on the API host.
//
// Token model (XERO.md §1): a consent creates a grant (one user
// authorisation). A grant owns access tokens (30 minutes) and refresh tokens.
// Every refresh returns a new refresh token; the one used stays usable for
// RefreshGrace (30 minutes) after its first use, and each use inside the
// grace returns a fresh set, so a client whose refresh response was lost can
// retry. After that it gives invalid_grant. An unused refresh token expires
// after RefreshTokenTTL (60 days). Revocation kills the grant and removes
// the user's connections to the app.

type grant struct {
	id          string
	clientID    string
	userID      string
	scopes      []string
	authEventID string
	revoked     bool
}

type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	grant       *grant
	expires     time.Time
	used        bool
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

type refreshToken struct {
	grant   *grant
	expires time.Time // unused expiry
	usedAt  time.Time // zero until first use
}

// connection is one (app, user, organisation) link, as /connections lists it.
type connection struct {
	id          string
	clientID    string
	userID      string
	tenantID    string
	authEventID string
	created     time.Time
	updated     time.Time
}

type authState struct {
	codes       map[string]*authCode
	access      map[string]*accessToken
	refresh     map[string]*refreshToken
	connections []*connection
	signingKey  []byte
}

func newAuthState() authState {
	return authState{
		codes:      map[string]*authCode{},
		access:     map[string]*accessToken{},
		refresh:    map[string]*refreshToken{},
		signingKey: []byte(randomToken(32)),
	}
}

// knownScopes are the scopes the authorisation endpoint accepts: the broad
// ones in the bundled spec plus the 2026 granular ones (XERO.md §1 Scopes).
var knownScopes = map[string]bool{
	"openid": true, "profile": true, "email": true, "offline_access": true,
	"accounting.transactions": true, "accounting.transactions.read": true,
	"accounting.contacts": true, "accounting.contacts.read": true,
	"accounting.settings": true, "accounting.settings.read": true,
	"accounting.attachments": true, "accounting.attachments.read": true,
	"accounting.reports.read": true, "accounting.reports.tenninetynine.read": true,
	"accounting.journals.read": true, "accounting.budgets.read": true,
	"accounting.invoices": true, "accounting.invoices.read": true,
	"accounting.payments": true, "accounting.payments.read": true,
	"accounting.banktransactions": true, "accounting.banktransactions.read": true,
	"accounting.manualjournals": true, "accounting.manualjournals.read": true,
	"paymentservices": true,
}

// SetConsent sets which organisations the next consents grant; no ids
// means all organisations.
func (s *Sim) SetConsent(tenantIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consentOrgs = slices.Clone(tenantIDs)
}

func (s *Sim) handleAuthorize(r *http.Request) *response {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	if err := r.ParseForm(); err != nil {
		return textResponse(http.StatusBadRequest, "invalid_request: "+err.Error())
	}
	q := r.Form
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()

	// Errors about the client or the redirect URI must not redirect
	// (RFC 6749 §4.1.2.1): the redirect target is not trusted yet.
	client := s.clients[q.Get("client_id")]
	if client == nil {
		return textResponse(http.StatusBadRequest, "unauthorized_client: unknown client_id")
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirect) {
		return textResponse(http.StatusBadRequest, "invalid_request: redirect_uri is not registered for this client")
	}
	state := q.Get("state")
	fail := func(code, desc string) *response {
		v := url.Values{"error": {code}, "error_description": {desc}}
		if state != "" {
			v.Set("state", state)
		}
		return redirectResponse(redirect, v)
	}
	if q.Get("response_type") != "code" {
		return fail("unsupported_response_type", "response_type must be code")
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		return fail("invalid_scope", "scope is required")
	}
	for _, sc := range scopes {
		if !knownScopes[sc] {
			return fail("invalid_scope", "unknown scope "+sc)
		}
	}
	challenge := q.Get("code_challenge")
	method := q.Get("code_challenge_method")
	// PKCE (S256) is required, because xerosync must always send it
	// (SPEC.md §4 connect).
	switch {
	case challenge == "":
		return fail("invalid_request", "code_challenge is required")
	case method != "S256":
		return fail("invalid_request", "code_challenge_method must be S256")
	case len(challenge) < 43 || len(challenge) > 128:
		return fail("invalid_request", "code_challenge has the wrong length")
	}

	// Auto-consent: the user picks the configured organisations.
	tenants := s.consentOrgs
	if len(tenants) == 0 {
		tenants = s.orgOrder
	}
	if len(tenants) == 0 {
		return fail("access_denied", "the user has no organisation to connect")
	}
	g := &grant{
		id: newGUID(), clientID: client.ID, userID: defaultUserID,
		scopes: scopes, authEventID: newGUID(),
	}
	for _, t := range tenants {
		o := s.org(t)
		if o == nil {
			return fail("access_denied", "unknown organisation "+t)
		}
		s.connect(g, o.id, now)
	}
	code := randomToken(24)
	s.auth.codes[code] = &authCode{
		clientID: client.ID, redirectURI: redirect, challenge: challenge,
		grant: g, expires: now.Add(s.cfg.AuthCodeTTL),
	}
	v := url.Values{"code": {code}, "scope": {strings.Join(scopes, " ")}, "session_state": {randomToken(8)}}
	if state != "" {
		v.Set("state", state)
	}
	return redirectResponse(redirect, v)
}

// connect adds or refreshes the connection of the grant's user and app to
// a tenant. Reconnecting keeps the connection id and createdDateUtc, and
// moves updatedDateUtc and authEventId (spec Connection.updatedDateUtc).
func (s *Sim) connect(g *grant, tenantID string, now time.Time) {
	for _, c := range s.auth.connections {
		if c.clientID == g.clientID && c.userID == g.userID && c.tenantID == tenantID {
			c.updated, c.authEventID = now, g.authEventID
			return
		}
	}
	s.auth.connections = append(s.auth.connections, &connection{
		id: newGUID(), clientID: g.clientID, userID: g.userID, tenantID: tenantID,
		authEventID: g.authEventID, created: now, updated: now,
	})
}

func redirectResponse(target string, v url.Values) *response {
	u, err := url.Parse(target)
	if err != nil {
		return textResponse(http.StatusBadRequest, "invalid_request: bad redirect_uri")
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	h := http.Header{}
	h.Set("Location", u.String())
	return &response{Status: http.StatusFound, Header: h}
}

// oauthError is the token endpoint's error body, HTTP 400 (XERO.md §8).
func oauthError(code, desc string) *response {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	return jsonResponse(http.StatusBadRequest, body)
}

// clientAuth authenticates the app at the token and revocation endpoints:
// HTTP Basic or client_id/client_secret in the form (XERO.md §1). A client
// registered without a secret (PKCE app) needs only its client_id.
func (s *Sim) clientAuth(r *http.Request, form url.Values) (*Client, *response) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: Basic credentials are form-urlencoded.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	c := s.clients[id]
	if c == nil {
		return nil, oauthError("invalid_client", "")
	}
	if c.Secret != "" && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return nil, oauthError("invalid_client", "")
	}
	return c, nil
}

func (s *Sim) handleToken(r *http.Request, body []byte) *response {
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError("invalid_request", "body must be application/x-www-form-urlencoded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	client, res := s.clientAuth(r, form)
	if res != nil {
		return res
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		code := s.auth.codes[form.Get("code")]
		switch {
		case code == nil, code.clientID != client.ID, now.After(code.expires):
			return oauthError("invalid_grant", "")
		case code.used:
			// A code is single-use; a replay is refused.
			return oauthError("invalid_grant", "")
		case form.Get("redirect_uri") != code.redirectURI:
			return oauthError("invalid_grant", "redirect_uri does not match")
		}
		// Every code carries a challenge: the authorisation endpoint
		// requires one.
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
			return oauthError("invalid_grant", "code_verifier does not match code_challenge")
		}
		code.used = true
		return s.issueTokenResponse(code.grant, now)
	case "refresh_token":
		rt := s.auth.refresh[form.Get("refresh_token")]
		if rt == nil || rt.grant.clientID != client.ID || rt.grant.revoked {
			return oauthError("invalid_grant", "")
		}
		if rt.usedAt.IsZero() {
			if now.After(rt.expires) {
				return oauthError("invalid_grant", "")
			}
			rt.usedAt = now
		} else if now.Sub(rt.usedAt) > s.cfg.RefreshGrace {
			return oauthError("invalid_grant", "")
		}
		return s.issueTokenResponse(rt.grant, now)
	case "":
		return oauthError("invalid_request", "grant_type is required")
	default:
		return oauthError("unsupported_grant_type", "")
	}
}

// TokenSet is what the token endpoint returns, for tests that want tokens
// without the browser dance (see IssueTokens).
type TokenSet struct {
	AccessToken  string
	RefreshToken string // empty without offline_access
	IDToken      string // set with openid
	ExpiresIn    int
	Scope        string
	AuthEventID  string
}

func (s *Sim) issueTokens(g *grant, now time.Time) TokenSet {
	ts := TokenSet{
		ExpiresIn:   int(s.cfg.AccessTokenTTL / time.Second),
		Scope:       strings.Join(g.scopes, " "),
		AuthEventID: g.authEventID,
	}
	exp := now.Add(s.cfg.AccessTokenTTL)
	ts.AccessToken = s.jwt(map[string]any{
		"nbf": now.Unix(), "exp": exp.Unix(), "iss": "https://identity.xero.com",
		"aud": "https://identity.xero.com/resources", "client_id": g.clientID,
		"sub": g.userID, "auth_time": now.Unix(), "xero_userid": g.userID,
		"global_session_id": g.id, "jti": randomToken(16),
		"authentication_event_id": g.authEventID, "scope": g.scopes,
	})
	s.auth.access[ts.AccessToken] = &accessToken{grant: g, expires: exp}
	if slices.Contains(g.scopes, "offline_access") {
		ts.RefreshToken = randomToken(32)
		s.auth.refresh[ts.RefreshToken] = &refreshToken{grant: g, expires: now.Add(s.cfg.RefreshTokenTTL)}
	}
	if slices.Contains(g.scopes, "openid") {
		ts.IDToken = s.jwt(map[string]any{
			"nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "iss": "https://identity.xero.com",
			"aud": g.clientID, "iat": now.Unix(), "sub": g.userID, "xero_userid": g.userID,
			"global_session_id": g.id, "email": "user@example.com",
		})
	}
	return ts
}

func (s *Sim) issueTokenResponse(g *grant, now time.Time) *response {
	ts := s.issueTokens(g, now)
	body := map[string]any{
		"access_token": ts.AccessToken,
		"expires_in":   ts.ExpiresIn,
		"token_type":   "Bearer",
		"scope":        ts.Scope,
	}
	if ts.RefreshToken != "" {
		body["refresh_token"] = ts.RefreshToken
	}
	if ts.IDToken != "" {
		body["id_token"] = ts.IDToken
	}
	res := jsonResponse(http.StatusOK, body)
	res.Header.Set("Cache-Control", "no-store")
	return res
}

// jwt makes a JWT-shaped token. Xero's access tokens are JWTs and some
// clients read their claims (exp, authentication_event_id); the simulator
// signs with HMAC because nobody verifies the signature but the simulator,
// which looks tokens up by value anyway.
func (s *Sim) jwt(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Errorf("encode jwt claims: %w", err)) // claims are built from plain values
	}
	unsigned := head + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.auth.signingKey)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// IssueTokens runs a consent and code exchange in-process: it connects the
// app to the given organisations (all of them if none) and returns a token
// set, as if the user had gone through the browser flow. For tests of code
// that needs a connected tenant but is not testing OAuth.
func (s *Sim) IssueTokens(clientID string, scopes []string, tenantIDs ...string) (TokenSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.clients[clientID] == nil {
		return TokenSet{}, fmt.Errorf("issue tokens: unknown client %q", clientID)
	}
	if len(tenantIDs) == 0 {
		tenantIDs = s.orgOrder
	}
	g := &grant{id: newGUID(), clientID: clientID, userID: defaultUserID, scopes: slices.Clone(scopes), authEventID: newGUID()}
	for _, t := range tenantIDs {
		o := s.org(t)
		if o == nil {
			return TokenSet{}, fmt.Errorf("issue tokens: %s: %w", t, ErrUnknownOrg)
		}
		s.connect(g, o.id, now)
	}
	return s.issueTokens(g, now), nil
}

func (s *Sim) handleRevocation(r *http.Request, body []byte) *response {
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError("invalid_request", "body must be application/x-www-form-urlencoded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	client, res := s.clientAuth(r, form)
	if res != nil {
		return res
	}
	tok := form.Get("token")
	var g *grant
	if rt := s.auth.refresh[tok]; rt != nil {
		g = rt.grant
	} else if at := s.auth.access[tok]; at != nil {
		g = at.grant
	}
	// RFC 7009: an unknown token is not an error.
	if g != nil && g.clientID == client.ID {
		s.revokeGrant(g)
	}
	return &response{Status: http.StatusOK, Header: http.Header{}}
}

// revokeGrant kills a grant's tokens and, as Xero's revocation does,
// removes all of that user's connections to the app (XERO.md §1).
func (s *Sim) revokeGrant(g *grant) {
	g.revoked = true
	s.auth.connections = slices.DeleteFunc(s.auth.connections, func(c *connection) bool {
		return c.clientID == g.clientID && c.userID == g.userID
	})
}

// RemoveConnection disconnects an organisation from every app, as a user
// would from Xero's "Connected apps" page. Tokens keep working for the
// user's other organisations; calls for this tenant get 403.
func (s *Sim) RemoveConnection(tenantID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.auth.connections)
	s.auth.connections = slices.DeleteFunc(s.auth.connections, func(c *connection) bool {
		return strings.EqualFold(c.tenantID, tenantID)
	})
	return n - len(s.auth.connections)
}

// authenticate checks the bearer token. The 401 bodies follow XERO.md §8.
func (s *Sim) authenticate(r *http.Request, now time.Time) (*accessToken, *response) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(h, "bearer ")
	}
	if !ok || token == "" {
		return nil, unauthorized("AuthenticationUnsuccessful")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.auth.access[strings.TrimSpace(token)]
	if at == nil {
		return nil, unauthorized("AuthenticationUnsuccessful")
	}
	if now.After(at.expires) {
		// Xero's wording and its US-style timestamp (XERO.md §8).
		return nil, unauthorized("TokenExpired: token expired at " + at.expires.UTC().Format("01/02/2006 15:04:05"))
	}
	return at, nil
}

func unauthorized(detail string) *response {
	res := problemResponse(http.StatusUnauthorized, "Unauthorized", detail)
	res.Header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return res
}

// connectedOrg resolves the xero-tenant-id header to an organisation the
// token's user has connected to the app; anything else is Xero's 403
// AuthenticationUnsuccessful (XERO.md §0 row 3).
func (s *Sim) connectedOrg(at *accessToken, tenantID string) (*org, string, *response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.org(strings.TrimSpace(tenantID)); o != nil {
		for _, c := range s.auth.connections {
			if c.clientID == at.grant.clientID && c.userID == at.grant.userID && c.tenantID == o.id {
				name := at.grant.clientID
				if cl := s.clients[at.grant.clientID]; cl != nil {
					name = cl.Name
				}
				return o, name, nil
			}
		}
	}
	return nil, "", problemResponse(http.StatusForbidden, "Forbidden", "AuthenticationUnsuccessful")
}

// checkScope enforces the scopes each operation lists in the spec, with the
// granular 2026 scopes accepted where they replace accounting.transactions
// (XERO.md §1 Scopes). A missing scope is 401 AuthorizationUnsuccessful.
func (s *Sim) checkScope(at *accessToken, rt route, method string) *response {
	read := method == http.MethodGet
	var need []string
	switch rt.resource {
	case "Contacts":
		need = []string{"accounting.contacts"}
		if read {
			need = append(need, "accounting.contacts.read")
		}
	case "Invoices":
		need = []string{"accounting.transactions", "accounting.invoices"}
		if read {
			need = append(need, "accounting.transactions.read", "accounting.invoices.read")
		}
	case "Payments":
		need = []string{"accounting.transactions", "accounting.payments"}
		if read {
			need = append(need, "accounting.transactions.read", "accounting.payments.read")
		}
	default:
		need = []string{"accounting.settings"}
		if read {
			need = append(need, "accounting.settings.read")
		}
	}
	for _, sc := range at.grant.scopes {
		if slices.Contains(need, sc) {
			return nil
		}
	}
	return unauthorized("AuthorizationUnsuccessful")
}

// serveConnections is GET /connections and DELETE /connections/{id}. They
// are tenantless, so they count only against the app-wide minute limit and
// carry only X-AppMinLimit-Remaining (XERO.md §1).
func (s *Sim) serveConnections(r *http.Request, rt route, out *outcome) *response {
	now := s.clock.Now()
	at, res := s.authenticate(r, now)
	if res != nil {
		return res
	}
	admit := s.limiter.admitApp(at.grant.clientID, now, s.clock)
	if admit.res != nil {
		return admit.res
	}
	out.fault = s.faults.pick(r, false)
	if res := faultResponse(out.fault); res != nil {
		return withHeaders(res, admit.headers)
	}
	if out.fault == FaultLatency {
		s.sleep(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := at.grant
	switch {
	case r.Method == http.MethodGet && rt.id == "":
		filter := r.URL.Query().Get("authEventId")
		list := []map[string]any{}
		// s.auth.connections is already in createdDateUtc order: connect
		// appends at the simulated time, which only moves forward, and
		// reconnecting or deleting keeps the order of the rest.
		for _, c := range s.auth.connections {
			if c.clientID != g.clientID || c.userID != g.userID {
				continue
			}
			if filter != "" && !sameGUID(filter, c.authEventID) {
				continue
			}
			name := ""
			if o := s.org(c.tenantID); o != nil {
				name = o.cfg.Name
			}
			list = append(list, map[string]any{
				"id":             c.id,
				"authEventId":    c.authEventID,
				"tenantId":       c.tenantID,
				"tenantType":     "ORGANISATION",
				"tenantName":     name,
				"createdDateUtc": connectionTime(c.created),
				"updatedDateUtc": connectionTime(c.updated),
			})
		}
		return withHeaders(jsonResponse(http.StatusOK, list), admit.headers)
	case r.Method == http.MethodDelete && rt.id != "":
		before := len(s.auth.connections)
		s.auth.connections = slices.DeleteFunc(s.auth.connections, func(c *connection) bool {
			return sameGUID(c.id, rt.id) && c.clientID == g.clientID && c.userID == g.userID
		})
		if len(s.auth.connections) == before {
			return withHeaders(notFoundResponse(), admit.headers)
		}
		return withHeaders(&response{Status: http.StatusNoContent, Header: http.Header{}}, admit.headers)
	}
	return withHeaders(methodNotAllowed(), admit.headers)
}

// connectionTime is the identity API's timestamp form, as in the spec
// example "2019-12-07T18:46:19.5165400": UTC, seven fractional digits, no
// zone designator.
func connectionTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000") }
