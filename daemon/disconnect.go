package daemon

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/softbooq/xerosync/internal/tenant"
)

var (
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

	res, err := s.links.Disconnect(ctx, tenantID, sc)
	switch res.Removal {
	case tenant.RemovalDone:
		fmt.Fprintf(out, "removed the Xero connection to %q\n", sc.OrgName)
		if len(res.Plan.SharedWith) > 0 {
			fmt.Fprintf(out, "not revoking the tokens: the same Xero user also authorised %s, which Xero's revocation would disconnect too; "+
				"the tokens are forgotten here and expire at Xero after 60 days unused\n", strings.Join(res.Plan.SharedWith, ", "))
		}
	case tenant.RemovalTokensDead:
		fmt.Fprintf(out, "could not remove the Xero connection to %q (%s); remove xerosync under Settings → Connected apps in Xero\n", sc.OrgName, res.RemovalErr.Kind)
	default:
		if sc.State == tenant.StateAuthFailed {
			fmt.Fprintf(out, "the tenant's tokens no longer work, so the Xero connection to %q cannot be removed from here; "+
				"remove xerosync under Settings → Connected apps in Xero\n", cmp.Or(sc.OrgName, "its organisation"))
		}
	}
	if err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	var unfinished int64
	if err := s.pool.QueryRow(ctx, tenantUnfinishedSQL, tenantID).Scan(&unfinished); err != nil {
		unfinished = -1
	}
	fmt.Fprintf(out, "tenant %s is disconnected from Xero: nothing new is queued for it", tenantID)
	if res.Plan.Revoke {
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
