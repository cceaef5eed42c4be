package xerosim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

// invoiceOrg is DefaultOrg plus what the invoice rules need: an archived
// sales account, a deleted tax rate, USD enabled and lock dates.
func invoiceOrg(o *xerosim.OrgConfig) {
	o.Accounts = append(o.Accounts,
		xerosim.Account{Code: "201", Name: "Old Sales", Type: "REVENUE", Status: "ARCHIVED"},
		xerosim.Account{Code: "260", Name: "Other Revenue", Type: "OTHERINCOME", TaxType: "OUTPUT2"},
	)
	o.TaxRates = append(o.TaxRates, xerosim.TaxRate{TaxType: "OLDGST", Name: "12.5% GST", Status: "DELETED", EffectiveRate: "12.5", CanApplyToRevenue: true})
	o.Currencies = []xerosim.Currency{{Code: "USD"}}
	o.PeriodLockDate = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	o.EndOfYearLockDate = time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
}

func TestInvoiceValidation(t *testing.T) {
	t.Parallel()
	line := func(f map[string]any) map[string]any {
		l := map[string]any{"Description": "Widget", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT2"}
		for k, v := range f {
			if v == nil {
				delete(l, k)
			} else {
				l[k] = v
			}
		}
		return l
	}
	tests := []struct {
		name   string
		change func(inv map[string]any, ids map[string]string)
		want   string // "" for success
	}{
		{"valid", func(map[string]any, map[string]string) {}, ""},
		{"archived contact", func(inv map[string]any, ids map[string]string) {
			inv["Contact"] = map[string]any{"ContactID": ids["archived"]}
		}, "The contact with the specified contact details has been archived. The contact must be un-archived before creating new invoices or credit notes."},
		{"unknown contact", func(inv map[string]any, _ map[string]string) {
			inv["Contact"] = map[string]any{"ContactID": "00000000-0000-4000-8000-00000000beef"}
		}, "The contact with the specified ContactID could not be found."},
		{"no contact", func(inv map[string]any, _ map[string]string) { delete(inv, "Contact") }, "A Contact must be specified for this type of transaction"},
		{"unknown account", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"AccountCode": "999"})}
		}, "Account code '999' is not a valid code for this document."},
		{"archived account", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"AccountCode": "201"})}
		}, "Account code '201' is not a valid code for this document."},
		{"bank account on a sales line", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"AccountCode": "090"})}
		}, "Account code '090' is not a valid code for this document."},
		{"missing account on approved line", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"AccountCode": nil})}
		}, "Account must be valid."},
		{"unknown tax type", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"TaxType": "BOGUS"})}
		}, "The TaxType code 'BOGUS' does not exist or cannot be used for this type of transaction."},
		{"purchase tax on a sale", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"TaxType": "INPUT2"})}
		}, "The TaxType code 'INPUT2' does not exist or cannot be used for this type of transaction."},
		{"deleted tax rate", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"TaxType": "OLDGST"})}
		}, "The TaxType code 'OLDGST' does not exist or cannot be used for this type of transaction."},
		{"currency not subscribed", func(inv map[string]any, _ map[string]string) { inv["CurrencyCode"] = "EUR" }, "Organisation is not subscribed to currency EUR"},
		{"subscribed currency", func(inv map[string]any, _ map[string]string) { inv["CurrencyCode"] = "USD" }, ""},
		{"dated on the period lock date", func(inv map[string]any, _ map[string]string) { inv["Date"] = "2026-03-31" },
			"The document date cannot be before the period lock date, currently set at 31-Mar-2026"},
		{"dated before the end of year lock", func(inv map[string]any, _ map[string]string) { inv["Date"] = "2025-02-01" },
			"The document date cannot be before the end of year lock date, currently set at 31-Mar-2025"},
		{"day after the lock", func(inv map[string]any, _ map[string]string) { inv["Date"] = "2026-04-01" }, ""},
		{"draft in a locked period", func(inv map[string]any, _ map[string]string) {
			inv["Date"] = "2026-01-15"
			inv["Status"] = "DRAFT"
		}, ""},
		{"description required", func(inv map[string]any, _ map[string]string) {
			inv["LineItems"] = []any{line(map[string]any{"Description": ""})}
		}, "The description field is mandatory for each line item."},
		{"duplicate number", func(inv map[string]any, _ map[string]string) { inv["InvoiceNumber"] = "INV-EXISTING" }, "Invoice # must be unique."},
		{"cannot create as paid", func(inv map[string]any, _ map[string]string) { inv["Status"] = "PAID" }, "Invoice not of valid status for creation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, withOrg(invoiceOrg))
			ids := map[string]string{
				"active":   e.addContact(map[string]any{"Name": "Active Customer"}),
				"archived": e.addContact(map[string]any{"Name": "Archived Customer", "ContactStatus": "ARCHIVED"}),
			}
			e.addInvoice(invoiceBody(ids["active"], "INV-EXISTING"))
			inv := invoiceBody(ids["active"], "INV-NEW")
			inv["Date"] = "2026-05-01"
			tc.change(inv, ids)
			r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{inv}}).mustOK(t)
			got := r.items(t, "Invoices")[0]
			saved := e.sim.InvoiceCreations(e.tenant, "INV-NEW")
			if tc.want == "" {
				if got["HasErrors"] != false || got["StatusAttributeString"] != "OK" || saved != 1 {
					t.Fatalf("want success: %s", r.Body)
				}
				return
			}
			if msgs := validationMessages(got); !slices.Contains(msgs, tc.want) || got["HasErrors"] != true || got["StatusAttributeString"] != "ERROR" {
				t.Fatalf("want %q, got %v\n%s", tc.want, msgs, r.Body)
			}
			if saved != 0 {
				t.Fatal("failed invoice was saved")
			}
		})
	}
}

