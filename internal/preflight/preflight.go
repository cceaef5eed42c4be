// Package preflight is `xerosync check` without the printing: it judges a tenant's Softbooq
// mappings and queued rows against its Xero organisation's settings, and returns every
// problem that would make rows fail once pushed, each with its fix, before anything is
// pushed (SPEC §4).
//
// It guarantees:
//   - It only reads, in Xero (ReadSettings' four GETs) and in the database (LoadFacts).
//   - The judgement (Judge) is a pure function of what was read: the same Settings and Facts
//     give the same Report, line for line, so it is table-tested without PostgreSQL or Xero.
//   - Every problem line names what is wrong, what fails because of it (the error code the row
//     would get), and its fix after "; fix: ".
package preflight

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/softbooq/xerosync/xero"
)

var (
	//go:embed sql/mappings.sql
	mappingsSQL string
	//go:embed sql/unmapped.sql
	unmappedSQL string
	//go:embed sql/currencies.sql
	currenciesSQL string
	//go:embed sql/locked_rows.sql
	lockedRowsSQL string
)

// MappingUIPath is where a Softbooq administrator edits the mappings.
const MappingUIPath = "Softbooq → Settings → Integrations → Xero"

// Settings is what check reads from the tenant's Xero organisation.
type Settings struct {
	Org        xero.Organisation
	Accounts   []xero.Account
	TaxRates   []xero.TaxRate
	Currencies []xero.Currency
}

// Mapping is one mapping as the Softbooq UI saved it.
type Mapping struct {
	Kind   string  // account (revenue category), payment (payment method), tax (tax component)
	Key    *string // nil for the NONE tax type of lines without a tax component
	Target string  // account code or tax type
}

// Unmapped is a value Softbooq's rows use that has no mapping, and how many rows use it.
type Unmapped struct {
	Kind  string // account, tax, payment
	Value string
	Rows  int64
}

// CurrencyUse is a currency the tenant's invoices use, and how many.
type CurrencyUse struct {
	Code     string
	Invoices int64
}

// Facts is what check reads from the database.
type Facts struct {
	Mappings   []Mapping
	Unmapped   []Unmapped
	Currencies []CurrencyUse
	// Queued invoices and payments dated on or before the organisation's lock date (zero when
	// no lock date is set).
	LockedInvoices, LockedPayments int64
}

// Line is one line of the report: a problem (with its fix) or a note.
type Line struct {
	Problem bool
	Text    string
}

// Report is the judgement: every check counts; the lines in the order they are printed.
type Report struct {
	Checks   int
	Problems int
	Lines    []Line
}

func (r *Report) pass() { r.Checks++ }

func (r *Report) note(format string, args ...any) {
	r.Lines = append(r.Lines, Line{Text: fmt.Sprintf(format, args...)})
}

func (r *Report) problem(format string, args ...any) {
	r.Checks++
	r.Problems++
	r.Lines = append(r.Lines, Line{Problem: true, Text: fmt.Sprintf(format, args...)})
}

// DBTX is what LoadFacts needs of a pool, a connection or a transaction.
type DBTX interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadSettings reads the organisation's settings check judges against: four GETs.
func ReadSettings(ctx context.Context, org *xero.Org) (Settings, error) {
	var x Settings
	var err error
	if x.Org, err = org.Organisation(ctx); err != nil {
		return x, err
	}
	if x.Accounts, err = org.Accounts(ctx); err != nil {
		return x, err
	}
	if x.TaxRates, err = org.TaxRates(ctx); err != nil {
		return x, err
	}
	x.Currencies, err = org.Currencies(ctx)
	return x, err
}

// LoadFacts reads the tenant's mappings, unmapped values, invoice currencies and the queued
// rows dated on or before lock (none are counted when lock is zero).
func LoadFacts(ctx context.Context, db DBTX, tenant string, lock xero.Date) (Facts, error) {
	var f Facts
	var err error
	if f.Mappings, err = collect(ctx, db, mappingsSQL, tenant, func(r pgx.CollectableRow) (Mapping, error) {
		var m Mapping
		return m, r.Scan(&m.Kind, &m.Key, &m.Target)
	}); err != nil {
		return f, fmt.Errorf("check: read the Xero mappings: %w", err)
	}
	if f.Unmapped, err = collect(ctx, db, unmappedSQL, tenant, func(r pgx.CollectableRow) (Unmapped, error) {
		var u Unmapped
		return u, r.Scan(&u.Kind, &u.Value, &u.Rows)
	}); err != nil {
		return f, fmt.Errorf("check: read unmapped values: %w", err)
	}
	if f.Currencies, err = collect(ctx, db, currenciesSQL, tenant, func(r pgx.CollectableRow) (CurrencyUse, error) {
		var c CurrencyUse
		return c, r.Scan(&c.Code, &c.Invoices)
	}); err != nil {
		return f, fmt.Errorf("check: read invoice currencies: %w", err)
	}
	if !lock.IsZero() {
		if err := db.QueryRow(ctx, lockedRowsSQL, tenant, lock.String()).Scan(&f.LockedInvoices, &f.LockedPayments); err != nil {
			return f, fmt.Errorf("check: read queued rows: %w", err)
		}
	}
	return f, nil
}

func collect[T any](ctx context.Context, db DBTX, sql, tenant string, row pgx.RowToFunc[T]) ([]T, error) {
	rows, err := db.Query(ctx, sql, tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, row)
}

