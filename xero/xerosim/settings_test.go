package xerosim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

func TestOrganisation(t *testing.T) {
	t.Parallel()
	e := setup(t, withOrg(func(o *xerosim.OrgConfig) {
		o.PeriodLockDate = time.Date(2018, 11, 30, 0, 0, 0, 0, time.UTC)
		o.Class = "STARTER"
	}))
	org := e.call(http.MethodGet, "Organisation", nil).mustOK(t).items(t, "Organisations")[0]
	want := map[string]any{
		"OrganisationID": e.tenant, "Name": "Acme Ltd", "BaseCurrency": "NZD", "CountryCode": "NZ",
		"OrganisationStatus": "ACTIVE", "Class": "STARTER", "PeriodLockDate": "/Date(1543536000000+0000)/",
	}
	for k, v := range want {
		if org[k] != v {
			t.Errorf("%s = %v, want %v", k, org[k], v)
		}
	}
	if _, ok := org["EndOfYearLockDate"]; ok {
		t.Error("EndOfYearLockDate shown although not set")
	}
	if num(org["FinancialYearEndDay"]) != "31" || num(org["FinancialYearEndMonth"]) != "3" {
		t.Errorf("financial year end: %v/%v", org["FinancialYearEndDay"], org["FinancialYearEndMonth"])
	}
	// Envelope.
	env := e.call(http.MethodGet, "Organisation", nil).mustOK(t).JSON(t)
	if env["Status"] != "OK" || env["ProviderName"] != "xerosync test" || env["DateTimeUTC"] != "/Date(1778749200000)/" {
		t.Errorf("envelope: %v", env)
	}
}

func TestCurrenciesAccountsTaxRates(t *testing.T) {
	t.Parallel()
	e := setup(t, withOrg(func(o *xerosim.OrgConfig) {
		o.Currencies = []xerosim.Currency{{Code: "USD"}, {Code: "AUD", Description: "Aussie"}}
		o.Accounts = append(o.Accounts, xerosim.Account{Code: "201", Name: "Old", Type: "SALES", Status: "ARCHIVED"})
	}))
	var codes []string
	for _, c := range e.call(http.MethodGet, "Currencies", nil).mustOK(t).items(t, "Currencies") {
		codes = append(codes, c["Code"].(string))
	}
	if !slices.Equal(codes, []string{"NZD", "USD", "AUD"}) {
		t.Errorf("currencies: %v", codes)
	}
	// Enabling a currency later is what a user does before a retry.
	if err := e.sim.UpdateOrg(e.tenant, func(o *xerosim.OrgConfig) { o.Currencies = append(o.Currencies, xerosim.Currency{Code: "EUR"}) }); err != nil {
		t.Fatal(err)
	}
	if n := len(e.call(http.MethodGet, "Currencies", nil).mustOK(t).items(t, "Currencies")); n != 4 {
		t.Errorf("after enabling EUR: %d currencies", n)
	}

	accounts := func(q string) []string {
		var out []string
		for _, a := range e.call(http.MethodGet, "Accounts?"+q, nil).mustOK(t).items(t, "Accounts") {
			out = append(out, a["Code"].(string))
		}
		return out
	}
	if got := accounts(""); !slices.Equal(got, []string{"200", "090", "201"}) {
		t.Errorf("accounts: %v", got)
	}
	if got := accounts(url.Values{"where": {`Status=="ACTIVE"`}}.Encode()); !slices.Equal(got, []string{"200", "090"}) {
		t.Errorf("active accounts: %v", got)
	}
	if got := accounts(url.Values{"where": {`Type=="BANK"||EnablePaymentsToAccount==true`}}.Encode()); !slices.Equal(got, []string{"090"}) {
		t.Errorf("payment accounts: %v", got)
	}
	acc := e.call(http.MethodGet, "Accounts", nil).mustOK(t).items(t, "Accounts")[0]
	if acc["Class"] != "REVENUE" || acc["Type"] != "REVENUE" || acc["Status"] != "ACTIVE" || acc["TaxType"] != "OUTPUT2" {
		t.Errorf("account 200: %v", acc)
	}

	rates := e.call(http.MethodGet, "TaxRates?"+url.Values{"where": {`Status=="ACTIVE"&&CanApplyToRevenue==true`}}.Encode(), nil).mustOK(t).items(t, "TaxRates")
	var types []string
	for _, r := range rates {
		types = append(types, r["TaxType"].(string))
	}
	if !slices.Equal(types, []string{"OUTPUT2", "NONE"}) {
		t.Errorf("revenue tax rates: %v", types)
	}
	if rates[0]["EffectiveRate"] != json.Number("15.0000") || rates[0]["CanApplyToRevenue"] != true {
		t.Errorf("OUTPUT2: %v", rates[0])
	}
}

func TestDefaultOrgAndAddOrgErrors(t *testing.T) {
	t.Parallel()
	sim := xerosim.New(xerosim.Config{})
	id, err := sim.AddOrg(xerosim.DefaultOrg("One"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AddOrg(xerosim.OrgConfig{OrganisationID: id}); err == nil {
		t.Error("duplicate OrganisationID accepted")
	}
	if _, err := sim.AddOrg(xerosim.OrgConfig{TaxRates: []xerosim.TaxRate{{TaxType: "X", EffectiveRate: "fifteen"}}}); err == nil {
		t.Error("bad EffectiveRate accepted")
	}
	if err := sim.UpdateOrg("00000000-0000-4000-8000-000000000000", func(*xerosim.OrgConfig) {}); err == nil {
		t.Error("UpdateOrg of an unknown tenant succeeded")
	}
	cfg, ok := sim.OrgConfig(id)
	if !ok || cfg.BaseCurrency != "NZD" || len(cfg.Accounts) != 2 || len(cfg.TaxRates) != 3 || cfg.Accounts[0].AccountID == "" {
		t.Errorf("default org: %+v", cfg)
	}
}
