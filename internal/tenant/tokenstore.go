package tenant

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/internal/secret"
	"github.com/softbooq/xerosync/xero"
)

// The token store keeps each tenant's Xero token set in xerosync.connections, sealed with
// AES-256-GCM, and is the only code that refreshes it.
//
// Refresh protocol (Xero refresh tokens are single-use and rotate; a lost refresh response
// can be retried with the old token for 30 minutes; XERO.md §1):
//
//  1. In one transaction, SELECT … FOR UPDATE the tenant's row. Two processes (two daemons,
//     or the daemon and `xerosync connect`) therefore never present the same refresh token at
//     once: the second waits, then sees the first one's new token.
//  2. If the access token has more than RefreshMargin left, use it; no call.
//  3. Otherwise present the stored refresh token once.
//  4. On success, store the new set in place of the old one (which is not kept) and COMMIT,
//     and only then return the access token. A crash before the commit leaves the old refresh
//     token stored, which Xero still honours within the grace window; a crash after it
//     leaves the new one stored.
//  5. On a network error or timeout (the response may be lost after Xero rotated), roll back
//     and return a transient error; the next attempt presents the same stored token, which
//     the grace window covers.
//  6. On invalid_grant, mark the connection auth_failed with last_error, commit, and return
//     *AuthError{Kind: InvalidGrant}. Only `xerosync connect` revives it.

// The queries over xerosync.connections (created by internal/migrate 0001). Times are
// parameters, not now(), so a test's clock and the database agree.
var (
	//go:embed sql/token_lock.sql
	lockSQL string
	//go:embed sql/token_store_refreshed.sql
	storeRefreshedSQL string
	//go:embed sql/token_mark_auth_failed.sql
	markAuthFailedSQL string
	//go:embed sql/token_save.sql
	saveSQL string
	//go:embed sql/token_get.sql
	getSQL string
	//go:embed sql/token_idle.sql
	idleSQL string
	//go:embed sql/token_disconnect.sql
	disconnectSQL string
)

// DB is what the token store needs of a pool: *pgxpool.Pool satisfies it. It begins its own
// transactions because the refresh lock must span the call to Xero.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Refresher presents a refresh token to the token endpoint; *Client implements it.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error)
}

// ConnState is xerosync.connections.state.
type ConnState string

const (
	StateConnected    ConnState = "connected"
	StateAuthFailed   ConnState = "auth_failed"
	StateDisconnected ConnState = "disconnected"
)

// TokenStoreConfig configures a TokenStore.
type TokenStoreConfig struct {
	DB  DB
	Key []byte // 32 bytes (AES-256); from token.key_file
	// KeyName says where Key came from ("token.key_file /etc/xerosync/token-key"): a token
	// that does not open is a configuration problem, and the message must say which setting
	// and file to fix.
	KeyName   string
	Refresher Refresher
	Now       func() time.Time
	Logger    *slog.Logger
	// RefreshMargin: an access token with less left than this is refreshed (default 60 s,
	// as xero-python does).
	RefreshMargin time.Duration
	// RefreshTimeout bounds one call to the token endpoint while the row lock is held
	// (default 30 s).
	RefreshTimeout time.Duration
}

// TokenStore persists token sets and refreshes them under a row lock. Safe for concurrent
// use, and across processes sharing the database.
type TokenStore struct {
	db        DB
	aead      cipher.AEAD
	refresher Refresher
	now       func() time.Time
	log       *slog.Logger
	keyName   string
	margin    time.Duration
	timeout   time.Duration

	// Test hooks for crash windows: an error from afterRefresh aborts before the new set is
	// stored; afterCommit runs after the commit, before the token is returned.
	afterRefresh func() error
	afterCommit  func()
}

