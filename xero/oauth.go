package xero

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// OAuth 2.0 authorisation-code flow with PKCE (S256) and state, on golang.org/x/oauth2.
//
// Refreshing is deliberately not oauth2.ReuseTokenSource: that keeps a rotated refresh token
// only in memory, and Xero's refresh tokens are single-use, so a crash would lose the only
// valid one. The token store (internal/tenant) calls Refresh under a row lock and persists the
// result before use.

// oauthConfig builds the oauth2 configuration from Config.
func (c *Client) oauthConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		RedirectURL:  c.cfg.RedirectURL,
		Scopes:       c.cfg.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  c.cfg.LoginURL + "/identity/connect/authorize",
			TokenURL: c.cfg.IdentityURL + "/connect/token",
			// Explicit: auto-detection retries a failed request with the other style, which
			// for a refresh would present the same single-use refresh token twice.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// NewVerifier returns a fresh PKCE code verifier (keep it for Exchange).
func NewVerifier() string { return oauth2.GenerateVerifier() }

// NewState returns a fresh random state value for AuthCodeURL (compare it on the redirect).
func NewState() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthCodeURL returns the URL that starts the consent: the user signs in to Xero and picks
// organisations. state protects the redirect against forgery; verifier is the PKCE secret
// whose S256 challenge is sent now and which Exchange presents later.
func (c *Client) AuthCodeURL(state, verifier string) string {
	return c.oauthConfig().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange trades the authorisation code from the redirect for a token set. The caller
// lists /connections with StaticToken(tok) and then stores tok (internal/tenant's TokenStore.Save).
func (c *Client) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	if err := c.checkOAuthConfig(); err != nil {
		return nil, err
	}
	tok, err := c.oauthConfig().Exchange(c.oauthContext(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenEndpointError("exchange code", err)
	}
	return tok, nil
}

// Refresh presents refreshToken to the token endpoint once and returns the new token set,
// which carries a new refresh token that replaces the old one. It implements the token store's
// Refresher (internal/tenant). invalid_grant becomes *AuthError{Kind: InvalidGrant}; a lost response is a
// *TransportError (the old refresh token stays valid for 30 minutes, so retrying it is right).
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	if err := c.checkOAuthConfig(); err != nil {
		return nil, err
	}
	// An already-expired access token makes the oauth2 source refresh immediately.
	src := c.oauthConfig().TokenSource(c.oauthContext(ctx), &oauth2.Token{RefreshToken: refreshToken})
	tok, err := src.Token()
	if err != nil {
		return nil, tokenEndpointError("refresh token", err)
	}
	return tok, nil
}

// Revoke revokes a refresh token (and with it the access tokens of the authorisation).
// Xero then removes all of that user's connections to the app (XERO.md §1).
func (c *Client) Revoke(ctx context.Context, refreshToken string) error {
	if err := c.checkOAuthConfig(); err != nil {
		return err
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
	defer cancel()
	u := c.cfg.IdentityURL + "/connect/revocation"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return &TransportError{Op: "POST /connect/revocation", Err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = parseError("POST /connect/revocation", resp.StatusCode, resp.Header, data, false)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Type == "invalid_grant" || ae.Type == "invalid_token") {
		return nil // already dead, which is what revoking wants
	}
	return err
}

func (c *Client) checkOAuthConfig() error {
	if c.cfg.ClientID == "" {
		return fmt.Errorf("xero config: ClientID is required for OAuth: %w", ErrInvalidRequest)
	}
	return nil
}

// oauthContext hands our HTTP client to golang.org/x/oauth2.
func (c *Client) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.hc)
}

// tokenEndpointError classifies an error from the token endpoint. The oauth2 errors quote the
// response body, which on failure holds only an error code and description, never a token.
func tokenEndpointError(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		switch re.ErrorCode {
		case "invalid_grant":
			return &AuthError{Kind: InvalidGrant, Detail: firstNonEmpty(re.ErrorDescription, "invalid_grant"), Err: fmt.Errorf("%s: %w", op, err)}
		case "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope":
			// The app's registration or our configuration is wrong: every connection would
			// fail alike, so this is not a reason to mark one connection auth_failed.
			return &AuthError{Kind: Forbidden, Detail: re.ErrorCode, Err: fmt.Errorf("%s: %w", op, err)}
		}
		if status == http.StatusTooManyRequests {
			return &RateLimitError{Limit: LimitAppMinute, API: &APIError{Op: op, Status: status}}
		}
		if status >= 400 && status < 500 && status != http.StatusRequestTimeout {
			return &AuthError{Kind: Forbidden, Detail: fmt.Sprintf("token endpoint HTTP %d", status), Err: fmt.Errorf("%s: %w", op, err)}
		}
		// 5xx: transient; Xero may or may not have rotated the token, the grace window covers it.
		return &TransportError{Op: "POST /connect/token", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &TransportError{Op: "POST /connect/token", Err: fmt.Errorf("%s: %w", op, scrubURLError(err))}
}
