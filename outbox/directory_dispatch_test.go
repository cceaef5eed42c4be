package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// contactCalls sorts the simulator's requests since before: directory reads (summaryOnly,
// with If-Modified-Since or not), per-contact lookups (searchTerm, where: the design before
// the directory), creates and updates, and the element count of each create.
type contactCalls struct {
	fills, refreshes, lookups, creates, updates int
	createSizes                                 []int
	pages                                       []string
}

func countContactCalls(t *testing.T, s *dsetup, before int) contactCalls {
	t.Helper()
	var c contactCalls
	for _, r := range s.sim.Requests()[before:] {
		if r.Endpoint != epContacts {
			continue
		}
		switch {
		case r.Method == "GET" && strings.Contains(r.Query, "summaryOnly=true") && !strings.Contains(r.Query, "where=") && !strings.Contains(r.Query, "searchTerm="):
			if !strings.Contains(r.Query, "includeArchived=true") || !strings.Contains(r.Query, "pageSize=1000") {
				t.Errorf("directory read without includeArchived or pageSize=1000: %s", r.Query)
			}
			if r.Header.Get("If-Modified-Since") != "" {
				c.refreshes++
			} else {
				c.fills++
				c.pages = append(c.pages, r.Query)
			}
		case r.Method == "GET":
			c.lookups++
		case r.Method == "PUT":
			c.creates++
			var body struct{ Contacts []json.RawMessage }
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			c.createSizes = append(c.createSizes, len(body.Contacts))
		case r.Method == "POST":
			c.updates++
		}
	}
	return c
}