// Judge is the pre-flight's judgement over what was read. tenant only appears in the fixes
// (the retry command to run).
func Judge(tenant string, x Settings, f Facts) Report {
	var r Report
	if st := x.Org.OrganisationStatus; st != "" && st != "ACTIVE" {
		r.problem("the Xero organisation's status is %s, so the API cannot post to it; fix: reactivate the organisation's Xero subscription", st)
	}
	for _, m := range f.Mappings {
		switch m.Kind {
		case "account":
			judgeAccount(&r, x, fmt.Sprintf("revenue category %q", deref(m.Key)), m.Target, false)
		case "payment":
			judgeAccount(&r, x, fmt.Sprintf("payment method %q", deref(m.Key)), m.Target, true)
		case "tax":
			what := fmt.Sprintf("tax component %q", deref(m.Key))
			if m.Key == nil {
				what = "lines without a tax component"
			}
			judgeTaxType(&r, x, what, m.Target)
		}
	}
	for _, u := range f.Unmapped {
		switch u.Kind {
		case "account":
			r.problem("revenue category %q (on %d invoice lines) has no Xero account code, so those invoices fail with MappingMissing; fix: map it under %s → Account Mapping", u.Value, u.Rows, MappingUIPath)
		case "tax":
			r.problem("tax component %q (on %d invoice lines) has no Xero tax type, so those invoices fail with MappingMissing; fix: map it under %s → Tax Mapping", u.Value, u.Rows, MappingUIPath)
		case "payment":
			r.problem("payment method %q (%d payments) has no Xero payment account, so those payments fail with MappingMissing; fix: map it under %s → Payment Accounts", u.Value, u.Rows, MappingUIPath)
		}
	}
	for _, c := range f.Currencies {
		if currencyEnabled(x, c.Code) {
			r.pass()
			continue
		}
		r.problem("%d invoices are in %s, which the Xero organisation is not subscribed to (rows fail with CurrencyNotEnabled); fix: add %s under Settings → Currencies in Xero, then xerosync retry --tenant %s --code CurrencyNotEnabled",
			c.Invoices, c.Code, c.Code, tenant)
	}
	judgeLockDates(&r, x, f, tenant)
	return r
}

func currencyEnabled(x Settings, code string) bool {
	if strings.EqualFold(code, x.Org.BaseCurrency) {
		return true
	}
	for _, c := range x.Currencies {
		if strings.EqualFold(c.Code, code) {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// judgeAccount judges one mapped account code: it exists, is active, and (for payments) can
// receive payments.
func judgeAccount(r *Report, x Settings, what, code string, payment bool) {
	var acc *xero.Account
	for i := range x.Accounts {
		if strings.EqualFold(x.Accounts[i].Code, code) {
			acc = &x.Accounts[i]
			break
		}
	}
	switch {
	case acc == nil:
		r.problem("%s maps to account code %s, which does not exist in Xero (rows fail with InvalidAccountCode); fix: create account %s in Xero's chart of accounts, or change the mapping under %s",
			what, code, code, MappingUIPath)
	case acc.Status != "" && acc.Status != "ACTIVE":
		r.problem("%s maps to account %s %q, which is %s in Xero (rows fail with InvalidAccountCode); fix: restore the account in Xero's chart of accounts, or map another account under %s",
			what, code, acc.Name, acc.Status, MappingUIPath)
	case payment && !acc.AcceptsPayments():
		r.problem("%s maps to account %s %q (type %s), which cannot receive payments; fix: tick \"Enable payments to this account\" on it in Xero, or map a bank account under %s",
			what, code, acc.Name, acc.Type, MappingUIPath)
	default:
		r.pass()
	}
}

// judgeTaxType judges one mapped tax type: it exists, is active, and applies to sales.
func judgeTaxType(r *Report, x Settings, what, taxType string) {
	var rate *xero.TaxRate
	for i := range x.TaxRates {
		if strings.EqualFold(x.TaxRates[i].TaxType, taxType) {
			rate = &x.TaxRates[i]
			break
		}
	}
	switch {
	case rate == nil:
		r.problem("%s maps to tax type %s, which does not exist in Xero (rows fail with TaxRateNotFound); fix: map a tax type of this organisation under %s → Tax Mapping",
			what, taxType, MappingUIPath)
	case rate.Status != "" && rate.Status != "ACTIVE":
		r.problem("%s maps to tax type %s (%s), which is %s in Xero (rows fail with TaxRateNotFound); fix: restore the tax rate in Xero, or map another under %s → Tax Mapping",
			what, taxType, rate.Name, rate.Status, MappingUIPath)
	case !rate.CanApplyToRevenue:
		r.problem("%s maps to tax type %s (%s), which Xero does not allow on sales (rows fail with TaxRateNotFound); fix: map a sales tax type under %s → Tax Mapping",
			what, taxType, rate.Name, MappingUIPath)
	default:
		r.pass()
	}
}

// judgeLockDates notes the lock dates, and reports as a problem the queued invoices and
// payments dated on or before them.
func judgeLockDates(r *Report, x Settings, f Facts, tenant string) {
	lock := x.Org.LockDate()
	if lock.IsZero() {
		r.note("no lock date is set in Xero")
		r.pass()
		return
	}
	for _, l := range []struct {
		name string
		date xero.Date
	}{{"period lock date", x.Org.PeriodLockDate}, {"end of year lock date", x.Org.EndOfYearLockDate}} {
		if !l.date.IsZero() {
			r.note("Xero's %s is %s: invoices and payments dated on or before it are refused", l.name, l.date)
		}
	}
	if f.LockedInvoices+f.LockedPayments == 0 {
		r.pass()
		return
	}
	r.problem("%d queued invoices and %d queued payments are dated on or before the lock date %s (they fail with PeriodLocked); fix: ask the accountant to move the lock date in Xero (Settings → Advanced → Financial settings), then xerosync retry --tenant %s --code PeriodLocked, or cancel them",
		f.LockedInvoices, f.LockedPayments, lock, tenant)
}
