package xerosim

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// OrgConfig describes one Xero organisation (a tenant). Its
// OrganisationID is the tenantId that /connections reports and that the
// xero-tenant-id header carries (XERO.md §7).
type OrgConfig struct {
	OrganisationID string // generated when empty
	Name           string
	LegalName      string // default Name
	BaseCurrency   string // default NZD
	CountryCode    string // default NZ
	Version        string // default NZ
	Timezone       string // default NEWZEALANDSTANDARDTIME
	// Class is the plan Organisation reports, e.g. DEMO, STARTER,
	// STANDARD, PREMIUM; default PREMIUM. DEMO also sets IsDemoCompany.
	// It changes nothing else: the day limit is DayLimit.
	Class string
	// DayLimit is the organisation's calls a day (Xero's Starter tier: 1,000,
	// XERO.md §2); 0 takes Config.Limits.PerDay.
	DayLimit  int
	ShortCode string

	// Currencies are the currencies the organisation is subscribed to
	// besides BaseCurrency. An invoice in any other currency fails with
	// "Organisation is not subscribed to currency XXX".
	Currencies []Currency
	Accounts   []Account
	TaxRates   []TaxRate

	// PeriodLockDate and EndOfYearLockDate reject documents dated on or
	// before them; zero means not set.
	PeriodLockDate    time.Time
	EndOfYearLockDate time.Time

	FinancialYearEndDay   int // default 31
	FinancialYearEndMonth int // default 3
}

// Currency is a subscribed currency.
type Currency struct {
	Code        string
	Description string
}

// Account is a chart-of-accounts entry.
type Account struct {
	AccountID string // generated when empty
	Code      string
	Name      string
	Type      string // BANK, REVENUE, SALES, CURRENT, EXPENSE, …
	Status    string // ACTIVE (default), ARCHIVED, DELETED
	// TaxType is the account's default tax type, used for a line item
	// that names the account but no TaxType.
	TaxType                 string
	EnablePaymentsToAccount bool
	BankAccountNumber       string
	CurrencyCode            string
	Description             string
}

// TaxRate is a tax rate. EffectiveRate is a decimal percentage as text
// ("15", "12.5000"), parsed exactly.
type TaxRate struct {
	TaxType               string
	Name                  string
	Status                string // ACTIVE (default), DELETED, ARCHIVED, PENDING
	EffectiveRate         string
	ReportTaxType         string
	CanApplyToRevenue     bool
	CanApplyToExpenses    bool
	CanApplyToAssets      bool
	CanApplyToLiabilities bool
	CanApplyToEquity      bool
}

// DefaultOrg is a New Zealand organisation like Xero's demo company, with
// the accounts and tax rates xerosync's tests map to: 200 Sales (REVENUE,
// default OUTPUT2), 090 Business Bank Account (BANK), tax types OUTPUT2
// (15% GST on Income), INPUT2 (15% GST on Expenses, not usable on sales) and
// NONE, base currency NZD.
func DefaultOrg(name string) OrgConfig {
	return OrgConfig{
		Name:         name,
		BaseCurrency: "NZD",
		CountryCode:  "NZ",
		Version:      "NZ",
		Class:        "PREMIUM",
		Accounts: []Account{
			{Code: "200", Name: "Sales", Type: "REVENUE", Status: "ACTIVE", TaxType: "OUTPUT2"},
			{Code: "090", Name: "Business Bank Account", Type: "BANK", Status: "ACTIVE", TaxType: "NONE", BankAccountNumber: "0000000", CurrencyCode: "NZD"},
		},
		TaxRates: []TaxRate{
			{TaxType: "OUTPUT2", Name: "15% GST on Income", Status: "ACTIVE", EffectiveRate: "15", ReportTaxType: "OUTPUT", CanApplyToRevenue: true, CanApplyToAssets: true, CanApplyToLiabilities: true, CanApplyToEquity: true},
			{TaxType: "INPUT2", Name: "15% GST on Expenses", Status: "ACTIVE", EffectiveRate: "15", ReportTaxType: "INPUT", CanApplyToExpenses: true, CanApplyToAssets: true, CanApplyToLiabilities: true, CanApplyToEquity: true},
			{TaxType: "NONE", Name: "No GST", Status: "ACTIVE", EffectiveRate: "0", ReportTaxType: "NONE", CanApplyToRevenue: true, CanApplyToExpenses: true, CanApplyToAssets: true, CanApplyToLiabilities: true, CanApplyToEquity: true},
		},
		FinancialYearEndDay:   31,
		FinancialYearEndMonth: 3,
	}
}