func TestInvoiceTotals(t *testing.T) {
	t.Parallel()
	type line = map[string]any
	tests := []struct {
		name     string
		query    string
		lat      string
		lines    []line
		lineAmts []string // LineAmount per line
		taxAmts  []string
		unit     string // UnitAmount text of line 0 as returned
		qty      string // Quantity text of line 0
		sub, tax string
		total    string
		discount string // TotalDiscount, "" when absent
	}{
		{"exclusive", "", "Exclusive",
			[]line{{"Quantity": json.Number("2"), "UnitAmount": json.Number("20")}},
			[]string{"40.00"}, []string{"6.00"}, "20.00", "2.0000", "40.00", "6.00", "46.00", ""},
		{"inclusive", "", "Inclusive",
			[]line{{"Quantity": json.Number("1"), "UnitAmount": json.Number("115")}},
			[]string{"115.00"}, []string{"15.00"}, "115.00", "1.0000", "100.00", "15.00", "115.00", ""},
		{"no tax", "", "NoTax",
			[]line{{"Quantity": json.Number("3"), "UnitAmount": json.Number("10")}},
			[]string{"30.00"}, []string{"0.00"}, "10.00", "3.0000", "30.00", "0.00", "30.00", ""},
		{"discount rate", "", "Exclusive",
			[]line{{"Quantity": json.Number("3"), "UnitAmount": json.Number("33.33"), "DiscountRate": json.Number("10")}},
			[]string{"89.99"}, []string{"13.50"}, "33.33", "3.0000", "89.99", "13.50", "103.49", "10.00"},
		{"unitdp=4 keeps 4 places", "&unitdp=4", "Exclusive",
			[]line{{"Quantity": json.Number("3"), "UnitAmount": json.Number("1.2345")}},
			[]string{"3.70"}, []string{"0.56"}, "1.2345", "3.0000", "3.70", "0.56", "4.26", ""},
		{"without unitdp rounds the unit to 2", "", "Exclusive",
			[]line{{"Quantity": json.Number("3"), "UnitAmount": json.Number("1.2345")}},
			[]string{"3.69"}, []string{"0.55"}, "1.23", "3.0000", "3.69", "0.55", "4.24", ""},
		{"tax rounds per line", "", "Exclusive",
			[]line{{"Quantity": 1, "UnitAmount": json.Number("0.10")}, {"Quantity": 1, "UnitAmount": json.Number("0.10")}, {"Quantity": 1, "UnitAmount": json.Number("0.10")}},
			[]string{"0.10", "0.10", "0.10"}, []string{"0.02", "0.02", "0.02"}, "0.10", "1.0000", "0.30", "0.06", "0.36", ""},
		{"tax type NONE", "", "Exclusive",
			[]line{{"Quantity": 1, "UnitAmount": 100, "TaxType": "NONE"}},
			[]string{"100.00"}, []string{"0.00"}, "100.00", "1.0000", "100.00", "0.00", "100.00", ""},
		{"line amount only", "", "Exclusive",
			[]line{{"LineAmount": json.Number("50")}},
			[]string{"50.00"}, []string{"7.50"}, "50.00", "1.0000", "50.00", "7.50", "57.50", ""},
		{"fractional quantity", "", "Exclusive",
			[]line{{"Quantity": json.Number("1.5"), "UnitAmount": json.Number("10")}},
			[]string{"15.00"}, []string{"2.25"}, "10.00", "1.5000", "15.00", "2.25", "17.25", ""},
		{"tax amount override", "", "Exclusive",
			[]line{{"Quantity": 1, "UnitAmount": 100, "TaxAmount": json.Number("14.99")}},
			[]string{"100.00"}, []string{"14.99"}, "100.00", "1.0000", "100.00", "14.99", "114.99", ""},
		{"default tax type from account", "", "Exclusive",
			[]line{{"Quantity": 1, "UnitAmount": 10, "TaxType": nil}},
			[]string{"10.00"}, []string{"1.50"}, "10.00", "1.0000", "10.00", "1.50", "11.50", ""},
		{"amounts as strings", "", "Exclusive",
			[]line{{"Quantity": "2", "UnitAmount": "0.335"}},
			[]string{"0.68"}, []string{"0.10"}, "0.34", "2.0000", "0.68", "0.10", "0.78", ""},
	}
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Totals Ltd"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []any
			for _, l := range tc.lines {
				full := map[string]any{"Description": "x", "AccountCode": "200", "TaxType": "OUTPUT2"}
				for k, v := range l {
					if v == nil {
						delete(full, k)
					} else {
						full[k] = v
					}
				}
				lines = append(lines, full)
			}
			inv := invoiceBody(cid, "")
			delete(inv, "InvoiceNumber")
			inv["LineAmountTypes"] = tc.lat
			inv["LineItems"] = lines
			r := e.call(http.MethodPut, "Invoices?summarizeErrors=false"+tc.query, map[string]any{"Invoices": []any{inv}}).mustOK(t)
			got := r.items(t, "Invoices")[0]
			if got["HasErrors"] != false {
				t.Fatalf("errors: %s", r.Body)
			}
			li := got["LineItems"].([]any)
			for i := range tc.lineAmts {
				l := li[i].(map[string]any)
				if num(l["LineAmount"]) != tc.lineAmts[i] || num(l["TaxAmount"]) != tc.taxAmts[i] {
					t.Errorf("line %d: LineAmount %s TaxAmount %s, want %s %s", i, num(l["LineAmount"]), num(l["TaxAmount"]), tc.lineAmts[i], tc.taxAmts[i])
				}
			}
			l0 := li[0].(map[string]any)
			if num(l0["UnitAmount"]) != tc.unit || num(l0["Quantity"]) != tc.qty {
				t.Errorf("UnitAmount %s Quantity %s, want %s %s", num(l0["UnitAmount"]), num(l0["Quantity"]), tc.unit, tc.qty)
			}
			if num(got["SubTotal"]) != tc.sub || num(got["TotalTax"]) != tc.tax || num(got["Total"]) != tc.total || num(got["AmountDue"]) != tc.total || num(got["AmountPaid"]) != "0.00" {
				t.Errorf("totals: SubTotal %s TotalTax %s Total %s AmountDue %s, want %s %s %s", num(got["SubTotal"]), num(got["TotalTax"]), num(got["Total"]), num(got["AmountDue"]), tc.sub, tc.tax, tc.total)
			}
			if d, ok := got["TotalDiscount"]; (tc.discount == "" && ok) || (tc.discount != "" && num(d) != tc.discount) {
				t.Errorf("TotalDiscount %v, want %q", d, tc.discount)
			}
		})
	}
}

