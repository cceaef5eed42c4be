package xerosim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if e.tokens.Expires != 1800 || e.tokens.Type != "Bearer" || e.tokens.Refresh == "" || e.tokens.Scope != allScopes {
		t.Fatalf("token response: %+v", e.tokens)
	}
	if parts := strings.Split(e.tokens.Access, "."); len(parts) != 3 {
		t.Errorf("access token is not JWT-shaped: %q", e.tokens.Access)
	}
	r := e.call(http.MethodGet, "/connections", nil).mustOK(t)
	var conns []map[string]any
	if err := json.Unmarshal(r.Body, &conns); err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 {
		t.Fatalf("connections: %s", r.Body)
	}
	c := conns[0]
	if c["tenantId"] != e.tenant || c["tenantType"] != "ORGANISATION" || c["tenantName"] != "Acme Ltd" || c["authEventId"] == "" || c["id"] == e.tenant {
		t.Errorf("connection: %v", c)
	}
	// ?authEventId filters to one consent's connections.
	r = e.call(http.MethodGet, "/connections?authEventId=00000000-0000-4000-8000-000000000000", nil).mustOK(t)
	if strings.TrimSpace(string(r.Body)) != "[]" {
		t.Errorf("filtered connections: %s", r.Body)
	}
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
}

func TestAuthorizeRejects(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, challenge := pkce()
	tests := []struct {
		name      string
		change    func(url.Values)
		wantCode  int    // without redirect
		wantError string // error= on the redirect
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "nobody") }, http.StatusBadRequest, ""},
		{"unregistered redirect", func(v url.Values) { v.Set("redirect_uri", "http://localhost:9999/cb") }, http.StatusBadRequest, ""},
		{"response_type token", func(v url.Values) { v.Set("response_type", "token") }, 0, "unsupported_response_type"},
		{"no scope", func(v url.Values) { v.Del("scope") }, 0, "invalid_scope"},
		{"unknown scope", func(v url.Values) { v.Set("scope", "offline_access accounting.everything") }, 0, "invalid_scope"},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, 0, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, 0, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := authParams(clientID, allScopes, challenge)
			tc.change(v)
			resp, q := e.authorize(v)
			if tc.wantCode != 0 {
				if resp.StatusCode != tc.wantCode || resp.Header.Get("Location") != "" {
					t.Fatalf("want %d without redirect, got %d %q", tc.wantCode, resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if q.Get("error") != tc.wantError || q.Get("state") != "st-123" || q.Get("code") != "" {
				t.Fatalf("redirect query %v, want error=%s with state", q, tc.wantError)
			}
		})
	}
}

func TestTokenExchangeRejects(t *testing.T) {
	t.Parallel()
	e := setup(t)
	newCode := func() (code, verifier string) {
		verifier, challenge := pkce()
		_, q := e.authorize(authParams(clientID, allScopes, challenge))
		return q.Get("code"), verifier
	}
	exchange := func(code, verifier, redirect string) (int, string) {
		status, body := e.token(clientID, secret, url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier},
		})
		return status, string(body)
	}

	code, verifier := newCode()
	if status, body := exchange(code, verifier+"x", redirectURI); status != 400 || body != `{"error":"invalid_grant","error_description":"code_verifier does not match code_challenge"}` {
		t.Errorf("wrong verifier: %d %s", status, body)
	}
	code, verifier = newCode()
	if status, body := exchange(code, verifier, "http://localhost:7434/other"); status != 400 || !strings.Contains(body, "invalid_grant") {
		t.Errorf("redirect mismatch: %d %s", status, body)
	}
	code, verifier = newCode()
	if status, _ := exchange(code, verifier, redirectURI); status != 200 {
		t.Fatalf("exchange: %d", status)
	}
	if status, body := exchange(code, verifier, redirectURI); status != 400 || !strings.Contains(body, "invalid_grant") {
		t.Errorf("code reuse: %d %s", status, body)
	}
	code, verifier = newCode()
	e.sim.Advance(6 * time.Minute)
	if status, body := exchange(code, verifier, redirectURI); status != 400 || !strings.Contains(body, "invalid_grant") {
		t.Errorf("expired code: %d %s", status, body)
	}

	// Client authentication: wrong secret, then credentials in the form body.
	code, verifier = newCode()
	status, body := e.token(clientID, "wrong", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}})
	if status != 400 || !strings.Contains(string(body), "invalid_client") {
		t.Errorf("wrong secret: %d %s", status, body)
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}, "client_id": {clientID}, "client_secret": {secret},
	}
	resp, err := e.client.Post(e.base+"/connect/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("client auth in form body: %d", resp.StatusCode)
	}
	if status, body := e.token(clientID, secret, url.Values{"grant_type": {"password"}}); status != 400 || !strings.Contains(string(body), "unsupported_grant_type") {
		t.Errorf("unsupported grant: %d %s", status, body)
	}
}