// org is one organisation's live state.
type org struct {
	id      string
	cfg     OrgConfig
	created time.Time
	rates   map[string]dec // TaxType → EffectiveRate

	contacts []*contact
	invoices []*invoice
	payments []*payment
	nextInv  int
	// accrec indexes sales invoices by lower-cased InvoiceNumber, because
	// every save checks the number's uniqueness and a lookup by number must
	// not scan the whole ledger. Bills are not indexed: their numbers need
	// not be unique.
	accrec map[string]*invoice

	// Creation counters let tests assert "created exactly once" even when
	// a duplicate was later archived or voided.
	contactCreations map[string]int    // by ContactNumber ("" for none)
	invoiceCreations map[string]int    // by InvoiceNumber
	paymentCreations map[[2]string]int // by (InvoiceID, Reference)
}

// normalizeOrg fills defaults and checks an OrgConfig, and returns its tax rates by type.
func normalizeOrg(cfg OrgConfig) (OrgConfig, map[string]dec, error) {
	cfg.OrganisationID = cmp.Or(cfg.OrganisationID, newGUID())
	if cfg.DayLimit < 0 {
		return cfg, nil, fmt.Errorf("organisation %q: DayLimit %d is negative", cfg.OrganisationID, cfg.DayLimit)
	}
	if !isGUID(cfg.OrganisationID) {
		return cfg, nil, fmt.Errorf("organisation %q: OrganisationID must be a GUID", cfg.OrganisationID)
	}
	cfg.Name = cmp.Or(cfg.Name, "Demo Company (NZ)")
	cfg.LegalName = cmp.Or(cfg.LegalName, cfg.Name)
	cfg.BaseCurrency = strings.ToUpper(cmp.Or(cfg.BaseCurrency, "NZD"))
	cfg.CountryCode = cmp.Or(cfg.CountryCode, "NZ")
	cfg.Version = cmp.Or(cfg.Version, "NZ")
	cfg.Timezone = cmp.Or(cfg.Timezone, "NEWZEALANDSTANDARDTIME")
	cfg.Class = cmp.Or(cfg.Class, "PREMIUM")
	cfg.ShortCode = cmp.Or(cfg.ShortCode, "!"+cfg.OrganisationID[:5])
	cfg.FinancialYearEndDay = cmp.Or(cfg.FinancialYearEndDay, 31)
	cfg.FinancialYearEndMonth = cmp.Or(cfg.FinancialYearEndMonth, 3)
	cfg.Currencies = slices.Clone(cfg.Currencies)
	cfg.Accounts = slices.Clone(cfg.Accounts)
	cfg.TaxRates = slices.Clone(cfg.TaxRates)
	var errs []error
	seen := map[string]bool{}
	for i := range cfg.Accounts {
		a := &cfg.Accounts[i]
		a.AccountID = cmp.Or(a.AccountID, newGUID())
		a.Status = cmp.Or(a.Status, "ACTIVE")
		a.Type = strings.ToUpper(a.Type)
		if a.Code != "" && seen[strings.ToUpper(a.Code)] {
			errs = append(errs, fmt.Errorf("account code %q appears twice", a.Code))
		}
		seen[strings.ToUpper(a.Code)] = true
	}
	rates := map[string]dec{}
	for i := range cfg.TaxRates {
		t := &cfg.TaxRates[i]
		t.Status = cmp.Or(t.Status, "ACTIVE")
		t.EffectiveRate = cmp.Or(t.EffectiveRate, "0")
		r, err := parseDec(t.EffectiveRate)
		if err != nil {
			errs = append(errs, fmt.Errorf("tax rate %s: %w", t.TaxType, err))
			continue
		}
		rates[strings.ToUpper(t.TaxType)] = r
	}
	return cfg, rates, errors.Join(errs...)
}

