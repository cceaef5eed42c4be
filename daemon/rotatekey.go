package daemon

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/internal/tenant"
)

// rotateKeyFlags is `xerosync rotate-key --new FILE` (SPEC §4): every stored token set is
// re-sealed under the new key in one transaction, or, if any does not open under the current
// key, nothing changes. It needs the database and both keys, not the Xero app: no call is
// made to Xero.
func rotateKeyFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	newFile := fs.String("new", "", "the `FILE` holding the new token key: 32 random bytes, raw or base64, as token.key_file")
	return func(ctx context.Context) error {
		if *newFile == "" {
			return usagef("rotate-key", "rotate-key: --new FILE is required (make one with: head -c 32 /dev/urandom | base64 > FILE)")
		}
		cfg, log, err := inv.setup()
		if err != nil {
			return err
		}
		current, err := cfg.TokenKey()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(*newFile)
		if err != nil {
			return usagef("rotate-key", "rotate-key: --new: %v", err)
		}
		next, err := config.ParseTokenKey(data)
		clear(data)
		if err != nil {
			return usagef("rotate-key", "rotate-key: --new %s: %v", *newFile, err)
		}
		if bytes.Equal(next, current) {
			return usagef("rotate-key", "rotate-key: --new %s holds the current key (%s); nothing to do", *newFile, tokenKeyName(cfg))
		}
		pool, err := openPool(ctx, cfg)
		if err != nil {
			return err
		}
		defer pool.Close()
		store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: pool, Key: current, KeyName: tokenKeyName(cfg), Logger: log})
		if err != nil {
			return fmt.Errorf("token store: %w", err)
		}
		res, err := store.Reseal(ctx, next)
		if errors.Is(err, tenant.ErrTokenKey) {
			return fmt.Errorf("rotate-key: %w; run it with token.key_file set to the key the tokens are sealed with now", err)
		}
		if err != nil {
			return fmt.Errorf("rotate-key: %w; nothing was changed", err)
		}
		log.Info("token key rotated", "token_sets", res.TokenSets, "connections", res.Connections, "new_key_file", *newFile)
		out := inv.p.Stdout
		fmt.Fprintf(out, "re-sealed %d token sets of %d connections under the key in %s; the old key (%s) opens none of them now\n",
			res.TokenSets, res.Connections, *newFile, cfg.Token.KeyFile)
		fmt.Fprintf(out, "now point token.key_file at %s (under systemd: put it where LoadCredential=token-key: reads, e.g. /etc/xerosync/token-key) "+
			"and start xerosync again (systemctl start xerosync, or restart it if it was left running: a running daemon cannot open "+
			"a token set it has to refresh and marks that tenant auth_failed, which the restart with the new key undoes)\n", *newFile)
		return nil
	}
}
