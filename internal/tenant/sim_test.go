package tenant

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// simEnv is the Xero simulator with one organisation and a client for it.
type simEnv struct {
	sim    *xerosim.Sim
	client *xero.Client
	tenant string // the organisation's Xero tenant id
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	sim, srv := xerosim.NewServer(t, xerosim.Config{})
	tenant, err := sim.AddOrg(xerosim.DefaultOrg("Acme Ltd"))
	if err != nil {
		t.Fatal(err)
	}
	def := xerosim.DefaultClient()
	c, err := xero.New(xero.Config{
		APIURL: srv.URL, IdentityURL: srv.URL, LoginURL: srv.URL,
		ClientID: def.ID, ClientSecret: def.Secret, RedirectURL: def.RedirectURIs[0],
		HTTPClient: srv.Client(), Now: sim.Now, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, client: c, tenant: tenant}
}

// The token store end to end with the simulator's token endpoint: stored token, expiry,
// refresh under lock, rotation persisted.
func TestSimTokenStore(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	e := newSimEnv(t)
	st, err := NewTokenStore(TokenStoreConfig{DB: s.db.Pool, Key: s.key, Refresher: e.client, Now: e.sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := e.sim.IssueTokens(xerosim.DefaultClient().ID, xero.DefaultScopes, e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := &oauth2.Token{AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken, ExpiresIn: int64(ts.ExpiresIn)}
	if err := st.Save(ctx, s.tenant, xero.Connection{ID: "7cb59f93-2964-421d-bb5e-a0f7a4572a44", TenantID: e.tenant, TenantName: "Acme Ltd"}, tok); err != nil {
		t.Fatal(err)
	}
	org := e.client.Org(e.tenant, st.Source(s.tenant))
	if _, err := org.Organisation(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.sim.Advance(40 * time.Minute)
		if _, err := org.Organisation(ctx); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
	}
	if n := e.sim.Calls(http.MethodPost, "/connect/token", http.StatusOK); n != 3 {
		t.Errorf("%d refreshes", n)
	}
	if n := e.sim.Calls(http.MethodGet, "/api.xro/2.0/Organisation", http.StatusUnauthorized); n != 0 {
		t.Errorf("%d 401s: the store should refresh before expiry", n)
	}
}

// The store types redact themselves (moved from xero's TestSecretNeverPrints with the store).
func TestTokenStoreNeverPrints(t *testing.T) {
	t.Parallel()
	const raw = "eyJhbGciOiJSUzI1NiJ9.super-secret-token"
	st, err := NewTokenStore(TokenStoreConfig{DB: (*pgxpool.Pool)(nil), Key: []byte("super-secret-key-0123456789abcde")})
	if err != nil {
		t.Fatal(err)
	}
	src := st.source("t")
	src.cached = xero.NewSecret(raw)
	for _, o := range []string{fmt.Sprintf("%v %+v %#v", st, st, st), fmt.Sprintf("%v %+v %#v", src, src, src)} {
		if strings.Contains(o, "super-secret") || strings.Contains(o, "73757065") /* hex of "supe" */ {
			t.Fatalf("secret leaked: %s", o)
		}
	}
}