func TestRefreshRotationAndGrace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r0 := e.tokens.Refresh

	status, t1, _ := e.refresh(r0)
	if status != 200 || t1.Refresh == "" || t1.Refresh == r0 || t1.Access == e.tokens.Access || t1.Expires != 1800 {
		t.Fatalf("first refresh must rotate: %d %+v", status, t1)
	}
	// The response was "lost": the old token still works inside the grace
	// period and returns a fresh set.
	e.sim.Advance(29 * time.Minute)
	status, t2, _ := e.refresh(r0)
	if status != 200 || t2.Refresh == t1.Refresh || t2.Refresh == r0 {
		t.Fatalf("refresh within grace: %d %+v", status, t2)
	}
	// Past 30 minutes from its first use, the old token is dead.
	e.sim.Advance(2 * time.Minute)
	status, _, body := e.refresh(r0)
	if status != 400 || string(body) != `{"error":"invalid_grant"}` {
		t.Fatalf("refresh after grace: %d %s", status, body)
	}
	// Tokens issued in the grace period are independent and unused.
	if status, _, _ := e.refresh(t2.Refresh); status != 200 {
		t.Fatalf("refresh with newest token: %d", status)
	}
	if status, _, _ := e.refresh("no-such-token"); status != 400 {
		t.Fatalf("unknown refresh token: %d", status)
	}
}

func TestRefreshGraceConfigurable(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(func(c *xerosim.Config) { c.RefreshGrace = time.Minute }))
	r0 := e.tokens.Refresh
	if status, _, _ := e.refresh(r0); status != 200 {
		t.Fatal(status)
	}
	e.sim.Advance(61 * time.Second)
	if status, _, _ := e.refresh(r0); status != 400 {
		t.Fatalf("refresh after a 1-minute grace: %d", status)
	}
}

func TestUnusedRefreshTokenExpiresAfter60Days(t *testing.T) {
	t.Parallel()
	e := setup(t)
	other := e.connect(clientID, secret, allScopes)
	e.sim.Advance(60*24*time.Hour - time.Minute)
	if status, _, _ := e.refresh(other.Refresh); status != 200 {
		t.Fatalf("refresh at 60 days less a minute: %d", status)
	}
	e.sim.Advance(2 * time.Minute)
	if status, _, body := e.refresh(e.tokens.Refresh); status != 400 || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("refresh after 60 days: %d %s", status, body)
	}
}

func TestAccessTokenExpires(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.Advance(30*time.Minute + time.Second)
	r := e.call(http.MethodGet, "Invoices", nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("want 401, got %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["Type"] != nil || m["Title"] != "Unauthorized" || num(m["Status"]) != "401" || m["Instance"] == nil {
		t.Errorf("401 body: %s", r.Body)
	}
	if d, _ := m["Detail"].(string); !strings.HasPrefix(d, "TokenExpired: token expired at 05/14/2026 09:30:00") {
		t.Errorf("Detail = %q", d)
	}
	if r := e.call(http.MethodGet, "Invoices", nil, withToken("garbage")); r.Status != http.StatusUnauthorized {
		t.Errorf("invalid token: %d", r.Status)
	}
	_, fresh, _ := e.refresh(e.tokens.Refresh)
	e.call(http.MethodGet, "Invoices", nil, withToken(fresh.Access)).mustOK(t)
}

func TestRevocationRemovesConnections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	form := url.Values{"token": {e.tokens.Refresh}}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/connect/revocation", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if status, _, body := e.refresh(e.tokens.Refresh); status != 400 || !strings.Contains(string(body), "invalid_grant") {
		t.Errorf("refresh after revoke: %d %s", status, body)
	}
	r := e.call(http.MethodGet, "/connections", nil).mustOK(t)
	if strings.TrimSpace(string(r.Body)) != "[]" {
		t.Errorf("connections after revoke: %s", r.Body)
	}
	r = e.call(http.MethodGet, "Contacts", nil)
	if r.Status != http.StatusForbidden || r.JSON(t)["Detail"] != "AuthenticationUnsuccessful" || r.JSON(t)["Title"] != "Forbidden" {
		t.Errorf("call after revoke: %d %s", r.Status, r.Body)
	}
}

