package daemon

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/check_mappings.sql
	checkMappingsSQL string
	//go:embed sql/check_unmapped.sql
	checkUnmappedSQL string
	//go:embed sql/check_currencies.sql
	checkCurrenciesSQL string
	//go:embed sql/check_locked_rows.sql
	checkLockedRowsSQL string
)

// mappingUIPath is where a Softbooq administrator edits the mappings.
const mappingUIPath = "Softbooq → Settings → Integrations → Xero"

func checkFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	tenant := tenantFlag(fs)
	return func(ctx context.Context) error {
		if err := checkTenant("check", tenant, true); err != nil {
			return err
		}
		return runCheck(ctx, inv, *tenant)
	}
}

// xeroSettings is what check reads from the tenant's Xero organisation.
type xeroSettings struct {
	org        xero.Organisation
	accounts   []xero.Account
	taxRates   []xero.TaxRate
	currencies []xero.Currency
}

// mapping is one row of check_mappings.sql.
type mapping struct {
	kind   string // account, payment, tax
	key    *string
	target string
}

// checkReport collects the outcome: every check counts, each problem is one line with its
// fix.
type checkReport struct {
	out      io.Writer
	checks   int
	problems int
}

func (r *checkReport) pass() { r.checks++ }

func (r *checkReport) problem(format string, args ...any) {
	r.checks++
	r.problems++
	fmt.Fprintf(r.out, "problem: "+format+"\n", args...)
}

// runCheck is the pre-flight of SPEC §4: what would make rows fail once pushed, found before
// anything is pushed. It only reads, in Xero and in the database.
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
	x, err := readXeroSettings(ctx, org)
	if err != nil {
		return fmt.Errorf("check: read the settings of the Xero organisation %q: %w", sc.OrgName, err)
	}
	r := &checkReport{out: inv.p.Stdout}
	fmt.Fprintf(r.out, "checking tenant %s against the Xero organisation %q (base currency %s)\n", tenant, x.org.Name, x.org.BaseCurrency)

	if st := x.org.OrganisationStatus; st != "" && st != "ACTIVE" {
		r.problem("the Xero organisation's status is %s, so the API cannot post to it; fix: reactivate the organisation's Xero subscription", st)
	}
	if err := checkMappings(ctx, s, tenant, x, r); err != nil {
		return err
	}
	if err := checkCurrencies(ctx, s, tenant, x, r); err != nil {
		return err
	}
	if err := checkLockDates(ctx, s, tenant, x, r); err != nil {
		return err
	}
	if r.problems > 0 {
		return fmt.Errorf("check: %d of %d checks found a problem (listed above); fix them, then run xerosync check --tenant %s again", r.problems, r.checks, tenant)
	}
	fmt.Fprintf(r.out, "all %d checks passed\n", r.checks)
	return nil
}

func readXeroSettings(ctx context.Context, org *xero.Org) (*xeroSettings, error) {
	var x xeroSettings
	var err error
	if x.org, err = org.Organisation(ctx); err != nil {
		return nil, err
	}
	if x.accounts, err = org.Accounts(ctx); err != nil {
		return nil, err
	}
	if x.taxRates, err = org.TaxRates(ctx); err != nil {
		return nil, err
	}
	if x.currencies, err = org.Currencies(ctx); err != nil {
		return nil, err
	}
	return &x, nil
}

