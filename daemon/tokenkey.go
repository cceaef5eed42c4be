package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/tenant"
)

// The token key (token.key_file) is configuration like any other: a daemon restarted with
// another key used to open no stored token set, class the failure transient and retry every
// push for ever, with /healthz ok (issue 10). These checks turn it into a configuration error
// (exit 2, naming the key file) when the key opens nothing, and into auth_failed connections
// with a message naming the key when it opens only some.

// tokenKeyName names the key in the token store's messages: the setting and the file.
func tokenKeyName(cfg *config.Config) string {
	return "token.key_file " + cfg.Token.KeyFile
}

// keyOpensNothing is the configuration error of a key that opens none of the stored token
// sets: nothing is changed, so a restart with the right key finds everything as it was.
func keyOpensNothing(cfg *config.Config, sets int) error {
	return &config.Errors{{Key: "token.key_file", Msg: fmt.Sprintf(
		"%s opens none of the %d stored Xero token sets: it is not the key they were sealed with (was the file replaced?); "+
			"point token.key_file at that key, or, if it is lost, run xerosync connect --tenant ID for each tenant",
		cfg.Token.KeyFile, sets)}}
}

// checkTokenKey is the daemon's check at start, standby or not: a key that opens none of the
// stored token sets is a configuration error, before anything runs. It only reads: a standby
// must not change the connections of tenants the leader serves. Without a Xero app nothing is
// delivered and no token is opened, so there is nothing to check.
func (r *runner) checkTokenKey(ctx context.Context) error {
	key, err := xeroApp(r.cfg)
	if err != nil {
		return nil
	}
	store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: r.pool, Key: key, KeyName: tokenKeyName(r.cfg), Logger: r.log})
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	_, err = store.CheckKey(ctx)
	return keyErr(r.cfg, err)
}

// keyErr turns a key that opens nothing into the configuration error that names it.
func keyErr(cfg *config.Config, err error) error {
	if kerr := (*tenant.KeyError)(nil); errors.As(err, &kerr) {
		return keyOpensNothing(cfg, kerr.Sets)
	}
	return err
}

// verifyTokenKey is the leader's check, on taking the lead (at start, and at a takeover that
// may come after a rotate-key): the key must open the stored token sets. None: a
// configuration error that ends the daemon. Some: the others are marked auth_failed by the
// token store (so /healthz is degraded and their rows wait), and said in the log.
func (r *runner) verifyTokenKey(ctx context.Context, store *tenant.TokenStore) error {
	rep, err := store.VerifyKey(ctx)
	if err != nil {
		return keyErr(r.cfg, err)
	}
	if len(rep.Failed) > 0 {
		r.log.Error("stored xero tokens do not open with token.key_file: these tenants are auth_failed and push nothing",
			"key_file", r.cfg.Token.KeyFile, "tenant_ids", strings.Join(rep.Failed, ","), "opened", rep.Checked-len(rep.Failed),
			"fix", "point token.key_file at the key they were sealed with and restart, or run xerosync connect --tenant ID for each")
	}
	if len(rep.Restored) > 0 {
		r.log.Info("stored xero tokens open with token.key_file again: tenants connected again",
			"key_file", r.cfg.Token.KeyFile, "tenant_ids", strings.Join(rep.Restored, ","))
	}
	return nil
}

// checkTenantKey is the key check of a command that uses one tenant's tokens (backfill,
// check, disconnect). It only reads: a command started with a mistyped key file must not
// mark tenants that a running daemon, with the right key, is serving.
func (s *xeroSession) checkTenantKey(ctx context.Context, cmd, tenant string) error {
	rep, err := s.store.CheckKey(ctx)
	if err != nil {
		if kerr := keyErr(s.cfg, err); kerr != err {
			return kerr
		}
		return fmt.Errorf("%s: %w", cmd, err)
	}
	for _, failed := range rep.Failed {
		if strings.EqualFold(failed, tenant) {
			return &config.Errors{{Key: "token.key_file", Msg: fmt.Sprintf(
				"%s does not open the stored Xero tokens of tenant %s: it is not the key they were sealed with; "+
					"point token.key_file at that key, or run xerosync connect --tenant %s again",
				s.cfg.Token.KeyFile, tenant, tenant)}}
		}
	}
	if len(rep.Failed) > 0 {
		s.log.Warn("stored xero tokens of other tenants do not open with token.key_file",
			"key_file", s.cfg.Token.KeyFile, "tenant_ids", strings.Join(rep.Failed, ","))
	}
	return nil
}
