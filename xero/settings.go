package xero

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Organisation mirrors the fields of Xero's Organisation that xerosync reads: identity, base
// currency, financial year and lock dates (XERO.md §7).
type Organisation struct {
	OrganisationID        string `json:"OrganisationID"` // equals the connection's tenantId
	Name                  string `json:"Name"`
	LegalName             string `json:"LegalName,omitempty"`
	BaseCurrency          string `json:"BaseCurrency"`
	CountryCode           string `json:"CountryCode,omitempty"`
	Version               string `json:"Version,omitempty"`
	Timezone              string `json:"Timezone,omitempty"`
	OrganisationStatus    string `json:"OrganisationStatus,omitempty"`
	IsDemoCompany         bool   `json:"IsDemoCompany,omitempty"`
	Class                 string `json:"Class,omitempty"`
	Edition               string `json:"Edition,omitempty"`
	ShortCode             string `json:"ShortCode,omitempty"`
	FinancialYearEndDay   int    `json:"FinancialYearEndDay"`
	FinancialYearEndMonth int    `json:"FinancialYearEndMonth"`
	PeriodLockDate        Date   `json:"PeriodLockDate,omitzero"`
	EndOfYearLockDate     Date   `json:"EndOfYearLockDate,omitzero"`
}

// LockDate is the date on or before which documents are refused. We cannot see whether the
// authorising user is an adviser (who may post before PeriodLockDate), so the later of the
// two dates binds (XERO.md §8).
func (o Organisation) LockDate() Date {
	if o.PeriodLockDate.After(o.EndOfYearLockDate) {
		return o.PeriodLockDate
	}
	return o.EndOfYearLockDate
}

// FinancialYearStart returns the first day of the financial year that contains on. The
// default `backfill --since` is the start of the current year.
func (o Organisation) FinancialYearStart(on Date) Date {
	m, d := time.Month(o.FinancialYearEndMonth), o.FinancialYearEndDay
	if m < time.January || m > time.December {
		m, d = time.December, 31
	}
	// The year end in on's calendar year, clamped to the month's length (28 Feb in a
	// non-leap year, for instance).
	end := func(year int) time.Time {
		last := time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
		return time.Date(year, m, min(max(d, 1), last), 0, 0, 0, 0, time.UTC)
	}
	t := on.Time(time.UTC)
	e := end(t.Year())
	if !t.After(e) {
		e = end(t.Year() - 1)
	}
	return DateOf(e.AddDate(0, 0, 1))
}

// Currency mirrors Xero's Currency.
type Currency struct {
	Code        string `json:"Code"`
	Description string `json:"Description,omitempty"`
}

// Account mirrors the fields of Xero's Account that `check` needs.
type Account struct {
	AccountID               string `json:"AccountID,omitempty"`
	Code                    string `json:"Code,omitempty"`
	Name                    string `json:"Name,omitempty"`
	Type                    string `json:"Type,omitempty"`   // BANK, REVENUE, SALES, …
	Status                  string `json:"Status,omitempty"` // ACTIVE, ARCHIVED, DELETED
	TaxType                 string `json:"TaxType,omitempty"`
	EnablePaymentsToAccount bool   `json:"EnablePaymentsToAccount,omitempty"`
	BankAccountType         string `json:"BankAccountType,omitempty"`
	CurrencyCode            string `json:"CurrencyCode,omitempty"`
	Class                   string `json:"Class,omitempty"`
	SystemAccount           string `json:"SystemAccount,omitempty"`
}

// AcceptsPayments reports whether payments can be made into the account (XERO.md §7).
func (a Account) AcceptsPayments() bool { return a.Type == "BANK" || a.EnablePaymentsToAccount }

// TaxRate mirrors the fields of Xero's TaxRate that `check` needs.
type TaxRate struct {
	Name              string  `json:"Name,omitempty"`
	TaxType           string  `json:"TaxType,omitempty"` // the code sent on lines
	Status            string  `json:"Status,omitempty"`  // ACTIVE, DELETED, ARCHIVED, PENDING
	ReportTaxType     string  `json:"ReportTaxType,omitempty"`
	EffectiveRate     Decimal `json:"EffectiveRate,omitzero"`
	DisplayTaxRate    Decimal `json:"DisplayTaxRate,omitzero"`
	CanApplyToRevenue bool    `json:"CanApplyToRevenue,omitempty"`
}

// Organisation reads GET /Organisation (scope accounting.settings or accounting.settings.read).
func (o *Org) Organisation(ctx context.Context) (Organisation, error) {
	var resp struct {
		Organisations []Organisation `json:"Organisations"`
	}
	if err := o.get(ctx, "/Organisation", &resp); err != nil {
		return Organisation{}, err
	}
	if len(resp.Organisations) == 0 {
		return Organisation{}, fmt.Errorf("GET /Organisation: empty response: %w", ErrNotFound)
	}
	return resp.Organisations[0], nil
}

// Currencies reads GET /Currencies: the currencies the organisation may invoice in besides
// (possibly including) its base currency (scope accounting.settings(.read)).
func (o *Org) Currencies(ctx context.Context) ([]Currency, error) {
	var resp struct {
		Currencies []Currency `json:"Currencies"`
	}
	err := o.get(ctx, "/Currencies", &resp)
	return resp.Currencies, err
}

// Accounts reads GET /Accounts, every status (scope accounting.settings(.read)).
func (o *Org) Accounts(ctx context.Context) ([]Account, error) {
	var resp struct {
		Accounts []Account `json:"Accounts"`
	}
	err := o.get(ctx, "/Accounts", &resp)
	return resp.Accounts, err
}

// TaxRates reads GET /TaxRates, every status (scope accounting.settings(.read)).
func (o *Org) TaxRates(ctx context.Context) ([]TaxRate, error) {
	var resp struct {
		TaxRates []TaxRate `json:"TaxRates"`
	}
	err := o.get(ctx, "/TaxRates", &resp)
	return resp.TaxRates, err
}

func (o *Org) get(ctx context.Context, path string, out any) error {
	_, err := o.c.do(ctx, o.tokens, call{
		method: http.MethodGet, url: o.c.apiBase + path, op: "GET " + path, tenant: o.tenantID,
	}, out)
	return err
}
