package xero

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/internal/secret"
)

// redacted is what every secret prints as.
const redacted = secret.Redacted

// Secret holds a token (or any credential) and refuses to show it: every fmt verb, slog,
// JSON and String print "[redacted]". Only Reveal returns the value, at the one place it goes
// on the wire. SPEC §5: tokens never appear in logs, errors or status output. It is
// secret.Value, the type config's secrets have too.
type Secret = secret.Value

// NewSecret wraps s.
func NewSecret(s string) Secret { return secret.New(s) }

// TokenSet is one OAuth 2.0 token set. Its secrets are Secret values, so printing or logging
// a TokenSet shows only the expiry and scope.
type TokenSet struct {
	AccessToken  Secret
	RefreshToken Secret
	TokenType    string
	Expiry       time.Time // of the access token
	Scope        string
}

// LogValue implements slog.LogValuer.
func (t TokenSet) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expiry", t.Expiry), slog.String("scope", t.Scope))
}

func (t TokenSet) String() string {
	return fmt.Sprintf("TokenSet{access:%s refresh:%s expiry:%s scope:%q}", redacted, redacted, t.Expiry.Format(time.RFC3339), t.Scope)
}

// TokenSetFrom converts an oauth2 token, computing the expiry from expires_in on our own clock
// (oauth2 stamps Expiry with the real time.Now, which a test's scaled clock does not share).
// Whoever stores a token set from Exchange or Refresh uses it (internal/tenant).
func TokenSetFrom(tok *oauth2.Token, now time.Time) TokenSet {
	ts := TokenSet{
		AccessToken:  NewSecret(tok.AccessToken),
		RefreshToken: NewSecret(tok.RefreshToken),
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
	}
	if tok.ExpiresIn > 0 {
		ts.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	if s, ok := tok.Extra("scope").(string); ok {
		ts.Scope = s
	}
	return ts
}

// TokenSource gives the client a Bearer token for one Xero authorisation. It is the
// context-aware counterpart of oauth2.TokenSource, with one addition: when Xero rejects a
// token as expired, the client asks for a replacement once and resends.
type TokenSource interface {
	// AccessToken returns an access token that should be valid now. Implementations that
	// refresh must persist the new token set before returning it (Xero's refresh tokens are
	// single-use).
	AccessToken(ctx context.Context) (Secret, error)
	// RefreshRejected is called after Xero answered 401 TokenExpired to rejected. It returns
	// a different, fresh access token, or an error.
	RefreshRejected(ctx context.Context, rejected Secret) (Secret, error)
}

// StaticTokenSource serves one access token that cannot be refreshed: the connect flow
// uses it with the token set just obtained, before it is saved (GET /connections).
type StaticTokenSource struct{ Token Secret }

// StaticToken wraps an oauth2 token from Exchange.
func StaticToken(tok *oauth2.Token) StaticTokenSource {
	return StaticTokenSource{Token: NewSecret(tok.AccessToken)}
}

// AccessToken implements TokenSource.
func (s StaticTokenSource) AccessToken(context.Context) (Secret, error) {
	if s.Token.IsZero() {
		return Secret{}, &AuthError{Kind: NotConnected, Detail: "no access token"}
	}
	return s.Token, nil
}

// RefreshRejected implements TokenSource: a static token cannot be refreshed.
func (s StaticTokenSource) RefreshRejected(context.Context, Secret) (Secret, error) {
	return Secret{}, &AuthError{Kind: TokenExpired, Detail: "static token rejected as expired"}
}

// Types that hold secrets in unexported fields (the client secret here; a cached token and
// the AEAD key schedule in internal/tenant) would print them through fmt's reflection; their
// Format methods stop that.

// Format prints the endpoints but not the client secret.
func (c *Client) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "Client{api:%s identity:%s client_id:%s secret:%s}", c.cfg.APIURL, c.cfg.IdentityURL, c.cfg.ClientID, redacted)
}
