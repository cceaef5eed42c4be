package tenant

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/xero"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeIdentity is a token endpoint with Xero's rotation rules: every refresh returns a new
// refresh token; the presented one stays usable for a grace period (30 minutes) and is then
// dead; unknown or revoked tokens get invalid_grant. It can lose a response after applying
// it, as a dropped connection would.
type fakeIdentity struct {
	now   func() time.Time
	grace time.Duration
	delay time.Duration // held while the request is in flight, to widen races

	mu         sync.Mutex
	seq        int
	refresh    map[string]*rtState
	calls      []string // refresh tokens presented, in order
	inFlight   map[string]int
	overlapped bool // the same refresh token was presented twice at once
	loseNext   int
	revoked    []string
}

type rtState struct {
	rotatedAt time.Time // zero: never used
	revoked   bool
}

func newFakeIdentity(now func() time.Time) *fakeIdentity {
	return &fakeIdentity{now: now, grace: 30 * time.Minute, refresh: map[string]*rtState{}, inFlight: map[string]int{}}
}

// issue creates a fresh token set the server will honour.
func (f *fakeIdentity) issue() *oauth2.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issueLocked()
}

func (f *fakeIdentity) issueLocked() *oauth2.Token {
	f.seq++
	rt := fmt.Sprintf("rt-%d", f.seq)
	f.refresh[rt] = &rtState{}
	return &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", f.seq), RefreshToken: rt, TokenType: "Bearer", ExpiresIn: 1800}
}