func checkMappings(ctx context.Context, s *xeroSession, tenant string, x *xeroSettings, r *checkReport) error {
	rows, err := s.pool.Query(ctx, checkMappingsSQL, tenant)
	if err != nil {
		return fmt.Errorf("check: read the Xero mappings: %w", err)
	}
	var maps []mapping
	for rows.Next() {
		var m mapping
		if err := rows.Scan(&m.kind, &m.key, &m.target); err != nil {
			rows.Close()
			return fmt.Errorf("check: read the Xero mappings: %w", err)
		}
		maps = append(maps, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check: read the Xero mappings: %w", err)
	}
	for _, m := range maps {
		switch m.kind {
		case "account":
			checkAccount(r, x, fmt.Sprintf("revenue category %q", deref(m.key)), m.target, false)
		case "payment":
			checkAccount(r, x, fmt.Sprintf("payment method %q", deref(m.key)), m.target, true)
		case "tax":
			what := fmt.Sprintf("tax component %q", deref(m.key))
			if m.key == nil {
				what = "lines without a tax component"
			}
			checkTaxType(r, x, what, m.target)
		}
	}

	rows, err = s.pool.Query(ctx, checkUnmappedSQL, tenant)
	if err != nil {
		return fmt.Errorf("check: read unmapped values: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, value string
		var n int64
		if err := rows.Scan(&kind, &value, &n); err != nil {
			return fmt.Errorf("check: read unmapped values: %w", err)
		}
		switch kind {
		case "account":
			r.problem("revenue category %q (on %d invoice lines) has no Xero account code, so those invoices fail with MappingMissing; fix: map it under %s → Account Mapping", value, n, mappingUIPath)
		case "tax":
			r.problem("tax component %q (on %d invoice lines) has no Xero tax type, so those invoices fail with MappingMissing; fix: map it under %s → Tax Mapping", value, n, mappingUIPath)
		case "payment":
			r.problem("payment method %q (%d payments) has no Xero payment account, so those payments fail with MappingMissing; fix: map it under %s → Payment Accounts", value, n, mappingUIPath)
		}
	}
	return rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkAccount checks one mapped account code: it exists, is active, and (for payments)
// can receive payments.
func checkAccount(r *checkReport, x *xeroSettings, what, code string, payment bool) {
	var acc *xero.Account
	for i := range x.accounts {
		if strings.EqualFold(x.accounts[i].Code, code) {
			acc = &x.accounts[i]
			break
		}
	}
	switch {
	case acc == nil:
		r.problem("%s maps to account code %s, which does not exist in Xero (rows fail with InvalidAccountCode); fix: create account %s in Xero's chart of accounts, or change the mapping under %s",
			what, code, code, mappingUIPath)
	case acc.Status != "" && acc.Status != "ACTIVE":
		r.problem("%s maps to account %s %q, which is %s in Xero (rows fail with InvalidAccountCode); fix: restore the account in Xero's chart of accounts, or map another account under %s",
			what, code, acc.Name, acc.Status, mappingUIPath)
	case payment && !acc.AcceptsPayments():
		r.problem("%s maps to account %s %q (type %s), which cannot receive payments; fix: tick \"Enable payments to this account\" on it in Xero, or map a bank account under %s",
			what, code, acc.Name, acc.Type, mappingUIPath)
	default:
		r.pass()
	}
}

// checkTaxType checks one mapped tax type: it exists, is active, and applies to sales.
func checkTaxType(r *checkReport, x *xeroSettings, what, taxType string) {
	var rate *xero.TaxRate
	for i := range x.taxRates {
		if strings.EqualFold(x.taxRates[i].TaxType, taxType) {
			rate = &x.taxRates[i]
			break
		}
	}
	switch {
	case rate == nil:
		r.problem("%s maps to tax type %s, which does not exist in Xero (rows fail with TaxRateNotFound); fix: map a tax type of this organisation under %s → Tax Mapping",
			what, taxType, mappingUIPath)
	case rate.Status != "" && rate.Status != "ACTIVE":
		r.problem("%s maps to tax type %s (%s), which is %s in Xero (rows fail with TaxRateNotFound); fix: restore the tax rate in Xero, or map another under %s → Tax Mapping",
			what, taxType, rate.Name, rate.Status, mappingUIPath)
	case !rate.CanApplyToRevenue:
		r.problem("%s maps to tax type %s (%s), which Xero does not allow on sales (rows fail with TaxRateNotFound); fix: map a sales tax type under %s → Tax Mapping",
			what, taxType, rate.Name, mappingUIPath)
	default:
		r.pass()
	}
}

func checkCurrencies(ctx context.Context, s *xeroSession, tenant string, x *xeroSettings, r *checkReport) error {
	rows, err := s.pool.Query(ctx, checkCurrenciesSQL, tenant)
	if err != nil {
		return fmt.Errorf("check: read invoice currencies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			return fmt.Errorf("check: read invoice currencies: %w", err)
		}
		enabled := strings.EqualFold(code, x.org.BaseCurrency)
		for _, c := range x.currencies {
			enabled = enabled || strings.EqualFold(c.Code, code)
		}
		if enabled {
			r.pass()
			continue
		}
		r.problem("%d invoices are in %s, which the Xero organisation is not subscribed to (rows fail with CurrencyNotEnabled); fix: add %s under Settings → Currencies in Xero, then xerosync retry --tenant %s --code CurrencyNotEnabled",
			n, code, code, tenant)
	}
	return rows.Err()
}

// checkLockDates reports the lock dates, and as a problem the queued invoices and payments
// dated on or before them.
func checkLockDates(ctx context.Context, s *xeroSession, tenant string, x *xeroSettings, r *checkReport) error {
	lock := x.org.LockDate()
	if lock.IsZero() {
		fmt.Fprintln(r.out, "no lock date is set in Xero")
		r.pass()
		return nil
	}
	for _, l := range []struct {
		name string
		date xero.Date
	}{{"period lock date", x.org.PeriodLockDate}, {"end of year lock date", x.org.EndOfYearLockDate}} {
		if !l.date.IsZero() {
			fmt.Fprintf(r.out, "Xero's %s is %s: invoices and payments dated on or before it are refused\n", l.name, l.date)
		}
	}
	var invoices, payments int64
	if err := s.pool.QueryRow(ctx, checkLockedRowsSQL, tenant, lock.String()).Scan(&invoices, &payments); err != nil {
		return fmt.Errorf("check: read queued rows: %w", err)
	}
	if invoices+payments == 0 {
		r.pass()
		return nil
	}
	r.problem("%d queued invoices and %d queued payments are dated on or before the lock date %s (they fail with PeriodLocked); fix: ask the accountant to move the lock date in Xero (Settings → Advanced → Financial settings), then xerosync retry --tenant %s --code PeriodLocked, or cancel them",
		invoices, payments, lock, tenant)
	return nil
}