// NewTokenStore checks cfg. It does no I/O.
func NewTokenStore(cfg TokenStoreConfig) (*TokenStore, error) {
	if cfg.DB == nil {
		return nil, errors.New("xero token store: DB is required")
	}
	aead, err := newAEAD(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("xero token store: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &TokenStore{
		db:        cfg.DB,
		aead:      aead,
		refresher: cfg.Refresher,
		now:       cfg.Now,
		log:       cfg.Logger,
		keyName:   cmp.Or(cfg.KeyName, "the configured token key (token.key_file)"),
		margin:    cmp.Or(cfg.RefreshMargin, 60*time.Second),
		timeout:   cmp.Or(cfg.RefreshTimeout, 30*time.Second),
	}, nil
}

// newAEAD is AES-256-GCM under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// StoredConnection is what the commands need of a connection row (no secrets): whether and
// to which organisation it is connected, and why not.
type StoredConnection struct {
	State            ConnState
	XeroTenantID     string
	XeroConnectionID string
	OrgName          string
	LastError        string
}

// ErrNoConnection: the tenant has no row in xerosync.connections.
var ErrNoConnection = errors.New("xero: tenant has no Xero connection")

// Save stores the token set of a new authorisation for tenantID (a Softbooq tenant id) and the
// organisation chosen from /connections, and marks the connection connected.
func (s *TokenStore) Save(ctx context.Context, tenantID string, conn xero.Connection, tok *oauth2.Token) error {
	if tok == nil || tok.RefreshToken == "" {
		return fmt.Errorf("save token for tenant %s: no refresh token (was offline_access requested?): %w", tenantID, xero.ErrInvalidRequest)
	}
	tenantID = canonicalID(tenantID)
	now := s.now()
	set := xero.TokenSetFrom(tok, now)
	sealed, err := s.seal(tenantID, set)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, saveSQL, tenantID, conn.TenantID, conn.ID, conn.TenantName, sealed, now, set.Expiry); err != nil {
		return fmt.Errorf("save token for tenant %s: %w", tenantID, err)
	}
	return nil
}

// Get returns the connection of tenantID without secrets, or ErrNoConnection.
func (s *TokenStore) Get(ctx context.Context, tenantID string) (StoredConnection, error) {
	var sc StoredConnection
	err := s.db.QueryRow(ctx, getSQL, canonicalID(tenantID)).
		Scan(&sc.State, &sc.XeroTenantID, &sc.XeroConnectionID, &sc.OrgName, &sc.LastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return StoredConnection{}, fmt.Errorf("tenant %s: %w", tenantID, ErrNoConnection)
	}
	if err != nil {
		return StoredConnection{}, fmt.Errorf("get connection of tenant %s: %w", tenantID, err)
	}
	return sc, nil
}