func TestDeleteConnection(t *testing.T) {
	t.Parallel()
	second := xerosim.DefaultOrg("Beta Ltd")
	second.OrganisationID = "0b7f5a2c-3d4e-4f60-8a1b-2c3d4e5f6a7b"
	e := setup(t, withOrgs(second))
	var conns []map[string]any
	if err := json.Unmarshal(e.call(http.MethodGet, "/connections", nil).mustOK(t).Body, &conns); err != nil || len(conns) != 2 {
		t.Fatalf("connections: %v %v", err, conns)
	}
	// The path takes the connection id, not the tenant id.
	if r := e.call(http.MethodDelete, "/connections/"+e.tenant, nil); r.Status != http.StatusNotFound {
		t.Fatalf("delete by tenant id: want 404, got %d", r.Status)
	}
	var id string
	for _, c := range conns {
		if c["tenantId"] == e.tenant {
			id = c["id"].(string)
		}
	}
	if r := e.call(http.MethodDelete, "/connections/"+id, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := e.call(http.MethodDelete, "/connections/"+id, nil); r.Status != http.StatusNotFound {
		t.Fatalf("delete again: %d", r.Status)
	}
	if r := e.call(http.MethodGet, "Contacts", nil); r.Status != http.StatusForbidden {
		t.Fatalf("disconnected tenant: %d", r.Status)
	}
	e.call(http.MethodGet, "Contacts", nil, withTenant(second.OrganisationID)).mustOK(t)
}

func TestTenantHeader(t *testing.T) {
	t.Parallel()
	second := xerosim.DefaultOrg("Beta Ltd")
	second.OrganisationID = "0b7f5a2c-3d4e-4f60-8a1b-2c3d4e5f6a7b"
	e := setup(t, withOrgs(second))
	for name, opt := range map[string]callOpt{
		"missing": withHeader("Xero-Tenant-Id", ""),
		"unknown": withTenant("11111111-2222-4333-8444-555555555555"),
	} {
		r := e.call(http.MethodGet, "Contacts", nil, opt)
		if r.Status != http.StatusForbidden || r.JSON(t)["Detail"] != "AuthenticationUnsuccessful" {
			t.Errorf("%s tenant: %d %s", name, r.Status, r.Body)
		}
	}
	// A consent that grants only the second organisation.
	e.sim.SetConsent(second.OrganisationID)
	e.tokens = e.connect("other-app", "other-secret", allScopes)
	if r := e.call(http.MethodGet, "Contacts", nil); r.Status != http.StatusForbidden {
		t.Errorf("org not in consent: %d", r.Status)
	}
	e.call(http.MethodGet, "Contacts", nil, withTenant(second.OrganisationID)).mustOK(t)
}

func TestScopes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.tokens = e.connect(clientID, secret, "offline_access accounting.settings.read")
	e.call(http.MethodGet, "Organisation", nil).mustOK(t)
	r := e.call(http.MethodGet, "Contacts", nil)
	if r.Status != http.StatusUnauthorized || r.JSON(t)["Detail"] != "AuthorizationUnsuccessful" {
		t.Errorf("contacts without scope: %d %s", r.Status, r.Body)
	}
	// Granular 2026 scopes replace accounting.transactions.
	e.tokens = e.connect(clientID, secret, "offline_access accounting.contacts.read accounting.invoices accounting.payments.read")
	e.call(http.MethodGet, "Invoices", nil).mustOK(t)
	e.call(http.MethodGet, "Payments", nil).mustOK(t)
	e.call(http.MethodGet, "Contacts", nil).mustOK(t)
	if r := e.call(http.MethodPut, "Contacts", map[string]any{"Name": "X"}); r.Status != http.StatusUnauthorized {
		t.Errorf("write with read scope: %d", r.Status)
	}
	// Without offline_access there is no refresh token.
	if tk := e.connect(clientID, secret, "accounting.settings.read"); tk.Refresh != "" {
		t.Errorf("refresh token without offline_access")
	}
}

// TestLostRefreshResponse is the case the grace period exists for: Xero
// rotates the refresh token, the response never arrives, and the client
// retries with the token it still has.
func TestLostRefreshResponse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.FailNext(xerosim.Endpoint(http.MethodPost, "/connect/token"), xerosim.FaultLostResponse)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {e.tokens.Refresh}}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/connect/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	if resp, err := e.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("lost response: got %d, want a transport error", resp.StatusCode)
	}
	status, tk, body := e.refresh(e.tokens.Refresh)
	if status != 200 || tk.Refresh == "" {
		t.Fatalf("retry with old refresh token: %d %s", status, body)
	}
	if got := e.sim.Stats().Faults[xerosim.FaultLostResponse]; got != 1 {
		t.Errorf("faults injected: %d", got)
	}
}

func TestIssueTokens(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ts, err := e.sim.IssueTokens(clientID, strings.Fields(allScopes), e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	e.call(http.MethodGet, "Contacts", nil, withToken(ts.AccessToken)).mustOK(t)
	if _, err := e.sim.IssueTokens("nobody", nil); err == nil {
		t.Error("IssueTokens accepted an unknown client")
	}
}
