package tenant

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/xero"
)

// The token key (token.key_file) is configuration: a daemon restarted with another key cannot
// open any stored token set, and retrying can never fix that. So the key is checked before a
// daemon leads (VerifyKey), a token set that does not open while running marks its connection
// auth_failed with a message naming the key (refresh), and a key is changed only by
// re-sealing every token set under the new one in one transaction (Reseal).

var (
	//go:embed sql/token_key_list.sql
	keyListSQL string
	//go:embed sql/token_key_mark.sql
	keyMarkSQL string
	//go:embed sql/token_key_restore.sql
	keyRestoreSQL string
	//go:embed sql/token_reseal_lock.sql
	resealLockSQL string
	//go:embed sql/token_reseal_list.sql
	resealListSQL string
	//go:embed sql/token_reseal_store.sql
	resealStoreSQL string
)

// keyFailurePrefix starts every last_error written because a token set did not open, so that
// VerifyKey can tell those connections (which the right key revives) from ones Xero refused
// (which only `xerosync connect` revives).
const keyFailurePrefix = "token key: "

// keyMessage is the last_error of a connection whose token set does not open: it names the
// setting and the file, and both ways out.
func (s *TokenStore) keyMessage(tenantID string) string {
	return keyFailurePrefix + "the stored Xero tokens do not open with " + s.keyName +
		" (the key was changed, or the row altered); point token.key_file at the key they were sealed with and restart xerosync, " +
		"or run xerosync connect --tenant " + tenantID + " again"
}

// keyError is the error of a token set that does not open: an auth problem (Classify says
// ClassAuth, so the tenant's rows wait instead of retrying for ever) that wraps ErrTokenKey.
func (s *TokenStore) keyError(tenantID string, err error) *xero.AuthError {
	return &xero.AuthError{Kind: xero.TokenKey, Detail: s.keyMessage(tenantID), Err: err}
}

// KeyError: the key opens none of the stored token sets, so it is not the key they were
// sealed with; nothing was changed. A configuration error.
type KeyError struct {
	KeyName string // as TokenStoreConfig.KeyName
	Sets    int    // token sets tried
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s opens none of the %d stored Xero token sets: it is not the key they were sealed with", e.KeyName, e.Sets)
}

// Unwrap makes errors.Is(err, ErrTokenKey) true.
func (e *KeyError) Unwrap() error { return ErrTokenKey }

// KeyReport is what CheckKey or VerifyKey found.
type KeyReport struct {
	// Checked is how many connected or auth_failed connections hold a token set.
	Checked int
	// Failed lists the tenants whose token set does not open with the key.
	Failed []string
	// Marked lists the tenants of Failed that VerifyKey marked auth_failed (the others were
	// auth_failed already).
	Marked []string
	// Restored lists the tenants that an earlier key had marked auth_failed and whose token
	// set opens now: VerifyKey connected them again.
	Restored []string
}

// keyRow is one connection's token set as the key check reads it.
type keyRow struct {
	tenant    string
	state     ConnState
	sealed    []byte
	lastError string
	opens     bool
}

// CheckKey tries to open the token set of every connected or auth_failed connection, and
// changes nothing. If there is at least one and none opens, it returns a *KeyError.
func (s *TokenStore) CheckKey(ctx context.Context) (KeyReport, error) {
	_, rep, err := s.checkKey(ctx)
	return rep, err
}

func (s *TokenStore) checkKey(ctx context.Context) ([]keyRow, KeyReport, error) {
	rows, err := s.db.Query(ctx, keyListSQL)
	if err != nil {
		return nil, KeyReport{}, fmt.Errorf("check token key: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (keyRow, error) {
		var k keyRow
		err := r.Scan(&k.tenant, &k.state, &k.sealed, &k.lastError)
		return k, err
	})
	if err != nil {
		return nil, KeyReport{}, fmt.Errorf("check token key: %w", err)
	}
	rep := KeyReport{Checked: len(list)}
	for i := range list {
		_, err := s.open(list[i].tenant, list[i].sealed)
		list[i].opens = err == nil
		if !list[i].opens {
			rep.Failed = append(rep.Failed, list[i].tenant)
		}
	}
	if rep.Checked > 0 && len(rep.Failed) == rep.Checked {
		return list, rep, &KeyError{KeyName: s.keyName, Sets: rep.Checked}
	}
	return list, rep, nil
}