// Disconnect revokes the tenant's refresh token through revoke (normally Client.Revoke; nil
// skips it), then forgets the tokens and marks the connection disconnected, all under the
// row lock so no refresh races it. If revoke fails for any reason other than the token
// already being dead, nothing changes and the error is returned: a token we forgot but did
// not revoke would stay alive at Xero for 60 days. beforeCommit, if set, runs in the same
// transaction just before it commits, so a caller's statement commits with the disconnect.
func (s *TokenStore) Disconnect(ctx context.Context, tenantID string, revoke func(ctx context.Context, refreshToken string) error,
	beforeCommit func(ctx context.Context, tx pgx.Tx) error) error {
	tenantID = canonicalID(tenantID)
	tx, row, err := s.lockRow(ctx, tenantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("disconnect tenant %s: %w", tenantID, ErrNoConnection)
	}
	if err != nil {
		return fmt.Errorf("disconnect tenant %s: %w", tenantID, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if row.sealed != nil && revoke != nil {
		set, err := s.open(tenantID, row.sealed)
		if err != nil {
			return fmt.Errorf("disconnect tenant %s: %w", tenantID, s.keyError(tenantID, err))
		}
		if err := revoke(ctx, set.RefreshToken.Reveal()); err != nil {
			var auth *xero.AuthError
			// 400 invalid_grant/invalid token: already dead at Xero, which is the goal.
			if !errors.As(err, &auth) {
				return fmt.Errorf("disconnect tenant %s: revoke: %w", tenantID, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, disconnectSQL, tenantID, s.now()); err != nil {
		return fmt.Errorf("disconnect tenant %s: %w", tenantID, err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(ctx, tx); err != nil {
			return fmt.Errorf("disconnect tenant %s: %w", tenantID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("disconnect tenant %s: commit: %w", tenantID, err)
	}
	return nil
}

// RefreshIdle refreshes every connected tenant whose refresh token was obtained more than
// olderThan ago, so that Xero's 60-day expiry of unused refresh tokens never hits a quiet
// tenant (use ~45 days). It returns how many it refreshed and the errors joined; an
// invalid_grant marks that connection auth_failed like any refresh.
func (s *TokenStore) RefreshIdle(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := s.now().Add(-olderThan)
	rows, err := s.db.Query(ctx, idleSQL, cutoff)
	if err != nil {
		return 0, fmt.Errorf("list idle connections: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("list idle connections: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range ids {
		_, refreshed, err := s.refresh(ctx, id, refreshRequest{idleBefore: cutoff})
		if err != nil {
			errs = append(errs, err)
		}
		if refreshed {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// Source returns the TokenSource of tenantID (a Softbooq tenant id) for Client.Org. It
// returns the interface, not *StoredTokenSource, so that the dispatcher's small Tokens
// interface (declared in outbox, which does not import this package) is met as is.
func (s *TokenStore) Source(tenantID string) xero.TokenSource { return s.source(tenantID) }

func (s *TokenStore) source(tenantID string) *StoredTokenSource {
	return &StoredTokenSource{store: s, tenantID: canonicalID(tenantID)}
}

// MarkAuthFailed marks tenantID's connection auth_failed with reason as last_error, unless it
// is no longer the connected one (a reconnect or disconnect meanwhile wins). The dispatcher
// calls it when Xero refuses a tenant's token: an auth failure is a connection state, not a
// row failure (SPEC §3), and only `xerosync connect` (or a key fix) revives it. reason is
// stored as given: the caller bounds it.
func (s *TokenStore) MarkAuthFailed(ctx context.Context, tenantID, reason string) error {
	if _, err := s.db.Exec(ctx, markAuthFailedSQL, canonicalID(tenantID), reason, s.now()); err != nil {
		return fmt.Errorf("mark tenant %s auth_failed: %w", tenantID, err)
	}
	return nil
}

// StoredTokenSource is one tenant's TokenSource backed by the store. It caches the current
// access token in memory (an access token stays valid until it expires, whoever refreshed
// since), so the row lock is taken only near expiry or after a rejection.
type StoredTokenSource struct {
	store    *TokenStore
	tenantID string

	mu     sync.Mutex
	cached xero.Secret
	expiry time.Time
}

// AccessToken implements TokenSource.
func (ts *StoredTokenSource) AccessToken(ctx context.Context) (xero.Secret, error) {
	ts.mu.Lock()
	if !ts.cached.IsZero() && ts.expiry.Sub(ts.store.now()) > ts.store.margin {
		tok := ts.cached
		ts.mu.Unlock()
		return tok, nil
	}
	ts.mu.Unlock()
	return ts.fetch(ctx, refreshRequest{})
}

// RefreshRejected implements TokenSource.
func (ts *StoredTokenSource) RefreshRejected(ctx context.Context, rejected xero.Secret) (xero.Secret, error) {
	ts.mu.Lock()
	if ts.cached.Equal(rejected) {
		ts.cached = xero.Secret{}
	}
	ts.mu.Unlock()
	return ts.fetch(ctx, refreshRequest{rejected: rejected})
}

func (ts *StoredTokenSource) fetch(ctx context.Context, req refreshRequest) (xero.Secret, error) {
	set, _, err := ts.store.refresh(ctx, ts.tenantID, req)
	if err != nil {
		return xero.Secret{}, err
	}
	ts.mu.Lock()
	ts.cached, ts.expiry = set.AccessToken, set.Expiry
	ts.mu.Unlock()
	return set.AccessToken, nil
}

// refreshRequest says why we look at the row.
type refreshRequest struct {
	rejected   xero.Secret // Xero rejected this access token: refresh unless the row already moved on
	idleBefore time.Time   // RefreshIdle: refresh if the refresh token was obtained before this
}

// lockedRow is what the refresh lock reads of a connection row.
type lockedRow struct {
	state    ConnState
	sealed   []byte     // nil when the row holds no token
	obtained *time.Time // refresh_obtained_at
}

// lockRow begins a transaction and takes tenantID's row lock (token_lock.sql); no row is
// pgx.ErrNoRows. The caller defers the rollback, which is a no-op after a commit.
func (s *TokenStore) lockRow(ctx context.Context, tenantID string) (pgx.Tx, lockedRow, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, lockedRow{}, fmt.Errorf("begin: %w", err)
	}
	var row lockedRow
	if err := tx.QueryRow(ctx, lockSQL, tenantID).Scan(&row.state, &row.sealed, &row.obtained); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, lockedRow{}, fmt.Errorf("lock: %w", err)
	}
	return tx, row, nil
}

// refresh is the refresh protocol described at the top of this file: it returns the usable
// token set of tenantID, refreshed first if req calls for it, and reports whether it refreshed.
func (s *TokenStore) refresh(ctx context.Context, tenantID string, req refreshRequest) (set xero.TokenSet, refreshed bool, err error) {
	tx, row, err := s.lockRow(ctx, tenantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return xero.TokenSet{}, false, &xero.AuthError{Kind: xero.NotConnected, Detail: "tenant " + tenantID + " has no Xero connection"}
	}
	if err != nil {
		return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: %w", tenantID, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if row.state != StateConnected || row.sealed == nil {
		return xero.TokenSet{}, false, &xero.AuthError{Kind: xero.NotConnected, Detail: "tenant " + tenantID + " connection is " + string(row.state)}
	}
	now := s.now()
	cur, err := s.open(tenantID, row.sealed)
	if err != nil {
		// Not transient: retrying with the same key can never open it (issue 10). The
		// connection needs an operator, so it is a connection state like invalid_grant, and
		// the message names the key setting and file to fix.
		kerr := s.keyError(tenantID, err)
		if _, uerr := tx.Exec(ctx, markAuthFailedSQL, tenantID, xero.OneLine(kerr.Detail, 500), now); uerr != nil {
			return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: mark auth_failed: %w (after %w)", tenantID, uerr, kerr)
		}
		if cerr := tx.Commit(ctx); cerr != nil {
			return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: mark auth_failed: commit: %w (after %w)", tenantID, cerr, kerr)
		}
		s.log.LogAttrs(ctx, slog.LevelError, "xero tokens do not open with the token key", slog.String("tenant_id", tenantID), slog.String("key", s.keyName))
		return xero.TokenSet{}, false, kerr
	}
	fresh := cur.Expiry.Sub(now) > s.margin
	need := !fresh
	switch {
	case !req.rejected.IsZero():
		// Refresh only if the row still holds the rejected token; if another caller already
		// replaced it, the replacement is what we want.
		need = need || cur.AccessToken.Equal(req.rejected)
	case !req.idleBefore.IsZero():
		need = row.obtained == nil || row.obtained.Before(req.idleBefore)
	}
	if !need {
		return cur, false, tx.Commit(ctx)
	}
	if s.refresher == nil {
		return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: expired and no Refresher configured: %w", tenantID, xero.ErrInvalidRequest)
	}

	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	tok, err := s.refresher.Refresh(rctx, cur.RefreshToken.Reveal())
	cancel()
	if err != nil {
		var auth *xero.AuthError
		if errors.As(err, &auth) && auth.Kind == xero.InvalidGrant {
			msg := "refresh token rejected (invalid_grant): " + auth.Detail + "; run xerosync connect again"
			if _, uerr := tx.Exec(ctx, markAuthFailedSQL, tenantID, xero.OneLine(msg, 500), now); uerr != nil {
				return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: mark auth_failed: %w (after %w)", tenantID, uerr, err)
			}
			if cerr := tx.Commit(ctx); cerr != nil {
				return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: mark auth_failed: commit: %w (after %w)", tenantID, cerr, err)
			}
			s.log.LogAttrs(ctx, slog.LevelWarn, "xero connection auth failed", slog.String("tenant_id", tenantID), slog.String("reason", auth.Detail))
			return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: %w", tenantID, err)
		}
		// Lost response, timeout, 5xx: nothing stored, the same refresh token is presented
		// next time, within Xero's 30-minute grace.
		return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: refresh: %w", tenantID, err)
	}
	if s.afterRefresh != nil {
		if err := s.afterRefresh(); err != nil {
			return xero.TokenSet{}, false, err
		}
	}
	next := xero.TokenSetFrom(tok, now)
	if next.RefreshToken.IsZero() {
		next.RefreshToken = cur.RefreshToken // oauth2 does this too; Xero always rotates
	}
	newSealed, err := s.seal(tenantID, next)
	if err != nil {
		return xero.TokenSet{}, false, err
	}
	if _, err := tx.Exec(ctx, storeRefreshedSQL, tenantID, newSealed, now, next.Expiry); err != nil {
		return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: store refreshed token: %w", tenantID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		// Possibly not durable: do not use the new token. If the commit did not happen, the
		// old refresh token is still stored and within grace; if it did, the next read sees it.
		return xero.TokenSet{}, false, fmt.Errorf("token of tenant %s: commit refreshed token: %w", tenantID, err)
	}
	if s.afterCommit != nil {
		s.afterCommit()
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "xero token refreshed", slog.String("tenant_id", tenantID), slog.Time("access_expires_at", next.Expiry))
	return next, true, nil
}

// sealVersion prefixes every sealed token so the format (or key) can change later.
const sealVersion = 1

// sealedToken is the plaintext inside the seal.
type sealedToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"`
	Scope        string    `json:"scope,omitempty"`
}

// additionalData binds a sealed token to its row: a token copied into another tenant's row
// does not open.
func additionalData(tenantID string) []byte {
	return []byte("xerosync.connections.token_sealed:v1:" + tenantID)
}

func (s *TokenStore) seal(tenantID string, t xero.TokenSet) ([]byte, error) {
	plain, err := json.Marshal(sealedToken{
		AccessToken: t.AccessToken.Reveal(), RefreshToken: t.RefreshToken.Reveal(),
		TokenType: t.TokenType, Expiry: t.Expiry, Scope: t.Scope,
	})
	if err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	defer clear(plain)
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go ≥ 1.24)
	out := make([]byte, 0, 1+len(nonce)+len(plain)+s.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plain, additionalData(tenantID)), nil
}

// ErrTokenKey: a sealed token set does not open. It is deliberately vague: the cause is a
// wrong key (token.key_file changed) or a tampered or moved row, which cannot be told apart.
var ErrTokenKey = errors.New("sealed token does not open (wrong token key, or row tampered with or copied from another tenant)")

func (s *TokenStore) open(tenantID string, sealed []byte) (xero.TokenSet, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return xero.TokenSet{}, fmt.Errorf("token of tenant %s: %w", tenantID, ErrTokenKey)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], additionalData(tenantID))
	if err != nil {
		return xero.TokenSet{}, fmt.Errorf("token of tenant %s: %w", tenantID, ErrTokenKey)
	}
	defer clear(plain)
	var st sealedToken
	if err := json.Unmarshal(plain, &st); err != nil {
		return xero.TokenSet{}, fmt.Errorf("token of tenant %s: %w", tenantID, ErrTokenKey)
	}
	return xero.TokenSet{
		AccessToken: xero.NewSecret(st.AccessToken), RefreshToken: xero.NewSecret(st.RefreshToken),
		TokenType: st.TokenType, Expiry: st.Expiry, Scope: st.Scope,
	}, nil
}

// canonicalID lower-cases a UUID so the additional data matches Postgres's text form.
func canonicalID(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// redacted is what every secret prints as.
const redacted = secret.Redacted

// The store types hold secrets in unexported fields (a cached access token, the AEAD key
// schedule) that fmt's reflection would print; these Format methods stop that.

// Format prints only the tenant.
func (ts *StoredTokenSource) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "StoredTokenSource{tenant:%s token:%s}", ts.tenantID, redacted)
}

// Format prints nothing of the key.
func (s *TokenStore) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "TokenStore{key:"+redacted+"}")
}