func TestInvoiceStatusAndVoid(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Void Ltd"})
	void := func(id string) *result {
		return e.call(http.MethodPost, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{map[string]any{"InvoiceID": id, "Status": "VOIDED"}}}).mustOK(t)
	}
	firstError := func(r *result) string {
		msgs := validationMessages(r.JSON(t))
		if len(msgs) == 0 {
			return ""
		}
		return msgs[0]
	}

	id := e.addInvoice(invoiceBody(cid, "V-1"))
	r := void(id)
	if got := r.items(t, "Invoices")[0]; got["Status"] != "VOIDED" || num(got["AmountDue"]) != "0.00" || num(got["Total"]) != "46.00" {
		t.Fatalf("void: %s", r.Body)
	}
	if msg := firstError(void(id)); msg != "Invoice not of valid status for modification" {
		t.Errorf("void twice: %q", msg)
	}

	paid := e.addInvoice(invoiceBody(cid, "V-2"))
	e.call(http.MethodPut, "Payments", map[string]any{"Payments": []any{map[string]any{"Invoice": map[string]any{"InvoiceID": paid}, "Account": map[string]any{"Code": "090"}, "Amount": 10, "Date": "2026-05-02"}}}).mustOK(t)
	if msg := firstError(void(paid)); msg != "This document cannot be edited as it has a payment or credit note allocated to it." {
		t.Errorf("void with payment: %q", msg)
	}
	r = e.call(http.MethodPost, "Invoices/"+paid+"?summarizeErrors=false", map[string]any{"LineItems": []any{map[string]any{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}}}).mustOK(t)
	if msg := firstError(r); msg != "This document cannot be edited as it has a payment or credit note allocated to it." {
		t.Errorf("edit lines with payment: %q", msg)
	}
	// Reference can still change on a part-paid invoice.
	e.call(http.MethodPost, "Invoices/"+paid, map[string]any{"Reference": "new ref"}).mustOK(t)

	draft := invoiceBody(cid, "V-3")
	draft["Status"] = "DRAFT"
	did := e.addInvoice(draft)
	r = e.call(http.MethodPost, "Invoices/"+did, map[string]any{"Status": "DELETED"}).mustOK(t)
	if got := r.items(t, "Invoices")[0]["Status"]; got != "DELETED" {
		t.Errorf("delete draft: %v", got)
	}
	auth := e.addInvoice(invoiceBody(cid, "V-4"))
	if msg := firstError(e.call(http.MethodPost, "Invoices/"+auth+"?summarizeErrors=false", map[string]any{"Status": "DRAFT"})); msg != "Invoice not of valid status for modification" {
		t.Errorf("authorised back to draft: %q", msg)
	}
	// Voiding a document in a period locked since it was approved.
	if err := e.sim.UpdateOrg(e.tenant, func(o *xerosim.OrgConfig) { o.PeriodLockDate = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) }); err != nil {
		t.Fatal(err)
	}
	if msg := firstError(void(auth)); msg != "The document date cannot be before the period lock date, currently set at 01-May-2026" {
		t.Errorf("void in locked period: %q", msg)
	}
}

