package preflight

import (
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

// good is an organisation where every mapping of goodFacts passes: the judgement's baseline.
func good() Settings {
	return Settings{
		Org: xero.Organisation{Name: "Demo", BaseCurrency: "NZD", OrganisationStatus: "ACTIVE"},
		Accounts: []xero.Account{
			{Code: "200", Name: "Sales", Type: "REVENUE", Status: "ACTIVE"},
			{Code: "090", Name: "Business Bank", Type: "BANK", Status: "ACTIVE"},
			{Code: "610", Name: "Receivable clearing", Type: "CURRLIAB", Status: "ACTIVE", EnablePaymentsToAccount: true},
			{Code: "260", Name: "Old Sales", Type: "REVENUE", Status: "ARCHIVED"},
		},
		TaxRates: []xero.TaxRate{
			{Name: "15% GST on Income", TaxType: "OUTPUT2", Status: "ACTIVE", CanApplyToRevenue: true},
			{Name: "No GST", TaxType: "NONE", Status: "ACTIVE", CanApplyToRevenue: true},
			{Name: "15% GST on Expenses", TaxType: "INPUT2", Status: "ACTIVE"},
			{Name: "Old GST", TaxType: "OUTPUT", Status: "DELETED", CanApplyToRevenue: true},
		},
		Currencies: []xero.Currency{{Code: "NZD"}, {Code: "AUD"}},
	}
}

func key(s string) *string { return &s }

func goodFacts() Facts {
	return Facts{
		Mappings: []Mapping{
			{Kind: "account", Key: key("consulting"), Target: "200"},
			{Kind: "payment", Key: key("card"), Target: "090"},
			{Kind: "tax", Key: key("GST15"), Target: "OUTPUT2"},
			{Kind: "tax", Key: nil, Target: "NONE"},
		},
		Currencies: []CurrencyUse{{Code: "NZD", Invoices: 3}},
	}
}

func date(s string) xero.Date {
	d, err := xero.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestJudge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		x      func(*Settings)
		f      func(*Facts)
		checks int
		// The problem lines' texts must contain these, in this order; no other problem line.
		problems []string
		notes    []string
	}{
		{name: "all good", checks: 6, notes: []string{"no lock date is set in Xero"}},
		{
			name:     "organisation not active",
			x:        func(x *Settings) { x.Org.OrganisationStatus = "SUSPENDED" },
			checks:   7,
			problems: []string{"status is SUSPENDED, so the API cannot post to it; fix: reactivate"},
		},
		{
			name:   "status unknown is not a problem",
			x:      func(x *Settings) { x.Org.OrganisationStatus = "" },
			checks: 6,
		},
		{
			name:     "account missing",
			f:        func(f *Facts) { f.Mappings[0].Target = "999" },
			checks:   6,
			problems: []string{`revenue category "consulting" maps to account code 999, which does not exist in Xero (rows fail with InvalidAccountCode); fix: create account 999`},
		},
		{
			name:     "account archived",
			f:        func(f *Facts) { f.Mappings[0].Target = "260" },
			checks:   6,
			problems: []string{`maps to account 260 "Old Sales", which is ARCHIVED in Xero`},
		},
		{
			name:   "account codes match ignoring case",
			x:      func(x *Settings) { x.Accounts[0].Code = "SALES" },
			f:      func(f *Facts) { f.Mappings[0].Target = "sales" },
			checks: 6,
		},
		{
			name:     "payment account cannot receive payments",
			f:        func(f *Facts) { f.Mappings[1].Target = "200" },
			checks:   6,
			problems: []string{`payment method "card" maps to account 200 "Sales" (type REVENUE), which cannot receive payments; fix: tick "Enable payments to this account"`},
		},
		{
			name:   "a non-bank account with payments enabled takes payments",
			f:      func(f *Facts) { f.Mappings[1].Target = "610" },
			checks: 6,
		},
		{
			name:     "tax type missing",
			f:        func(f *Facts) { f.Mappings[2].Target = "GST99" },
			checks:   6,
			problems: []string{`tax component "GST15" maps to tax type GST99, which does not exist in Xero (rows fail with TaxRateNotFound)`},
		},
		{
			name:     "tax type deleted",
			f:        func(f *Facts) { f.Mappings[2].Target = "OUTPUT" },
			checks:   6,
			problems: []string{`maps to tax type OUTPUT (Old GST), which is DELETED in Xero`},
		},
		{
			name:     "purchase tax type on sales",
			f:        func(f *Facts) { f.Mappings[2].Target = "INPUT2" },
			checks:   6,
			problems: []string{`maps to tax type INPUT2 (15% GST on Expenses), which Xero does not allow on sales`},
		},
		{
			name:     "lines without a tax component need NONE",
			x:        func(x *Settings) { x.TaxRates = x.TaxRates[:1] },
			checks:   6,
			problems: []string{`lines without a tax component maps to tax type NONE, which does not exist`},
		},
		{
			name: "unmapped values, in the order read",
			f: func(f *Facts) {
				f.Unmapped = []Unmapped{{"account", "hardware", 7}, {"tax", "VAT20", 2}, {"payment", "cash", 1}}
			},
			checks: 9,
			problems: []string{
				`revenue category "hardware" (on 7 invoice lines) has no Xero account code, so those invoices fail with MappingMissing`,
				`tax component "VAT20" (on 2 invoice lines) has no Xero tax type`,
				`payment method "cash" (1 payments) has no Xero payment account`,
			},
		},
		{
			name:   "currency: the base and subscribed ones, any case",
			f:      func(f *Facts) { f.Currencies = []CurrencyUse{{"nzd", 1}, {"AUD", 2}} },
			checks: 7,
		},
		{
			name:     "currency not subscribed names the retry",
			f:        func(f *Facts) { f.Currencies = append(f.Currencies, CurrencyUse{"EUR", 1}) },
			checks:   7,
			problems: []string{`1 invoices are in EUR, which the Xero organisation is not subscribed to (rows fail with CurrencyNotEnabled); fix: add EUR under Settings → Currencies in Xero, then xerosync retry --tenant T1 --code CurrencyNotEnabled`},
		},
		{
			name:   "lock date with nothing queued before it",
			x:      func(x *Settings) { x.Org.PeriodLockDate = date("2026-02-28") },
			checks: 6,
			notes:  []string{"Xero's period lock date is 2026-02-28: invoices and payments dated on or before it are refused"},
		},
		{
			name: "both lock dates: the later binds",
			x: func(x *Settings) {
				x.Org.PeriodLockDate = date("2026-02-28")
				x.Org.EndOfYearLockDate = date("2025-03-31")
			},
			f:      func(f *Facts) { f.LockedInvoices, f.LockedPayments = 2, 1 },
			checks: 6,
			notes: []string{
				"Xero's period lock date is 2026-02-28",
				"Xero's end of year lock date is 2025-03-31",
			},
			problems: []string{`2 queued invoices and 1 queued payments are dated on or before the lock date 2026-02-28 (they fail with PeriodLocked); fix: ask the accountant to move the lock date in Xero (Settings → Advanced → Financial settings), then xerosync retry --tenant T1 --code PeriodLocked, or cancel them`},
		},
		{
			name:   "no mappings at all: nothing to judge but currencies and lock",
			f:      func(f *Facts) { f.Mappings = nil },
			checks: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			x, f := good(), goodFacts()
			if c.x != nil {
				c.x(&x)
			}
			if c.f != nil {
				c.f(&f)
			}
			r := Judge("T1", x, f)
			var problems, notes []string
			for _, l := range r.Lines {
				if l.Problem {
					problems = append(problems, l.Text)
					if !strings.Contains(l.Text, "; fix: ") {
						t.Errorf("a problem without its fix: %s", l.Text)
					}
				} else {
					notes = append(notes, l.Text)
				}
			}
			if r.Checks != c.checks || r.Problems != len(c.problems) || len(problems) != len(c.problems) {
				t.Fatalf("%d checks, %d problems, want %d and %d:\n%s", r.Checks, r.Problems, c.checks, len(c.problems), strings.Join(problems, "\n"))
			}
			for i, want := range c.problems {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d:\n got %s\nwant …%s…", i, problems[i], want)
				}
			}
			for _, want := range c.notes {
				if !containsAny(notes, want) {
					t.Errorf("no note %q in %q", want, notes)
				}
			}
		})
	}
}

func containsAny(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}