// VerifyKey is CheckKey for a daemon about to lead. When the key opens none of the token
// sets it changes nothing and returns the *KeyError: the configuration is wrong as a whole,
// and a restart with the right key must find everything as it was. Otherwise it marks each
// connected tenant whose token set does not open auth_failed, with a last_error that names
// the key, and connects again each tenant an earlier key had marked whose token set opens now.
func (s *TokenStore) VerifyKey(ctx context.Context) (KeyReport, error) {
	list, rep, err := s.checkKey(ctx)
	if err != nil {
		return rep, err
	}
	now := s.now()
	for _, k := range list {
		switch {
		case !k.opens && k.state == StateConnected:
			tag, err := s.db.Exec(ctx, keyMarkSQL, k.tenant, xero.OneLine(s.keyMessage(k.tenant), 500), now, k.sealed)
			if err != nil {
				return rep, fmt.Errorf("check token key: mark tenant %s auth_failed: %w", k.tenant, err)
			}
			if tag.RowsAffected() > 0 {
				rep.Marked = append(rep.Marked, k.tenant)
			}
		case k.opens && k.state == StateAuthFailed && strings.HasPrefix(k.lastError, keyFailurePrefix):
			tag, err := s.db.Exec(ctx, keyRestoreSQL, k.tenant, now, k.sealed, keyFailurePrefix)
			if err != nil {
				return rep, fmt.Errorf("check token key: reconnect tenant %s: %w", k.tenant, err)
			}
			if tag.RowsAffected() > 0 {
				rep.Restored = append(rep.Restored, k.tenant)
			}
		}
	}
	return rep, nil
}

// ResealResult is what Reseal did.
type ResealResult struct {
	Connections int // connections whose token sets were re-sealed
	TokenSets   int // token sets re-sealed (current and previous)
}

// Reseal re-seals every stored token set (current and previous, of every connection) under
// newKey, in one transaction that holds back refreshes and connects until it commits. If
// any token set does not open with the store's key, it changes nothing and returns an error
// that wraps ErrTokenKey and names the tenants. The store keeps its old key: the caller
// points token.key_file at the new one and restarts what uses it.
func (s *TokenStore) Reseal(ctx context.Context, newKey []byte) (ResealResult, error) {
	aead, err := newAEAD(newKey)
	if err != nil {
		return ResealResult{}, fmt.Errorf("re-seal tokens: new key: %w", err)
	}
	next := &TokenStore{aead: aead}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return ResealResult{}, fmt.Errorf("re-seal tokens: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, resealLockSQL); err != nil {
		return ResealResult{}, fmt.Errorf("re-seal tokens: lock xerosync.connections: %w", err)
	}
	type sealedRow struct {
		tenant            string
		current, previous []byte
	}
	rows, err := tx.Query(ctx, resealListSQL)
	if err != nil {
		return ResealResult{}, fmt.Errorf("re-seal tokens: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedRow, error) {
		var sr sealedRow
		err := r.Scan(&sr.tenant, &sr.current, &sr.previous)
		return sr, err
	})
	if err != nil {
		return ResealResult{}, fmt.Errorf("re-seal tokens: %w", err)
	}
	// Open everything before writing anything, so that a refusal names every tenant at once.
	var res ResealResult
	var broken []string
	resealed := make([][2][]byte, len(list))
	for i, sr := range list {
		for j, sealed := range [][]byte{sr.current, sr.previous} {
			if sealed == nil {
				continue
			}
			set, err := s.open(sr.tenant, sealed)
			if err != nil {
				if len(broken) == 0 || broken[len(broken)-1] != sr.tenant {
					broken = append(broken, sr.tenant)
				}
				continue
			}
			if resealed[i][j], err = next.seal(sr.tenant, set); err != nil {
				return ResealResult{}, fmt.Errorf("re-seal tokens: %w", err)
			}
			res.TokenSets++
		}
	}
	if len(broken) > 0 {
		return ResealResult{}, fmt.Errorf("re-seal tokens: the token sets of tenant %s do not open with %s, so it is not the current key; nothing was changed: %w",
			strings.Join(broken, ", "), s.keyName, ErrTokenKey)
	}
	now := s.now()
	for i, sr := range list {
		if _, err := tx.Exec(ctx, resealStoreSQL, sr.tenant, resealed[i][0], resealed[i][1], now); err != nil {
			return ResealResult{}, fmt.Errorf("re-seal tokens: store tenant %s: %w", sr.tenant, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return ResealResult{}, fmt.Errorf("re-seal tokens: commit: %w", err)
	}
	res.Connections = len(list)
	return res, nil
}
