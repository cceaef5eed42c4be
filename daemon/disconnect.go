package daemon

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/disconnect_window.sql
	disconnectWindowSQL string
	//go:embed sql/tenant_unfinished.sql
	tenantUnfinishedSQL string
)

func disconnectFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	tenant := tenantFlag(fs)
	return func(ctx context.Context) error {
		if err := checkTenant("disconnect", tenant, true); err != nil {
			return err
		}
		return runDisconnect(ctx, inv, *tenant)
	}
}

// runDisconnect removes the tenant's Xero connection, revokes its tokens and closes its
// capture window, in that order: the connection is removed with the tokens while they
// still work, and the tokens are forgotten only once Xero has revoked them (a token we
// forgot but did not revoke would stay alive at Xero for 60 days). Rows already queued are
// left as they are (SPEC §1): they wait for a reconnect or an operator's cancel.
func runDisconnect(ctx context.Context, inv *invocation, tenantID string) error {
	s, err := openXero(ctx, inv)
	if err != nil {
		return err
	}
	defer s.close()
	out := inv.p.Stdout

	sc, err := s.store.Get(ctx, tenantID)
	switch {
	case errors.Is(err, tenant.ErrNoConnection):
		return fmt.Errorf("disconnect: tenant %s has never been connected to Xero; nothing to do", tenantID)
	case err != nil:
		return fmt.Errorf("disconnect: %w", err)
	case sc.State == tenant.StateDisconnected:
		fmt.Fprintf(out, "tenant %s is already disconnected from Xero; nothing changed\n", tenantID)
		return nil
	}
	if err := s.checkTenantKey(ctx, "disconnect", tenantID); err != nil {
		return err
	}

	revoke := s.client.Revoke
	if sc.State == tenant.StateConnected && sc.XeroConnectionID != "" {
		tokens := s.store.Source(tenantID)
		err := s.client.DeleteConnection(ctx, tokens, xero.DeleteConnectionParams{
			ConnectionID: sc.XeroConnectionID, IdempotencyKey: "xerosync-disconnect-" + sc.XeroConnectionID,
		})
		var auth *xero.AuthError
		switch {
		case err == nil, errors.Is(err, xero.ErrNotFound):
			fmt.Fprintf(out, "removed the Xero connection to %q\n", sc.OrgName)
			if others, lerr := s.sharedGrant(ctx, tokens, tenantID); lerr == nil && len(others) > 0 {
				// Xero's revocation removes every connection of the Xero user to the app, and
				// the same user authorised organisations other tenants use: revoking would cut
				// them off. Forget this tenant's tokens instead; unused, they expire in 60 days.
				revoke = nil
				fmt.Fprintf(out, "not revoking the tokens: the same Xero user also authorised %s, which Xero's revocation would disconnect too; "+
					"the tokens are forgotten here and expire at Xero after 60 days unused\n", strings.Join(others, ", "))
			}
		case errors.As(err, &auth):
			// The tokens no longer work (revoked in Xero, expired): the connection can only
			// be removed in Xero itself, and the revocation below is a formality.
			fmt.Fprintf(out, "could not remove the Xero connection to %q (%s); remove xerosync under Settings → Connected apps in Xero\n", sc.OrgName, auth.Kind)
		default:
			return fmt.Errorf("disconnect: remove the Xero connection to %q: %w; nothing changed, try again", sc.OrgName, err)
		}
	} else if sc.State == tenant.StateAuthFailed {
		fmt.Fprintf(out, "the tenant's tokens no longer work, so the Xero connection to %q cannot be removed from here; "+
			"remove xerosync under Settings → Connected apps in Xero\n", cmp.Or(sc.OrgName, "its organisation"))
	}

	// The window closes in the token store's own transaction, so the state and the window
	// change together: capture never sees a disconnected tenant with an open window.
	closeWindow := func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, disconnectWindowSQL, tenantID); err != nil {
			return fmt.Errorf("close the capture window: %w", err)
		}
		return nil
	}
	if err := s.store.Disconnect(ctx, tenantID, revoke, closeWindow); err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	var unfinished int64
	if err := s.pool.QueryRow(ctx, tenantUnfinishedSQL, tenantID).Scan(&unfinished); err != nil {
		unfinished = -1
	}
	s.log.Info("tenant disconnected from xero", "tenant_id", tenantID, "xero_tenant_id", sc.XeroTenantID)
	fmt.Fprintf(out, "tenant %s is disconnected from Xero: nothing new is queued for it", tenantID)
	if revoke != nil {
		fmt.Fprint(out, ", and its tokens are revoked")
	}
	fmt.Fprintln(out)
	if unfinished > 0 {
		fmt.Fprintf(out, "%d queued rows wait untouched until the tenant is connected again (xerosync connect --tenant %s), "+
			"or until an operator cancels them (UPDATE xerosync.outbox SET cancel_requested = true WHERE tenant_id = '%s' AND state IN ('pending', 'failed'))\n",
			unfinished, tenantID, tenantID)
	}
	return nil
}

// sharedGrant lists the organisations the tenant's Xero user has connected to the app that
// other Softbooq tenants use ("name (tenant ID)").
func (s *xeroSession) sharedGrant(ctx context.Context, tokens xero.TokenSource, tenantID string) ([]string, error) {
	conns, err := s.client.Connections(ctx, tokens, xero.ConnectionsParams{})
	if err != nil {
		return nil, err
	}
	linked, err := linkedOrgs(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range conns {
		if other, ok := linked[strings.ToLower(c.TenantID)]; ok && other != tenantID {
			out = append(out, fmt.Sprintf("%q (tenant %s)", c.TenantName, other))
		}
	}
	return out, nil
}