func TestInvoicePostByNumberAndAutoNumber(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Numbers Ltd"})
	id := e.addInvoice(invoiceBody(cid, "INV-7"))
	r := e.call(http.MethodPost, "Invoices", map[string]any{"Invoices": []any{map[string]any{"Type": "ACCREC", "InvoiceNumber": "INV-7", "Reference": "changed"}}}).mustOK(t)
	got := r.items(t, "Invoices")[0]
	if got["InvoiceID"] != id || got["Reference"] != "changed" || num(got["Total"]) != "46.00" {
		t.Errorf("POST by number: %s", r.Body)
	}
	if n := e.sim.InvoiceCreations(e.tenant, "INV-7"); n != 1 {
		t.Errorf("created %d times", n)
	}
	r = e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{invoiceBody(cid, "inv-7")}}).mustOK(t)
	if msgs := validationMessages(r.JSON(t)); !slices.Equal(msgs, []string{"Invoice # must be unique."}) {
		t.Errorf("PUT duplicate (other case): %v", msgs)
	}
	for _, want := range []string{"INV-0001", "INV-0002"} {
		inv := invoiceBody(cid, "")
		delete(inv, "InvoiceNumber")
		r := e.call(http.MethodPut, "Invoices", inv).mustOK(t)
		if got := r.items(t, "Invoices")[0]["InvoiceNumber"]; got != want {
			t.Errorf("auto number %v, want %s", got, want)
		}
	}
	// An invoice may name a new contact; Xero creates it with the invoice.
	walkIn := invoiceBody("", "INV-8")
	walkIn["Contact"] = map[string]any{"Name": "Walk-in Customer"}
	e.addInvoice(walkIn)
	if n := len(e.sim.Contacts(e.tenant)); n != 2 {
		t.Errorf("contacts after invoice to a new name: %d", n)
	}
	walkIn["InvoiceNumber"] = "INV-9"
	walkIn["Contact"] = map[string]any{"Name": "walk-in customer"}
	e.addInvoice(walkIn)
	if n := len(e.sim.Contacts(e.tenant)); n != 2 {
		t.Errorf("invoice to an existing name created a contact: %d contacts", n)
	}
	// Renumbering moves the invoice to its new number and frees the old one.
	e.call(http.MethodPost, "Invoices/"+id, map[string]any{"InvoiceNumber": "INV-70"}).mustOK(t)
	if got := e.call(http.MethodGet, "Invoices/inv-70", nil).mustOK(t).items(t, "Invoices")[0]["InvoiceID"]; got != id {
		t.Errorf("by new number: %v, want %s", got, id)
	}
	if r := e.call(http.MethodGet, "Invoices/INV-7", nil); r.Status != http.StatusNotFound {
		t.Errorf("by old number: %d %s", r.Status, r.Body)
	}
	if reused := e.addInvoice(invoiceBody(cid, "INV-7")); reused == id {
		t.Errorf("the old number still addresses %s", id)
	}
}

func TestGetInvoicesFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1 := e.addContact(map[string]any{"Name": "One"})
	c2 := e.addContact(map[string]any{"Name": "Two"})
	a1 := e.addInvoice(invoiceBody(c1, "A-1"))
	d := invoiceBody(c2, "A-2")
	d["Status"] = "DRAFT"
	a2 := e.addInvoice(d)
	b3 := invoiceBody(c1, "A-3")
	b3["Reference"] = "R-3"
	a3 := e.addInvoice(b3)
	// An invoice another app created, SUBMITTED and for a contact of its
	// own so that only the rows about it see it: createdByMyApp must leave
	// it out.
	other := e.connect("other-app", "other-secret", allScopes)
	b4 := invoiceBody(e.addContact(map[string]any{"Name": "Four"}), "A-4")
	b4["Status"] = "SUBMITTED"
	r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": []any{b4}}, withToken(other.Access)).mustOK(t)
	a4 := r.items(t, "Invoices")[0]["InvoiceID"].(string)
	tests := []struct {
		query string
		want  []string
	}{
		{"InvoiceNumbers=A-1,A-3", []string{a1, a3}},
		{"IDs=" + a2, []string{a2}},
		{"Statuses=DRAFT", []string{a2}},
		{"Statuses=AUTHORISED,DRAFT", []string{a1, a2, a3}},
		{"ContactIDs=" + c1, []string{a1, a3}},
		{`where=InvoiceNumber=="A-2"`, []string{a2}},
		{`where=Reference=="R-3"`, []string{a3}},
		{`where=Contact.ContactID==Guid("` + c2 + `")`, []string{a2}},
		{`where=Status=="AUTHORISED"&&Total>40`, []string{a1, a3}},
		{"searchTerm=r-3", []string{a3}},
		{"page=1&pageSize=2", []string{a1, a2}},
		{"page=3&pageSize=2", nil},
		{"Statuses=SUBMITTED", []string{a4}},
		{"createdByMyApp=true", []string{a1, a2, a3}},
	}
	for _, tc := range tests {
		q, _ := url.ParseQuery(tc.query)
		r := e.call(http.MethodGet, "Invoices?"+q.Encode(), nil).mustOK(t)
		var got []string
		for _, inv := range r.items(t, "Invoices") {
			got = append(got, inv["InvoiceID"].(string))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}
	r = e.call(http.MethodGet, "Invoices/A-3", nil).mustOK(t)
	if got := r.items(t, "Invoices")[0]; got["InvoiceID"] != a3 || got["DateString"] != "2026-05-01T00:00:00" || got["Date"] != "/Date(1777593600000+0000)/" {
		t.Errorf("by number: %v %v %v", got["InvoiceID"], got["DateString"], got["Date"])
	}
	if r := e.call(http.MethodGet, "Invoices/00000000-0000-4000-8000-000000000000", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown invoice: %d", r.Status)
	}
}

