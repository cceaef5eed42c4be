package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/xero/xerosim"
)

func testCheck(t *testing.T) {
	t.Parallel()
	x := connectedSetup(t)
	seedHistory(t, x.db) // NZD invoices, lines in 'consulting' with GST15 or no tax; card, cash, bank_transfer payments

	// A good setup: the DefaultOrg's Sales (200), bank account (090), OUTPUT2 and NONE.
	for _, stmt := range []string{
		`INSERT INTO integrations.xero_account_mappings VALUES ($1, 'consulting', '200')`,
		`INSERT INTO integrations.xero_tax_mappings VALUES ($1, 'GST15', 'OUTPUT2')`,
		`INSERT INTO integrations.xero_payment_accounts VALUES ($1, 'card', '090'), ($1, 'cash', '090'), ($1, 'bank_transfer', '090')`,
	} {
		x.db.Exec(t, stmt, tenantA)
	}
	r := runCmd(t, x.env, "check", "--tenant", tenantA)
	if r.code != 0 || !strings.Contains(r.stdout, "all 8 checks passed") || strings.Contains(r.stdout, "problem:") {
		t.Fatalf("check of a good setup: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Every kind of problem at once.
	org := x.sim.State().Orgs[0].TenantID
	if err := x.sim.UpdateOrg(org, func(c *xerosim.OrgConfig) {
		c.Accounts = append(c.Accounts, xerosim.Account{Code: "260", Name: "Old Sales", Type: "REVENUE", Status: "ARCHIVED"})
		c.PeriodLockDate = time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
	}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE integrations.xero_account_mappings SET account_code = '999' WHERE tenant_id = $1`,
		`INSERT INTO integrations.xero_account_mappings VALUES ($1, 'training', '260')`,
		`UPDATE integrations.xero_payment_accounts SET account_code = '200' WHERE tenant_id = $1 AND method = 'card'`,
		`UPDATE integrations.xero_tax_mappings SET tax_type = 'INPUT2' WHERE tenant_id = $1`,
		`INSERT INTO integrations.xero_tax_mappings VALUES ($1, 'VAT20', 'GST99')`,
		`DELETE FROM integrations.xero_payment_accounts WHERE tenant_id = $1 AND method = 'cash'`,
		`UPDATE finance.invoice_lines SET revenue_category = 'hardware' WHERE position = 2 AND tenant_id = $1`,
		`UPDATE finance.invoices SET currency = 'EUR' WHERE number = 'INV-3' AND tenant_id = $1`,
		`INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, payload)
		 VALUES ($1, 'invoice', gen_random_uuid(), 'issue', '{"issue_date":"2026-02-01"}')`,
	} {
		x.db.Exec(t, stmt, tenantA)
	}
	r = runCmd(t, x.env, "check", "--tenant", tenantA)
	if r.code != daemon.ExitFailure {
		t.Fatalf("check with problems: exit %d, want 1\n%s", r.code, r.stdout)
	}
	problems := map[string]string{
		"missing account":       `revenue category "consulting" maps to account code 999, which does not exist`,
		"archived account":      `revenue category "training" maps to account 260 "Old Sales", which is ARCHIVED`,
		"not a payment account": `payment method "card" maps to account 200 "Sales" (type REVENUE), which cannot receive payments`,
		"not a sales tax":       `tax component "GST15" maps to tax type INPUT2 (15% GST on Expenses), which Xero does not allow on sales`,
		"missing tax type":      `tax component "VAT20" maps to tax type GST99, which does not exist`,
		"unmapped category":     `revenue category "hardware" (on 7 invoice lines) has no Xero account code`,
		"unmapped method":       `payment method "cash" (1 payments) has no Xero payment account`,
		"currency":              `1 invoices are in EUR, which the Xero organisation is not subscribed to`,
		"locked rows":           `1 queued invoices and 0 queued payments are dated on or before the lock date 2026-02-28`,
	}
	for name, want := range problems {
		if !strings.Contains(r.stdout, "problem: "+want) {
			t.Errorf("%s: no line %q", name, want)
		}
	}
	if n := strings.Count(r.stdout, "problem: "); n != len(problems) {
		t.Errorf("%d problem lines, want %d:\n%s", n, len(problems), r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "problem: ") && !strings.Contains(line, "; fix: ") {
			t.Errorf("a problem without its fix: %s", line)
		}
	}
	if !strings.Contains(r.stdout, "period lock date is 2026-02-28") || !strings.Contains(r.stderr, "9 of ") {
		t.Errorf("lock date or summary missing:\n%s\n%s", r.stdout, r.stderr)
	}
}
