package daemon

import (
	"context"
	"flag"
	"fmt"

	"github.com/softbooq/xerosync/internal/preflight"
)

func checkFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	tenant := tenantFlag(fs)
	return func(ctx context.Context) error {
		if err := checkTenant("check", tenant, true); err != nil {
			return err
		}
		return runCheck(ctx, inv, *tenant)
	}
}

// runCheck is the pre-flight of SPEC §4: it reads the organisation's settings and the
// tenant's mappings, has preflight judge them, and prints the judgement.
func runCheck(ctx context.Context, inv *invocation, tenant string) error {
	s, err := openXero(ctx, inv)
	if err != nil {
		return err
	}
	defer s.close()
	sc, org, err := s.connectedOrg(ctx, "check", tenant)
	if err != nil {
		return err
	}
	x, err := preflight.ReadSettings(ctx, org)
	if err != nil {
		return fmt.Errorf("check: read the settings of the Xero organisation %q: %w", sc.OrgName, err)
	}
	facts, err := preflight.LoadFacts(ctx, s.pool, tenant, x.Org.LockDate())
	if err != nil {
		return err
	}
	out := inv.p.Stdout
	fmt.Fprintf(out, "checking tenant %s against the Xero organisation %q (base currency %s)\n", tenant, x.Org.Name, x.Org.BaseCurrency)
	r := preflight.Judge(tenant, x, facts)
	for _, l := range r.Lines {
		if l.Problem {
			fmt.Fprint(out, "problem: ")
		}
		fmt.Fprintln(out, l.Text)
	}
	if r.Problems > 0 {
		return fmt.Errorf("check: %d of %d checks found a problem (listed above); fix them, then run xerosync check --tenant %s again", r.Problems, r.Checks, tenant)
	}
	fmt.Fprintf(out, "all %d checks passed\n", r.Checks)
	return nil
}