// AddOrg adds an organisation and returns its tenant id.
func (s *Sim) AddOrg(cfg OrgConfig) (string, error) {
	cfg, rates, err := normalizeOrg(cfg)
	if err != nil {
		return "", fmt.Errorf("add organisation: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.org(cfg.OrganisationID) != nil {
		return "", fmt.Errorf("add organisation: %s already exists", cfg.OrganisationID)
	}
	o := &org{
		id: cfg.OrganisationID, cfg: cfg, created: s.clock.Now(), rates: rates,
		accrec:           map[string]*invoice{},
		contactCreations: map[string]int{},
		invoiceCreations: map[string]int{},
		paymentCreations: map[[2]string]int{},
	}
	s.orgs[strings.ToLower(o.id)] = o
	s.orgOrder = append(s.orgOrder, o.id)
	return o.id, nil
}

// org finds an organisation by tenant id, which Xero compares without
// regard to case. The caller holds s.mu.
func (s *Sim) org(tenantID string) *org { return s.orgs[strings.ToLower(tenantID)] }

// MustAddOrg is AddOrg for test setup; it panics on error.
func (s *Sim) MustAddOrg(cfg OrgConfig) string {
	id, err := s.AddOrg(cfg)
	if err != nil {
		panic(err)
	}
	return id
}

// UpdateOrg changes an organisation's settings in place, the way a user
// would in Xero's UI: enable a currency, archive an account, set a lock
// date. Documents already saved are not revalidated. Accounts keep their
// AccountID when f keeps it.
func (s *Sim) UpdateOrg(tenantID string, f func(*OrgConfig)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(tenantID)
	if o == nil {
		return fmt.Errorf("update organisation %s: %w", tenantID, ErrUnknownOrg)
	}
	cfg := o.cfg
	cfg.Currencies = slices.Clone(cfg.Currencies)
	cfg.Accounts = slices.Clone(cfg.Accounts)
	cfg.TaxRates = slices.Clone(cfg.TaxRates)
	f(&cfg)
	cfg.OrganisationID = o.id // the tenant id cannot change
	cfg, rates, err := normalizeOrg(cfg)
	if err != nil {
		return fmt.Errorf("update organisation %s: %w", tenantID, err)
	}
	o.cfg, o.rates = cfg, rates
	return nil
}

// OrgConfig returns an organisation's current settings.
func (s *Sim) OrgConfig(tenantID string) (OrgConfig, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(tenantID)
	if o == nil {
		return OrgConfig{}, false
	}
	return o.cfg, true
}

// ErrUnknownOrg is returned for a tenant id the Sim does not know.
var ErrUnknownOrg = errors.New("unknown organisation")

func (o *org) account(code string) *Account {
	for i := range o.cfg.Accounts {
		if code != "" && strings.EqualFold(o.cfg.Accounts[i].Code, code) {
			return &o.cfg.Accounts[i]
		}
	}
	return nil
}

func (o *org) accountByID(id string) *Account {
	for i := range o.cfg.Accounts {
		if sameGUID(o.cfg.Accounts[i].AccountID, id) {
			return &o.cfg.Accounts[i]
		}
	}
	return nil
}

func (o *org) taxRate(taxType string) *TaxRate {
	for i := range o.cfg.TaxRates {
		if strings.EqualFold(o.cfg.TaxRates[i].TaxType, taxType) {
			return &o.cfg.TaxRates[i]
		}
	}
	return nil
}

// subscribed reports whether documents may use the currency.
func (o *org) subscribed(code string) bool {
	if strings.EqualFold(code, o.cfg.BaseCurrency) {
		return true
	}
	for _, c := range o.cfg.Currencies {
		if strings.EqualFold(c.Code, code) {
			return true
		}
	}
	return false
}

// lockError returns Xero's lock-date message when a document dated d may not
// be posted (XERO.md §0 row 15 and §8: "on or before" the lock date). The
// end-of-year lock binds everyone and is checked first; the period lock is
// treated as binding too, because the API cannot tell whether the
// authorising user is an adviser.
func (o *org) lockError(d time.Time) string {
	if l := o.cfg.EndOfYearLockDate; !l.IsZero() && !d.After(civilDay(l)) {
		return "The document date cannot be before the end of year lock date, currently set at " + lockDateText(l)
	}
	if l := o.cfg.PeriodLockDate; !l.IsZero() && !d.After(civilDay(l)) {
		return "The document date cannot be before the period lock date, currently set at " + lockDateText(l)
	}
	return ""
}

// accountClass derives an account's Class from its Type, as Xero does.
func accountClass(typ string) string {
	switch typ {
	case "REVENUE", "SALES", "OTHERINCOME":
		return "REVENUE"
	case "EXPENSE", "OVERHEADS", "DIRECTCOSTS", "DEPRECIATN":
		return "EXPENSE"
	case "EQUITY":
		return "EQUITY"
	case "CURRLIAB", "LIABILITY", "TERMLIAB", "PAYG":
		return "LIABILITY"
	default:
		return "ASSET"
	}
}

func (s *Sim) getOrganisation(a *apiRequest) *response {
	c := a.org.cfg
	m := map[string]any{
		"OrganisationID":         a.org.id,
		"APIKey":                 strings.ToUpper(strings.ReplaceAll(a.org.id, "-", ""))[:30],
		"Name":                   c.Name,
		"LegalName":              c.LegalName,
		"PaysTax":                true,
		"Version":                c.Version,
		"OrganisationType":       "COMPANY",
		"BaseCurrency":           c.BaseCurrency,
		"CountryCode":            c.CountryCode,
		"IsDemoCompany":          c.Class == "DEMO",
		"OrganisationStatus":     "ACTIVE",
		"FinancialYearEndDay":    c.FinancialYearEndDay,
		"FinancialYearEndMonth":  c.FinancialYearEndMonth,
		"SalesTaxBasis":          "INVOICE",
		"SalesTaxPeriod":         "TWOMONTHS",
		"DefaultSalesTax":        "Tax Exclusive",
		"DefaultPurchasesTax":    "Tax Exclusive",
		"CreatedDateUTC":         msDateBare(a.org.created),
		"OrganisationEntityType": "COMPANY",
		"Timezone":               c.Timezone,
		"ShortCode":              c.ShortCode,
		"Edition":                "BUSINESS",
		"Class":                  c.Class,
		"Addresses":              []any{},
		"Phones":                 []any{},
		"ExternalLinks":          []any{},
		"PaymentTerms":           map[string]any{},
	}
	// "Shown if set" (spec Organisation.PeriodLockDate).
	if !c.PeriodLockDate.IsZero() {
		m["PeriodLockDate"] = msDate(civilDay(c.PeriodLockDate))
	}
	if !c.EndOfYearLockDate.IsZero() {
		m["EndOfYearLockDate"] = msDate(civilDay(c.EndOfYearLockDate))
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Organisations", []any{m}, nil))
}

func (s *Sim) getCurrencies(a *apiRequest) *response {
	c := a.org.cfg
	// Whether Xero lists the base currency is unconfirmed (XERO.md §7); it
	// is listed here because the organisation can certainly use it.
	items := []map[string]any{{"Code": c.BaseCurrency, "Description": currencyName(c.BaseCurrency)}}
	for _, cur := range c.Currencies {
		if strings.EqualFold(cur.Code, c.BaseCurrency) {
			continue
		}
		items = append(items, map[string]any{"Code": strings.ToUpper(cur.Code), "Description": cmp.Or(cur.Description, currencyName(cur.Code))})
	}
	matched, res := filterWhere(a, items, nil, func(it map[string]any) whereFields {
		return whereFields{"Currency", map[string]whereValue{
			"Code": strVal(it["Code"].(string)), "Description": strVal(it["Description"].(string)),
		}}
	})
	if res != nil {
		return res
	}
	out := make([]any, 0, len(matched))
	for _, it := range matched {
		out = append(out, it)
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Currencies", out, nil))
}

func currencyName(code string) string {
	names := map[string]string{
		"NZD": "New Zealand Dollar", "AUD": "Australian Dollar", "USD": "United States Dollar",
		"EUR": "Euro", "GBP": "British Pound", "CAD": "Canadian Dollar",
	}
	return cmp.Or(names[strings.ToUpper(code)], strings.ToUpper(code))
}

func accountFields(ac *Account) whereFields {
	return whereFields{"Account", map[string]whereValue{
		"AccountID":               guidVal(ac.AccountID),
		"Code":                    strVal(ac.Code),
		"Name":                    strVal(ac.Name),
		"Type":                    strVal(ac.Type),
		"Status":                  strVal(ac.Status),
		"TaxType":                 strVal(ac.TaxType),
		"Class":                   strVal(accountClass(ac.Type)),
		"EnablePaymentsToAccount": boolVal(ac.EnablePaymentsToAccount),
		"BankAccountNumber":       strVal(ac.BankAccountNumber),
		"CurrencyCode":            strVal(ac.CurrencyCode),
	}}
}

func accountJSON(ac *Account, updated time.Time) map[string]any {
	m := map[string]any{
		"AccountID":               ac.AccountID,
		"Code":                    ac.Code,
		"Name":                    ac.Name,
		"Type":                    ac.Type,
		"Status":                  ac.Status,
		"TaxType":                 ac.TaxType,
		"EnablePaymentsToAccount": ac.EnablePaymentsToAccount,
		"ShowInExpenseClaims":     false,
		"Class":                   accountClass(ac.Type),
		"ReportingCode":           "",
		"HasAttachments":          false,
		"UpdatedDateUTC":          msDate(updated),
		"AddToWatchlist":          false,
	}
	if ac.Description != "" {
		m["Description"] = ac.Description
	}
	if ac.Type == "BANK" {
		m["BankAccountNumber"] = ac.BankAccountNumber
		m["BankAccountType"] = "BANK"
		if ac.CurrencyCode != "" {
			m["CurrencyCode"] = ac.CurrencyCode
		}
	}
	return m
}

func (s *Sim) getAccounts(a *apiRequest) *response {
	matched, res := filterWhere(a, a.org.cfg.Accounts, func(ac Account) bool {
		return a.rt.id == "" || sameGUID(ac.AccountID, a.rt.id)
	}, func(ac Account) whereFields { return accountFields(&ac) })
	if res != nil {
		return res
	}
	if a.rt.id != "" && len(matched) == 0 {
		return notFoundResponse()
	}
	out := make([]any, 0, len(matched))
	for i := range matched {
		out = append(out, accountJSON(&matched[i], a.org.created))
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Accounts", out, nil))
}

func (s *Sim) getTaxRates(a *apiRequest) *response {
	filterType := cmp.Or(a.rt.id, a.query.Get("TaxType"))
	rateOf := func(t TaxRate) dec { return a.org.rates[strings.ToUpper(t.TaxType)] }
	matched, res := filterWhere(a, a.org.cfg.TaxRates, func(t TaxRate) bool {
		return filterType == "" || strings.EqualFold(t.TaxType, filterType)
	}, func(t TaxRate) whereFields {
		return whereFields{"TaxRate", map[string]whereValue{
			"TaxType":           strVal(t.TaxType),
			"Name":              strVal(t.Name),
			"Status":            strVal(t.Status),
			"ReportTaxType":     strVal(t.ReportTaxType),
			"CanApplyToRevenue": boolVal(t.CanApplyToRevenue),
			"EffectiveRate":     numVal(rateOf(t)),
		}}
	})
	if res != nil {
		return res
	}
	out := make([]any, 0, len(matched))
	for _, t := range matched {
		rate := rateOf(t)
		m := map[string]any{
			"Name":                  t.Name,
			"TaxType":               t.TaxType,
			"Status":                t.Status,
			"CanApplyToAssets":      t.CanApplyToAssets,
			"CanApplyToEquity":      t.CanApplyToEquity,
			"CanApplyToExpenses":    t.CanApplyToExpenses,
			"CanApplyToLiabilities": t.CanApplyToLiabilities,
			"CanApplyToRevenue":     t.CanApplyToRevenue,
			"DisplayTaxRate":        rate.Num(4),
			"EffectiveRate":         rate.Num(4),
			"TaxComponents": []any{map[string]any{
				"Name": cmp.Or(t.Name, t.TaxType), "Rate": rate.Num(4), "IsCompound": false, "IsNonRecoverable": false,
			}},
		}
		if t.ReportTaxType != "" {
			m["ReportTaxType"] = t.ReportTaxType
		}
		out = append(out, m)
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "TaxRates", out, nil))
}
