package tenant

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

// storeWithKey is a store over the same database under another key, named as the daemon
// names token.key_file.
func (s *storeSetup) storeWithKey(t *testing.T, key []byte, name string) *TokenStore {
	t.Helper()
	st, err := NewTokenStore(TokenStoreConfig{DB: s.db.Pool, Key: key, KeyName: name, Refresher: s.client, Now: s.clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// sealedColumns reads a row's sealed token sets, to show that something did not change.
func (s *storeSetup) sealedColumns(t *testing.T, tenant string) [2][]byte {
	t.Helper()
	var c [2][]byte
	if err := s.db.Pool.QueryRow(context.Background(), "SELECT token_sealed, previous_token_sealed FROM xerosync.connections WHERE tenant_id = $1", tenant).
		Scan(&c[0], &c[1]); err != nil {
		t.Fatal(err)
	}
	return c
}

// A token set that does not open while running is an auth problem that names the key, and
// marks the connection auth_failed: never a transient error retried for ever (issue 10).
func TestTokenKeyWrongWhileRunning(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	wrong := s.storeWithKey(t, newKey(), "token.key_file /etc/xerosync/new-key")
	_, err := wrong.Source(s.tenant).AccessToken(ctx)
	var auth *xero.AuthError
	if xero.Classify(err) != xero.ClassAuth || !errors.As(err, &auth) || auth.Kind != xero.TokenKey || !errors.Is(err, ErrTokenKey) {
		t.Fatalf("AccessToken with another key = %v (class %s), want an auth error of kind TokenKey", err, xero.Classify(err))
	}
	sc, _ := s.store.Get(ctx, s.tenant)
	if sc.State != StateAuthFailed || !strings.Contains(sc.LastError, "token.key_file /etc/xerosync/new-key") {
		t.Fatalf("connection after a token that does not open = %+v", sc)
	}
	if len(s.idp.presented()) != 0 {
		t.Error("a refresh was attempted")
	}
}

// VerifyKey: a key that opens nothing changes nothing; one that opens some marks the others
// auth_failed, naming the key; the right key later connects them again.
func TestTokenKeyVerify(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	other := s.addTenant(t, "Other")
	// Other's token set is sealed under key2, Acme's under s.key.
	key2 := newKey()
	st2 := s.storeWithKey(t, key2, "token.key_file /keys/two")
	conn := xero.Connection{ID: "0d4e3a0c-8f0e-4d55-9a3c-2d6f1e0b9c47", TenantID: other, TenantName: "Other Ltd"}
	if err := st2.Save(ctx, other, conn, s.idp.issue()); err != nil {
		t.Fatal(err)
	}

	// A third key opens neither: a *KeyError naming it, and nothing changed.
	none := s.storeWithKey(t, newKey(), "token.key_file /keys/three")
	rep, err := none.VerifyKey(ctx)
	var kerr *KeyError
	if !errors.As(err, &kerr) || !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "token.key_file /keys/three") || rep.Checked != 2 {
		t.Fatalf("VerifyKey with a key that opens nothing = %+v, %v", rep, err)
	}
	for _, tenant := range []string{s.tenant, other} {
		if sc, _ := s.store.Get(ctx, tenant); sc.State != StateConnected {
			t.Fatalf("tenant %s after a refused key: %+v", tenant, sc)
		}
	}

	// s.key opens Acme's only: Other is marked, with a message naming the key.
	one := s.storeWithKey(t, s.key, "token.key_file /keys/one")
	rep, err = one.VerifyKey(ctx)
	if err != nil || rep.Checked != 2 || !slices.Equal(rep.Failed, []string{other}) || !slices.Equal(rep.Marked, []string{other}) {
		t.Fatalf("VerifyKey with a key that opens one = %+v, %v", rep, err)
	}
	if sc, _ := s.store.Get(ctx, other); sc.State != StateAuthFailed || !strings.Contains(sc.LastError, "token.key_file /keys/one") {
		t.Fatalf("tenant whose tokens do not open: %+v", sc)
	}
	if sc, _ := s.store.Get(ctx, s.tenant); sc.State != StateConnected {
		t.Fatalf("tenant whose tokens open: %+v", sc)
	}
	// CheckKey only reads.
	if rep, err := one.CheckKey(ctx); err != nil || rep.Marked != nil || !slices.Equal(rep.Failed, []string{other}) {
		t.Fatalf("CheckKey = %+v, %v", rep, err)
	}

	// key2 opens Other's: Other is connected again (its tokens were never refused by
	// Xero), and Acme is marked in turn.
	rep, err = st2.VerifyKey(ctx)
	if err != nil || !slices.Equal(rep.Restored, []string{other}) || !slices.Equal(rep.Marked, []string{s.tenant}) {
		t.Fatalf("VerifyKey with key2 = %+v, %v", rep, err)
	}
	if sc, _ := s.store.Get(ctx, other); sc.State != StateConnected || sc.LastError != "" {
		t.Fatalf("tenant restored: %+v", sc)
	}
	// A connection Xero refused stays auth_failed whatever the key.
	s.db.Exec(t, "UPDATE xerosync.connections SET last_error = 'refresh token rejected (invalid_grant)' WHERE tenant_id = $1", s.tenant)
	if rep, err := one.VerifyKey(ctx); err != nil || len(rep.Restored) != 0 {
		t.Fatalf("VerifyKey restored a refused connection: %+v, %v", rep, err)
	}
}

// Reseal: every token set opens under the new key and no longer under the old; with a key
// that is not the current one, nothing changes.
func TestTokenKeyReseal(t *testing.T) {
	t.Parallel()
	s := newStoreSetup(t)
	ctx := context.Background()
	other := s.addTenant(t, "Other")
	// A previous token set too: Reseal covers both columns.
	s.db.Exec(t, "UPDATE xerosync.connections SET previous_token_sealed = token_sealed WHERE tenant_id = $1", other)
	before := map[string][2][]byte{s.tenant: s.sealedColumns(t, s.tenant), other: s.sealedColumns(t, other)}

	wrong := s.storeWithKey(t, newKey(), "token.key_file /keys/wrong")
	if _, err := wrong.Reseal(ctx, newKey()); !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), other) {
		t.Fatalf("Reseal under a key that is not the current one = %v", err)
	}
	for tenant, cols := range before {
		if got := s.sealedColumns(t, tenant); !bytes.Equal(got[0], cols[0]) || !bytes.Equal(got[1], cols[1]) {
			t.Fatalf("tenant %s changed by a refused Reseal", tenant)
		}
	}

	next := newKey()
	res, err := s.store.Reseal(ctx, next)
	if err != nil || res.Connections != 2 || res.TokenSets != 3 {
		t.Fatalf("Reseal = %+v, %v", res, err)
	}
	nextStore := s.storeWithKey(t, next, "token.key_file /keys/next")
	for _, tenant := range []string{s.tenant, other} {
		cols := s.sealedColumns(t, tenant)
		for _, sealed := range cols {
			if sealed == nil {
				continue
			}
			if _, err := nextStore.open(tenant, sealed); err != nil {
				t.Errorf("tenant %s: a re-sealed token set does not open under the new key: %v", tenant, err)
			}
			if _, err := s.store.open(tenant, sealed); err == nil {
				t.Errorf("tenant %s: a re-sealed token set still opens under the old key", tenant)
			}
		}
		if cols[1] == nil && tenant == other {
			t.Error("the previous token set was dropped")
		}
	}
	if tok, err := nextStore.Source(s.tenant).AccessToken(ctx); err != nil || tok.Reveal() != "at-1" {
		t.Fatalf("AccessToken under the new key = %v", err)
	}
}