func (f *fakeIdentity) presented() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeIdentity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, secret, ok := r.BasicAuth(); !ok || id != "client-id" || secret != "client-secret" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/connect/revocation":
		f.mu.Lock()
		f.revoked = append(f.revoked, r.PostForm.Get("token"))
		if st := f.refresh[r.PostForm.Get("token")]; st != nil {
			st.revoked = true
		}
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	case "/connect/token":
	default:
		http.NotFound(w, r)
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	rt := r.PostForm.Get("refresh_token")
	f.mu.Lock()
	f.calls = append(f.calls, rt)
	f.inFlight[rt]++
	if f.inFlight[rt] > 1 {
		f.overlapped = true
	}
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	f.inFlight[rt]--
	st := f.refresh[rt]
	now := f.now()
	if st == nil || st.revoked || (!st.rotatedAt.IsZero() && now.Sub(st.rotatedAt) > f.grace) {
		f.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	if st.rotatedAt.IsZero() {
		st.rotatedAt = now
	}
	tok := f.issueLocked()
	lose := f.loseNext > 0
	if lose {
		f.loseNext--
	}
	f.mu.Unlock()
	if lose {
		// The server applied the refresh; the client never hears of it.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok.AccessToken, "refresh_token": tok.RefreshToken, "token_type": "Bearer",
		"expires_in": 1800, "scope": "offline_access accounting.contacts",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// storeSetup is one test's database, token endpoint and store.
type storeSetup struct {
	db     *pgtest.DB
	clock  *fakeClock
	idp    *fakeIdentity
	client *xero.Client
	key    []byte
	store  *TokenStore
	tenant string
}

func newStoreSetup(t *testing.T) *storeSetup {
	t.Helper()
	s := &storeSetup{db: pgtest.New(t), clock: newFakeClock()}
	s.idp = newFakeIdentity(s.clock.Now)
	srv := httptest.NewServer(s.idp)
	t.Cleanup(srv.Close)
	var err error
	s.client, err = xero.New(xero.Config{IdentityURL: srv.URL, ClientID: "client-id", ClientSecret: "client-secret", Now: s.clock.Now, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	s.key = make([]byte, 32)
	_, _ = rand.Read(s.key)
	s.store = s.newStore(t, s.db.Pool)
	s.tenant = s.addTenant(t, "Acme")
	return s
}

func (s *storeSetup) newStore(t *testing.T, db DB) *TokenStore {
	t.Helper()
	st, err := NewTokenStore(TokenStoreConfig{DB: db, Key: s.key, Refresher: s.client, Now: s.clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// addTenant inserts a Softbooq tenant and connects it with a fresh token set.
func (s *storeSetup) addTenant(t *testing.T, name string) string {
	t.Helper()
	var id string
	if err := s.db.Pool.QueryRow(context.Background(), "INSERT INTO core.tenants (name) VALUES ($1) RETURNING id::text", name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// One Xero organisation per tenant: a unique index enforces it.
	conn := xero.Connection{ID: "7cb59f93-2964-421d-bb5e-a0f7a4572a44", TenantID: id, TenantName: name + " Ltd"}
	if err := s.store.Save(context.Background(), id, conn, s.idp.issue()); err != nil {
		t.Fatal(err)
	}
	return id
}

// stored opens the token set currently in the row.
func (s *storeSetup) stored(t *testing.T, tenant string) xero.TokenSet {
	t.Helper()
	var sealed []byte
	if err := s.db.Pool.QueryRow(context.Background(), "SELECT token_sealed FROM xerosync.connections WHERE tenant_id = $1", tenant).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	ts, err := s.store.open(tenant, sealed)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// hasToken reports whether the row holds a sealed token set.
func (s *storeSetup) hasToken(t *testing.T, tenant string) bool {
	t.Helper()
	var has bool
	if err := s.db.Pool.QueryRow(context.Background(), "SELECT token_sealed IS NOT NULL FROM xerosync.connections WHERE tenant_id = $1", tenant).Scan(&has); err != nil {
		t.Fatal(err)
	}
	return has
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestTokenStoreSaveAndGet(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	sc, err := s.store.Get(ctx, s.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if sc.State != StateConnected || sc.XeroTenantID != s.tenant || sc.OrgName != "Acme Ltd" ||
		sc.XeroConnectionID != "7cb59f93-2964-421d-bb5e-a0f7a4572a44" || sc.LastError != "" {
		t.Fatalf("Get = %+v", sc)
	}
	var hasToken bool
	var expires, connected *time.Time
	if err := s.db.Pool.QueryRow(ctx, "SELECT token_sealed IS NOT NULL, access_expires_at, connected_at FROM xerosync.connections WHERE tenant_id = $1", s.tenant).
		Scan(&hasToken, &expires, &connected); err != nil {
		t.Fatal(err)
	}
	if !hasToken || expires == nil || !expires.Equal(s.clock.Now().Add(30*time.Minute)) || connected == nil {
		t.Fatalf("row after Save: token %v, access expires %v, connected %v", hasToken, expires, connected)
	}
	if strings.Contains(fmt.Sprintf("%+v", sc), "rt-") {
		t.Fatal("Get exposes the token")
	}
	// Sealed at rest: the plaintext is not in the row.
	var raw []byte
	_ = s.db.Pool.QueryRow(ctx, "SELECT token_sealed FROM xerosync.connections WHERE tenant_id = $1", s.tenant).Scan(&raw)
	if strings.Contains(string(raw), "rt-1") || strings.Contains(string(raw), "at-1") {
		t.Fatal("token stored in plaintext")
	}
	tok, err := s.store.Source(s.tenant).AccessToken(ctx)
	if err != nil || tok.Reveal() != "at-1" {
		t.Fatalf("AccessToken = %v, %v", tok.Reveal(), err)
	}
	if len(s.idp.presented()) != 0 {
		t.Fatal("a valid access token was refreshed")
	}
	if _, err := s.store.Get(ctx, "00000000-0000-0000-0000-000000000001"); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("Get unknown = %v", err)
	}
}

func TestTokenStoreRefreshesNearExpiryAndPersistsFirst(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	src := s.store.Source(s.tenant)
	s.clock.Advance(29*time.Minute + 30*time.Second) // less than the 60 s margin left
	var storedAtReturn xero.TokenSet
	s.store.afterCommit = func() { storedAtReturn = s.stored(t, s.tenant) }
	tok, err := src.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Reveal() != "at-2" || storedAtReturn.AccessToken.Reveal() != "at-2" || storedAtReturn.RefreshToken.Reveal() != "rt-2" {
		t.Fatalf("returned %s; stored before return: %v", tok.Reveal(), storedAtReturn.RefreshToken.Reveal())
	}
	if got := s.idp.presented(); len(got) != 1 || got[0] != "rt-1" {
		t.Fatalf("presented %v", got)
	}
	var hasPrev bool
	var rotated, obtained time.Time
	_ = s.db.Pool.QueryRow(ctx, "SELECT previous_token_sealed IS NOT NULL, token_rotated_at, refresh_obtained_at FROM xerosync.connections WHERE tenant_id = $1", s.tenant).Scan(&hasPrev, &rotated, &obtained)
	// The replaced token set is not kept: its refresh token is still valid within Xero's grace.
	if hasPrev || !rotated.Equal(s.clock.Now()) || !obtained.Equal(s.clock.Now()) {
		t.Fatalf("row after refresh: prev %v rotated %v obtained %v", hasPrev, rotated, obtained)
	}
	// Cached now: no more refreshes while valid.
	for range 3 {
		if tok, err := src.AccessToken(ctx); err != nil || tok.Reveal() != "at-2" {
			t.Fatalf("AccessToken = %s, %v", tok.Reveal(), err)
		}
	}
	if n := len(s.idp.presented()); n != 1 {
		t.Fatalf("%d refreshes", n)
	}
}

// Crash window 1: Xero applied the refresh but the response was lost. The stored token is
// unchanged, and the next attempt presents it again within the grace period.
func TestTokenStoreRefreshResponseLost(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	s.idp.loseNext = 1
	s.clock.Advance(31 * time.Minute)
	_, err := s.store.Source(s.tenant).AccessToken(ctx)
	if err == nil || xero.Classify(err) != xero.ClassTransient {
		t.Fatalf("lost response: err = %v, class %v", err, xero.Classify(err))
	}
	if strings.Contains(err.Error(), "rt-1") {
		t.Fatal("error mentions the refresh token")
	}
	if got := s.stored(t, s.tenant).RefreshToken.Reveal(); got != "rt-1" {
		t.Fatalf("stored refresh token after lost response = %s", got)
	}
	s.clock.Advance(5 * time.Minute) // still inside Xero's 30-minute grace
	tok, err := s.store.Source(s.tenant).AccessToken(ctx)
	if err != nil {
		t.Fatalf("retry within grace: %v", err)
	}
	if got := s.idp.presented(); len(got) != 2 || got[0] != "rt-1" || got[1] != "rt-1" {
		t.Fatalf("presented %v", got)
	}
	if st := s.stored(t, s.tenant); st.AccessToken.Reveal() != tok.Reveal() || st.RefreshToken.Reveal() == "rt-1" {
		t.Fatalf("stored %s / returned %s", st.RefreshToken.Reveal(), tok.Reveal())
	}
}

// Beyond the grace period the old token is dead: invalid_grant, and the connection is
// auth_failed rather than retried forever.
func TestTokenStoreResponseLostBeyondGrace(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	s.idp.loseNext = 1
	s.clock.Advance(31 * time.Minute)
	if _, err := s.store.Source(s.tenant).AccessToken(ctx); xero.Classify(err) != xero.ClassTransient {
		t.Fatalf("err = %v", err)
	}
	s.clock.Advance(31 * time.Minute)
	_, err := s.store.Source(s.tenant).AccessToken(ctx)
	var auth *xero.AuthError
	if !errors.As(err, &auth) || auth.Kind != xero.InvalidGrant {
		t.Fatalf("err = %v", err)
	}
}

// Crash window 2: the response arrived but the process died before storing it. The old
// token is still stored, and Xero still honours it within grace.
func TestTokenStoreCrashBeforeStoring(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	s.store.afterRefresh = func() error { return errors.New("simulated crash") }
	s.clock.Advance(31 * time.Minute)
	if _, err := s.store.Source(s.tenant).AccessToken(ctx); err == nil {
		t.Fatal("want the simulated crash")
	}
	if got := s.stored(t, s.tenant).RefreshToken.Reveal(); got != "rt-1" {
		t.Fatalf("stored = %s", got)
	}
	// A new process (a new store on a new pool) takes over.
	pool, err := pgxpool.New(ctx, s.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s.clock.Advance(2 * time.Minute)
	tok, err := s.newStore(t, pool).Source(s.tenant).AccessToken(ctx)
	if err != nil || tok.Reveal() != "at-3" {
		t.Fatalf("after crash: %s, %v", tok.Reveal(), err)
	}
	if got := s.idp.presented(); len(got) != 2 || got[1] != "rt-1" {
		t.Fatalf("presented %v", got)
	}
}

// Crash window 3: the new token set was committed and the process died before using it. The
// next process uses the new set and never presents the old refresh token again.
func TestTokenStoreCrashAfterStoring(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	s.store.afterCommit = func() { panic("simulated crash after commit") }
	s.clock.Advance(31 * time.Minute)
	func() {
		defer func() { _ = recover() }()
		_, _ = s.store.Source(s.tenant).AccessToken(ctx)
	}()
	pool, err := pgxpool.New(ctx, s.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	next := s.newStore(t, pool)
	tok, err := next.Source(s.tenant).AccessToken(ctx)
	if err != nil || tok.Reveal() != "at-2" {
		t.Fatalf("after crash: %s, %v", tok.Reveal(), err)
	}
	s.clock.Advance(31 * time.Minute)
	if tok, err = next.Source(s.tenant).AccessToken(ctx); err != nil || tok.Reveal() != "at-3" {
		t.Fatalf("second refresh: %s, %v", tok.Reveal(), err)
	}
	if got := s.idp.presented(); len(got) != 2 || got[0] != "rt-1" || got[1] != "rt-2" {
		t.Fatalf("presented %v", got)
	}
}

// Two processes (two pools, two stores), many goroutines each, one expired token: exactly one
// refresh reaches Xero, nobody presents a refresh token twice, everyone gets the new token.
func TestTokenStoreConcurrentRefreshers(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	s.idp.delay = 50 * time.Millisecond
	pool2, err := pgxpool.New(ctx, s.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	stores := []*TokenStore{s.store, s.newStore(t, pool2)}
	for round := range 3 {
		s.clock.Advance(31 * time.Minute)
		var wg sync.WaitGroup
		results := make(chan string, 20)
		for i := range 20 {
			wg.Go(func() {
				tok, err := stores[i%2].Source(s.tenant).AccessToken(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				results <- tok.Reveal()
			})
		}
		wg.Wait()
		close(results)
		want := fmt.Sprintf("at-%d", round+2)
		for r := range results {
			if r != want {
				t.Fatalf("round %d: got %s, want %s", round, r, want)
			}
		}
	}
	got := s.idp.presented()
	if len(got) != 3 || got[0] != "rt-1" || got[1] != "rt-2" || got[2] != "rt-3" {
		t.Fatalf("presented %v", got)
	}
	if s.idp.overlapped {
		t.Fatal("a refresh token was presented twice at once")
	}
}

func TestTokenStoreInvalidGrantMarksAuthFailed(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	s.idp.mu.Lock()
	s.idp.refresh["rt-1"].revoked = true
	s.idp.mu.Unlock()
	s.clock.Advance(31 * time.Minute)
	_, err := s.store.Source(s.tenant).AccessToken(ctx)
	var auth *xero.AuthError
	if !errors.As(err, &auth) || auth.Kind != xero.InvalidGrant || xero.Classify(err) != xero.ClassAuth {
		t.Fatalf("err = %v", err)
	}
	sc, _ := s.store.Get(ctx, s.tenant)
	if sc.State != StateAuthFailed || !strings.Contains(sc.LastError, "invalid_grant") {
		t.Fatalf("after invalid_grant: %+v", sc)
	}
	// Later calls do not hammer Xero with a dead token.
	_, err = s.store.Source(s.tenant).AccessToken(ctx)
	if !errors.As(err, &auth) || auth.Kind != xero.NotConnected {
		t.Fatalf("second call: %v", err)
	}
	if n := len(s.idp.presented()); n != 1 {
		t.Fatalf("%d refreshes", n)
	}
	// connect again revives it.
	if err := s.store.Save(ctx, s.tenant, xero.Connection{ID: "7cb59f93-2964-421d-bb5e-a0f7a4572a44", TenantID: "x"}, s.idp.issue()); err != nil {
		t.Fatal(err)
	}
	if sc, _ := s.store.Get(ctx, s.tenant); sc.State != StateConnected || sc.LastError != "" {
		t.Fatalf("after reconnect: %+v", sc)
	}
}

func TestTokenStoreRefreshRejected(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	a, b := s.store.Source(s.tenant), s.store.Source(s.tenant)
	old, _ := a.AccessToken(ctx)
	_, _ = b.AccessToken(ctx)
	fresh, err := a.RefreshRejected(ctx, old)
	if err != nil || fresh.Reveal() != "at-2" {
		t.Fatalf("RefreshRejected = %s, %v", fresh.Reveal(), err)
	}
	// b was rejected with the same old token: the row already moved on, no second refresh.
	fresh2, err := b.RefreshRejected(ctx, old)
	if err != nil || fresh2.Reveal() != "at-2" {
		t.Fatalf("second RefreshRejected = %s, %v", fresh2.Reveal(), err)
	}
	if n := len(s.idp.presented()); n != 1 {
		t.Fatalf("%d refreshes", n)
	}
}

func TestTokenStoreSealBoundToTenant(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	other := s.addTenant(t, "Other")
	s.db.Exec(t, "UPDATE xerosync.connections SET token_sealed = (SELECT token_sealed FROM xerosync.connections WHERE tenant_id = $1) WHERE tenant_id = $2", s.tenant, other)
	_, err := s.store.Source(other).AccessToken(ctx)
	if !errors.Is(err, ErrTokenKey) {
		t.Fatalf("moved token opened: %v", err)
	}
	// A store with another key cannot open anything either.
	wrong := *s
	wrong.key = make([]byte, 32)
	if _, err := wrong.newStore(t, s.db.Pool).Source(s.tenant).AccessToken(ctx); !errors.Is(err, ErrTokenKey) {
		t.Fatalf("wrong key opened: %v", err)
	}
	if _, err := NewTokenStore(TokenStoreConfig{DB: s.db.Pool, Key: []byte("short")}); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestTokenStoreRefreshIdle(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	quiet := s.addTenant(t, "Quiet")
	s.db.Exec(t, "UPDATE xerosync.connections SET refresh_obtained_at = $1 WHERE tenant_id = $2", s.clock.Now().Add(-50*24*time.Hour), quiet)
	n, err := s.store.RefreshIdle(ctx, 45*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("RefreshIdle = %d, %v", n, err)
	}
	if got := s.idp.presented(); len(got) != 1 || got[0] != "rt-2" {
		t.Fatalf("presented %v (quiet tenant holds rt-2)", got)
	}
	if n, err := s.store.RefreshIdle(ctx, 45*24*time.Hour); err != nil || n != 0 {
		t.Fatalf("second RefreshIdle = %d, %v", n, err)
	}
}

func TestTokenStoreDisconnect(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	if err := s.store.Disconnect(ctx, s.tenant, s.client.Revoke, nil); err != nil {
		t.Fatal(err)
	}
	if len(s.idp.revoked) != 1 || s.idp.revoked[0] != "rt-1" {
		t.Fatalf("revoked %v", s.idp.revoked)
	}
	sc, _ := s.store.Get(ctx, s.tenant)
	if sc.State != StateDisconnected || s.hasToken(t, s.tenant) {
		t.Fatalf("after disconnect: %+v", sc)
	}
	var auth *xero.AuthError
	if _, err := s.store.Source(s.tenant).AccessToken(ctx); !errors.As(err, &auth) || auth.Kind != xero.NotConnected {
		t.Fatalf("AccessToken after disconnect: %v", err)
	}
	// A failing revoke leaves the connection untouched.
	other := s.addTenant(t, "Other")
	boom := errors.New("identity down")
	if err := s.store.Disconnect(ctx, other, func(context.Context, string) error { return boom }, nil); !errors.Is(err, boom) {
		t.Fatalf("Disconnect = %v", err)
	}
	if sc, _ := s.store.Get(ctx, other); sc.State != StateConnected || !s.hasToken(t, other) {
		t.Fatalf("after failed revoke: %+v", sc)
	}
}

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	st, err := NewTokenStore(TokenStoreConfig{DB: (*pgxpool.Pool)(nil), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	in := xero.TokenSet{AccessToken: xero.NewSecret("a"), RefreshToken: xero.NewSecret("r"), Expiry: time.Unix(1e9, 0).UTC(), Scope: "s"}
	a, _ := st.seal("t1", in)
	b, _ := st.seal("t1", in)
	if string(a) == string(b) {
		t.Fatal("nonce reused")
	}
	out, err := st.open("t1", a)
	if err != nil || out.AccessToken.Reveal() != "a" || out.RefreshToken.Reveal() != "r" || !out.Expiry.Equal(in.Expiry) {
		t.Fatalf("open = %v, %v", out, err)
	}
	a[len(a)-1] ^= 1
	if _, err := st.open("t1", a); !errors.Is(err, ErrTokenKey) {
		t.Fatal("tampered token opened")
	}
}

// OpenWindow then Save is how a tenant becomes connected (Link, and capturebench without
// Xero): the row is connected, its window open from the WAL position of the connect.
func TestOpenWindowThenSave(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	var id string
	if err := s.db.Pool.QueryRow(ctx, "INSERT INTO core.tenants (name) VALUES ('Beta') RETURNING id::text").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := OpenWindow(ctx, s.db.Pool, id); err != nil {
		t.Fatal(err)
	}
	conn := xero.Connection{ID: "00000000-0000-4000-8000-000000000001", TenantID: "00000000-0000-4000-8000-000000000002", TenantName: "Beta Ltd"}
	if err := s.store.Save(ctx, id, conn, s.idp.issue()); err != nil {
		t.Fatal(err)
	}
	var state string
	var open bool
	if err := s.db.Pool.QueryRow(ctx, "SELECT state, queue_from_lsn IS NOT NULL AND queue_until_lsn IS NULL FROM xerosync.connections WHERE tenant_id = $1", id).Scan(&state, &open); err != nil {
		t.Fatal(err)
	}
	if state != "connected" || !open {
		t.Fatalf("state %s, window open %v", state, open)
	}
}