// seedContacts makes contacts in Xero through org, 50 a call: the accountant's
// (dsetup.accountant) for an organisation's own, ours for what a crashed run made.
func seedContacts(t *testing.T, org *xero.Org, cs []xero.Contact) []string {
	t.Helper()
	var ids []string
	for start := 0; start < len(cs); start += 50 {
		res, err := org.CreateContacts(context.Background(), xero.CreateContactsParams{
			Contacts: cs[start:min(start+50, len(cs))], IdempotencyKey: fmt.Sprint("seed-", start, "-", cs[start].Name)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.OK() {
				t.Fatalf("seed contact: %+v", r)
			}
			ids = append(ids, r.XeroID)
		}
	}
	return ids
}

// The directory is filled by a paged read of every contact, archived ones included, and
// new customers link from it by email in another letter case — an archived contact too —
// with no lookup of their own.
func TestDirectoryFillPagedWithArchived(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	var seed []xero.Contact
	for i := range 1050 {
		seed = append(seed, xero.Contact{Name: fmt.Sprintf("Seed %04d", i), EmailAddress: fmt.Sprintf("seed%04d@example.com", i)})
	}
	seed = append(seed, xero.Contact{Name: "Old Client", EmailAddress: "Archived@Example.com", ContactStatus: "ARCHIVED"})
	ids := seedContacts(t, s.accountant(), seed)
	archived := ids[len(ids)-1]

	_, aRow := s.contact("Returning Client", "archived@example.com")
	_, bRow := s.contact("Seed Seven Ltd", "SEED0007@EXAMPLE.COM")
	_, cRow := s.contact("Brand New Ltd", "new@example.com")
	before := len(s.sim.Requests())
	s.start(nil)
	s.wait(outbox.StateDone, aRow, bRow, cRow)

	c := countContactCalls(t, s, before)
	if c.fills != 2 || c.refreshes != 0 || c.lookups != 0 || c.creates != 1 || c.updates != 1 {
		t.Errorf("%+v: want 2 fill pages, no refresh, no lookup, 1 create, 1 update", c)
	}
	if len(c.pages) == 2 && (!strings.Contains(c.pages[0], "page=1&") || !strings.Contains(c.pages[1], "page=2&")) {
		t.Errorf("fill pages %v", c.pages)
	}
	if got := s.row(aRow).XeroID; got != archived {
		t.Errorf("returning client linked to %s, want the archived contact %s", got, archived)
	}
	if got := s.row(bRow).XeroID; got != ids[7] {
		t.Errorf("seed 7 linked to %s, want %s", got, ids[7])
	}
	// The directory holds every contact: the 1,051 read and the one we created.
	if n := s.scalar("SELECT count(*) FROM xerosync.contact_directory WHERE xero_tenant_id = $1", s.org); n != "1052" {
		t.Errorf("directory holds %s contacts, want 1052", n)
	}
	if st := s.scalar("SELECT count(*) FROM xerosync.contact_directory_state WHERE xero_tenant_id = $1", s.org); st != "1" {
		t.Errorf("directory state rows %s", st)
	}
}

// An accountant edits, archives, merges and adds contacts in Xero directly: the next step's
// one refresh (If-Modified-Since) brings the changes, and customers link by email in another
// letter case from the directory with no lookup call (through a merge, to the contact that
// remains).
func TestDirectoryRefreshSeesEditsInXero(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	acct := s.accountant()
	ids := seedContacts(t, acct, []xero.Contact{
		{Name: "Xavier", EmailAddress: "x@old.example.com"},
		{Name: "Zed", EmailAddress: "z@example.com"},
		{Name: "Mo (old card)", EmailAddress: "mo@example.com"},
		{Name: "Mo", EmailAddress: "mo@newco.example"},
	})
	x, z, moOld, mo := ids[0], ids[1], ids[2], ids[3]
	_, first := s.contact("First Customer", "first@example.com")
	s.start(nil)
	s.wait(outbox.StateDone, first)

	// The accountant, in Xero.
	res, err := acct.UpdateContacts(context.Background(), xero.UpdateContactsParams{IdempotencyKey: "accountant-edit", Contacts: []xero.Contact{
		{ContactID: x, Name: "Xavier", EmailAddress: "Yvonne@Example.com"},
		{ContactID: z, Name: "Zed", EmailAddress: "z@example.com", ContactStatus: "ARCHIVED"},
	}})
	if err != nil || !res[0].OK() || !res[1].OK() {
		t.Fatalf("accountant edit: %v %+v", err, res)
	}
	w := seedContacts(t, acct, []xero.Contact{{Name: "Walter", EmailAddress: "v@example.com"}})[0]
	if err := s.sim.MergeContact(s.org, moOld, mo); err != nil { // in Xero's UI
		t.Fatal(err)
	}

	before := len(s.sim.Requests())
	_, yRow := s.contact("Yvonne Ltd", "yvonne@example.com")
	_, vRow := s.contact("V Ltd", "V@EXAMPLE.COM")
	_, mRow := s.contact("Mo Ltd", "MO@example.com")
	s.wait(outbox.StateDone, yRow, vRow, mRow)

	// The customers are queued one after the other while the dispatcher runs, so they may
	// be taken in one step or more: one refresh and one update request a step.
	c := countContactCalls(t, s, before)
	if c.fills != 0 || c.refreshes < 1 || c.refreshes > 3 || c.updates != c.refreshes || c.lookups != 0 || c.creates != 0 {
		t.Errorf("%+v: want one refresh a step (one to three steps), no lookup, no create, one update a step", c)
	}
	if got := s.row(mRow).XeroID; got != mo {
		t.Errorf("Mo linked to %s, want %s, into which the contact with the email was merged", got, mo)
	}
	if got := s.row(yRow).XeroID; got != x {
		t.Errorf("Yvonne linked to %s, want the edited contact %s", got, x)
	}
	if got := s.row(vRow).XeroID; got != w {
		t.Errorf("V linked to %s, want the contact added in Xero %s", got, w)
	}
	if st := s.scalar("SELECT contact_status FROM xerosync.contact_directory WHERE xero_tenant_id = $1 AND contact_id = $2", s.org, z); st != "ARCHIVED" {
		t.Errorf("archived contact is %s in the directory", st)
	}
	if e := s.scalar("SELECT email FROM xerosync.contact_directory WHERE xero_tenant_id = $1 AND contact_id = $2", s.org, x); e != "yvonne@example.com" {
		t.Errorf("edited contact's email in the directory: %s", e)
	}
}

// A contact made in Xero between our refresh and our create (same name, the customer's
// email): Xero refuses the create (ContactNameInUse); the row refreshes, links that contact
// and updates it, instead of failing.
func TestDirectoryDuplicateNameRefreshesAndLinks(t *testing.T) {
	t.Parallel()
	var once sync.Once
	var sim *xerosim.Sim
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && r.URL.Path == epContacts {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if bytes.Contains(body, []byte("Ada Ltd")) {
					once.Do(func() {
						// The accountant's contact, typed in Xero a moment before ours arrives.
						req := httptest.NewRequest(http.MethodPut, epContacts+"?summarizeErrors=false",
							strings.NewReader(`{"Contacts":[{"Name":"ADA LTD","EmailAddress":"Ada@Example.com"}]}`))
						for _, h := range []string{"Authorization", "Xero-Tenant-Id"} {
							req.Header.Set(h, r.Header.Get(h))
						}
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Idempotency-Key", "accountant")
						rec := httptest.NewRecorder()
						sim.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK {
							t.Errorf("accountant's contact: %d %s", rec.Code, rec.Body)
						}
					})
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	s := newDispatchSetup(t, dsetupConfig{wrap: func(h http.Handler) http.Handler { sim = h.(*xerosim.Sim); return wrap(h) }})
	customer, row := s.contact("Ada Ltd", "ada@example.com")
	s.start(nil)
	s.wait(outbox.StateDone, row)

	cs := s.sim.Contacts(s.org)
	if len(cs) != 1 || s.row(row).XeroID != cs[0].ContactID {
		t.Fatalf("xero holds %+v, row linked to %s: want the accountant's one contact", cs, s.row(row).XeroID)
	}
	if n := s.sim.ContactCreations(s.org, customer); n != 0 {
		t.Errorf("our contact created %d times", n)
	}
	if cs[0].ContactNumber != customer {
		t.Errorf("linked contact not updated with our fields: number %q", cs[0].ContactNumber)
	}
	if n := s.scalar(`SELECT count(*) FROM xerosync.outbox, jsonb_array_elements(errors) e WHERE id = $1 AND e->>'class' = 'linked' AND e->>'code' = 'ContactNameInUse'`, row); n != "1" {
		t.Errorf("%s 'linked' entries in the row's history, want 1", n)
	}
}

// New contacts go out 50 to a call, each step of 50 after one directory read.
func TestDirectoryCreatesFiftyPerCall(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	var rows []int64
	for i := range 120 {
		_, r := s.contact(fmt.Sprintf("Customer %03d", i), fmt.Sprintf("c%03d@example.com", i))
		rows = append(rows, r)
	}
	before := len(s.sim.Requests())
	s.start(nil)
	s.wait(outbox.StateDone, rows...)
	c := countContactCalls(t, s, before)
	slices.Sort(c.createSizes)
	if !slices.Equal(c.createSizes, []int{20, 50, 50}) || c.lookups != 0 || c.fills+c.refreshes != 3 {
		t.Errorf("%+v: want creates of 50, 50 and 20, one directory read a step, no lookup", c)
	}
}

// Rows whose outcome is unknown (a crashed run left them in flight) are reconciled many at
// a time: 60 invoices by InvoiceNumbers in two reads, their 60 payments through their
// invoices (IDs=…, with payments) in two reads, 10 contacts through one directory read.
// Before, this cost three number reads, 60 payment reads and 10 searches with a where.
func TestReconcileInBatches(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	ctx := context.Background()
	org := s.client.Org(s.org, s.store.Source(s.tenant))
	contactID := createXeroContact(t, s, "Crashed Co", "")
	customer := s.uuid()
	s.db.Exec(t, "INSERT INTO xerosync.entities (entity, entity_id, tenant_id, xero_id) VALUES ('contact', $1, $2, $3)", customer, s.tenant, contactID)

	// Ten new customers whose creates went through before the crash.
	var contactRows []int64
	var made []xero.Contact
	for i := range 10 {
		id, r := s.contact(fmt.Sprintf("Lost Contact %d", i), fmt.Sprintf("lost%d@example.com", i))
		contactRows = append(contactRows, r)
		made = append(made, xero.Contact{Name: fmt.Sprintf("Lost Contact %d", i), EmailAddress: fmt.Sprintf("lost%d@example.com", i), ContactNumber: id})
	}
	seedContacts(t, org, made)

	// Sixty invoices and a payment of each, in Xero before the crash.
	date, _ := xero.ParseDate("2026-03-02")
	paid, _ := xero.ParseDate("2026-03-05")
	var invRows, payRows []int64
	var invs []xero.Invoice
	var refs []string
	for i := range 60 {
		invoice, number, r := s.invoice(customer)
		invRows = append(invRows, r)
		invs = append(invs, xero.Invoice{
			Type: "ACCREC", Contact: &xero.ContactRef{ContactID: contactID}, InvoiceNumber: number, Status: "AUTHORISED",
			CurrencyCode: "NZD", LineAmountTypes: "Exclusive", Date: date, Reference: "PO-7",
			LineItems: []xero.LineItem{{Description: "Consulting", Quantity: xero.MustDecimal("2"), UnitAmount: xero.MustDecimal("100"), AccountCode: "200", TaxType: "OUTPUT2"}},
		})
		ref := fmt.Sprintf("R%d", i)
		refs = append(refs, ref)
		_, pr := s.payment(invoice, "20.00", ref)
		payRows = append(payRows, pr)
	}
	var invIDs []string
	for start := 0; start < len(invs); start += 50 {
		res, err := org.CreateInvoices(ctx, xero.CreateInvoicesParams{IdempotencyKey: fmt.Sprint("crashed-", start), Invoices: invs[start:min(start+50, len(invs))]})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.OK() {
				t.Fatalf("invoice: %+v", r)
			}
			invIDs = append(invIDs, r.XeroID)
		}
	}
	var pays []xero.Payment
	for i, id := range invIDs {
		pays = append(pays, xero.Payment{Invoice: &xero.InvoiceRef{InvoiceID: id}, Account: &xero.AccountRef{Code: "090"}, Date: paid, Amount: xero.MustDecimal("20.00"), Reference: refs[i]})
	}
	for start := 0; start < len(pays); start += 50 {
		res, err := org.CreatePayments(ctx, xero.CreatePaymentsParams{IdempotencyKey: fmt.Sprint("crashed-pay-", start), Payments: pays[start:min(start+50, len(pays))]})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.OK() {
				t.Fatalf("payment: %+v", r)
			}
		}
	}
	all := slices.Concat(contactRows, invRows, payRows)
	s.db.Exec(t, "UPDATE xerosync.outbox SET state = 'in_flight', attempts = 1, idempotency_key = 'crashed' WHERE id = ANY($1)", all)

	before := len(s.sim.Requests())
	s.start(nil)
	s.wait(outbox.StateDone, all...)

	byOp := map[string]int{}
	for _, r := range s.sim.Requests()[before:] {
		byOp[r.Method+" "+strings.TrimPrefix(r.Endpoint, "/api.xro/2.0")]++
	}
	want := map[string]int{"GET /Contacts": 1, "POST /Contacts": 1, "GET /Invoices": 4}
	if fmt.Sprint(byOp) != fmt.Sprint(want) {
		t.Errorf("calls by operation %v, want %v", byOp, want)
	}
	for i, r := range invRows {
		if got := s.row(r).XeroID; got != invIDs[i] {
			t.Fatalf("invoice row %d linked to %s, want %s", i, got, invIDs[i])
		}
	}
	for _, r := range payRows {
		if s.row(r).XeroID == "" {
			t.Fatalf("payment row %d done without its Xero id", r)
		}
	}
	if n := len(s.sim.Invoices(s.org)); n != 60 {
		t.Errorf("%d invoices in Xero, want 60", n)
	}
	for _, c := range made {
		if n := s.sim.ContactCreations(s.org, c.ContactNumber); n != 1 {
			t.Errorf("contact %s created %d times", c.ContactNumber, n)
		}
	}
}

// Voids whose outcome is unknown are checked together: their invoices read by id in one
// call; the two Xero shows voided are done, the third is voided.
func TestReconcileVoidsInBatches(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{})
	ctx := context.Background()
	org := s.client.Org(s.org, s.store.Source(s.tenant))
	contactID := createXeroContact(t, s, "Voided Co", "")
	customer := s.uuid()
	s.db.Exec(t, "INSERT INTO xerosync.entities (entity, entity_id, tenant_id, xero_id) VALUES ('contact', $1, $2, $3)", customer, s.tenant, contactID)
	date, _ := xero.ParseDate("2026-03-02")
	var invs []xero.Invoice
	var rows []int64
	for range 3 {
		invoice, number, r := s.invoice(customer)
		rows = append(rows, r, s.void(invoice, number))
		invs = append(invs, xero.Invoice{
			Type: "ACCREC", Contact: &xero.ContactRef{ContactID: contactID}, InvoiceNumber: number, Status: "AUTHORISED",
			CurrencyCode: "NZD", LineAmountTypes: "Exclusive", Date: date, Reference: "PO-7",
			LineItems: []xero.LineItem{{Description: "Consulting", Quantity: xero.MustDecimal("2"), UnitAmount: xero.MustDecimal("100"), AccountCode: "200", TaxType: "OUTPUT2"}},
		})
	}
	res, err := org.CreateInvoices(ctx, xero.CreateInvoicesParams{IdempotencyKey: "crashed", Invoices: invs})
	if err != nil {
		t.Fatal(err)
	}
	// The crashed run voided the first two.
	if _, err := org.VoidInvoices(ctx, xero.VoidInvoicesParams{IdempotencyKey: "crashed-void", InvoiceIDs: []string{res[0].XeroID, res[1].XeroID}}); err != nil {
		t.Fatal(err)
	}
	s.db.Exec(t, "UPDATE xerosync.outbox SET state = 'in_flight', attempts = 1, idempotency_key = 'crashed' WHERE id = ANY($1)", rows)
	before := len(s.sim.Requests())
	s.start(nil)
	s.wait(outbox.StateDone, rows...)

	var byIDs, byNumbers, voids int
	for _, r := range s.sim.Requests()[before:] {
		switch {
		case r.Method == "GET" && r.Endpoint == epInvoices && strings.Contains(r.Query, "IDs="):
			byIDs++
		case r.Method == "GET" && r.Endpoint == epInvoices && strings.Contains(r.Query, "InvoiceNumbers="):
			byNumbers++
		case r.Method == "POST" && r.Endpoint == epInvoices:
			voids++
		default:
			t.Errorf("unexpected call %s %s?%s", r.Method, r.Endpoint, r.Query)
		}
	}
	if byIDs != 1 || byNumbers != 1 || voids != 1 {
		t.Errorf("%d reads by id, %d by number, %d void requests; want 1, 1, 1", byIDs, byNumbers, voids)
	}
	for _, inv := range s.sim.Invoices(s.org) {
		if inv.Status != "VOIDED" {
			t.Errorf("invoice %s is %s", inv.InvoiceNumber, inv.Status)
		}
	}
}