// A request body over Xero's 3.5 MB (the simulator takes it as 3.5 MiB, the larger reading; our client keeps under 3,500,000 bytes) is refused whole, before anything in it is saved (XERO.md
// §2: "a single POST or PUT to the Accounting API is limited to 3.5 MB"), whatever its
// elements; one just under the limit goes through.
func TestBodyOverLimitIsRefusedWhole(t *testing.T) {
	t.Parallel()
	e := setup(t)
	invoice := func(number string, lines, width int) map[string]any {
		var items []any
		for i := range lines {
			items = append(items, map[string]any{"Description": fmt.Sprintf("%d %s", i, strings.Repeat("x", width)), "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"})
		}
		inv := invoiceBody(e.addContact(map[string]any{"Name": "Big " + number}), number)
		inv["LineItems"] = items
		return inv
	}
	big := []any{invoice("BIG-1", 480, 4000), invoice("BIG-2", 480, 4000)} // 3.9 MB
	if r := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": big}, withKey("big")); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 3.9 MB body: %d, want 413", r.Status)
	}
	if n := len(e.sim.Invoices(e.tenant)); n != 0 {
		t.Fatalf("%d invoices saved from a refused body", n)
	}
	e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": big[:1]}, withKey("half")).mustOK(t)
}

// Xero's documented field limits (XERO.md §10b) fail the element that breaks
// one, and only that element.
func TestInvoiceFieldLimits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cid := e.addContact(map[string]any{"Name": "Limits Ltd"})
	line := func(inv map[string]any, k string, v any) map[string]any {
		inv["LineItems"].([]any)[0].(map[string]any)[k] = v
		return inv
	}
	elems := []struct {
		body map[string]any
		msg  string // "" when it must be saved
	}{
		// (An InvoiceNumber over 255 is refused too, but its echo breaks the
		// spec's maxLength, which this test's client checks responses against.)
		{func() map[string]any { b := invoiceBody(cid, strings.Repeat("9", 255)); b["Reference"] = "R"; return b }(), ""},
		{invoiceBody(cid, "INV-№1"), "Invoice number must contain printable ASCII characters only."},
		{func() map[string]any {
			b := invoiceBody(cid, "L-1")
			b["Reference"] = strings.Repeat("r", 256)
			return b
		}(), "Reference must not be longer than 255 characters."},
		{line(invoiceBody(cid, "L-2"), "Description", strings.Repeat("d", 4001)), "Description must not be longer than 4000 characters."},
		{line(invoiceBody(cid, "L-3"), "Quantity", json.Number("123456789.1234")), "Quantity must not be longer than 13 characters."},
		{line(line(invoiceBody(cid, "L-4"), "Quantity", json.Number("2")), "UnitAmount", json.Number("5000000000")), "Line amount must not be more than 9,999,999,999.99."},
		{line(line(invoiceBody(cid, "L-5"), "Quantity", json.Number("1")), "UnitAmount", json.Number("9999999999.99")), ""},
	}
	var all []any
	for _, el := range elems {
		all = append(all, el.body)
	}
	items := e.call(http.MethodPut, "Invoices?summarizeErrors=false", map[string]any{"Invoices": all}).mustOK(t).items(t, "Invoices")
	for i, el := range elems {
		msgs := validationMessages(items[i])
		if el.msg == "" && (items[i]["HasErrors"] != false || len(msgs) != 0) {
			t.Errorf("element %d refused: %v", i, msgs)
		}
		if el.msg != "" && (items[i]["HasErrors"] != true || !slices.Contains(msgs, el.msg)) {
			t.Errorf("element %d: %v, want %q", i, msgs, el.msg)
		}
	}
}
