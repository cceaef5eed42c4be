package outbox

// The enqueuer's and backfill's decisions over loaded data, without PostgreSQL: this file
// must not import pgtest.

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/softbooq/xerosync/cdc"
)

const (
	tA   = "11111111-0000-4000-8000-000000000001" // connected tenant
	tB   = "11111111-0000-4000-8000-000000000002" // not connected
	tOld = "11111111-0000-4000-8000-000000000003" // disconnected at lsn 0/500
	cu1  = "c1111111-0000-4000-8000-000000000001"
	cu2  = "c1111111-0000-4000-8000-000000000002"
	in1  = "a1111111-0000-4000-8000-000000000001"
	in2  = "a1111111-0000-4000-8000-000000000002"
	pa1  = "b1111111-0000-4000-8000-000000000001"
)

// Column values in the tests' shorthand: a plain string is text.
const (
	null  = "\x00null"
	toast = "\x00unchanged"
)

// chg builds a change of table in txn from name, value pairs.
func chg(txn *cdc.Txn, table string, op cdc.Op, kv ...string) cdc.Change {
	schema, name, _ := strings.Cut(table, ".")
	ch := cdc.Change{Schema: schema, Table: name, Op: op, Txn: txn}
	for i := 0; i+1 < len(kv); i += 2 {
		v := cdc.Value{Kind: cdc.Text, Text: kv[i+1]}
		switch kv[i+1] {
		case null:
			v = cdc.Value{Kind: cdc.Null}
		case toast:
			v = cdc.Value{Kind: cdc.Unchanged}
		}
		ch.Columns = append(ch.Columns, cdc.Column{Name: kv[i], Value: v})
	}
	return ch
}

func txnAt(xid uint32, lsn uint64) *cdc.Txn {
	return &cdc.Txn{Xid: xid, CommitLSN: pglogrepl.LSN(lsn)}
}

func customer(txn *cdc.Txn, op cdc.Op, tenant, id, name, email string, more ...string) cdc.Change {
	kv := []string{"id", id, "tenant_id", tenant, "name", name, "first_name", null, "last_name", null,
		"email", email, "phone", null, "tax_number", null, "address_line1", null, "address_line2", null,
		"city", null, "region", null, "postal_code", null, "country_code", "NZ", "archived_at", null}
	for i := 0; i+1 < len(more); i += 2 { // overrides
		j := slices.Index(kv, more[i])
		kv[j+1] = more[i+1]
	}
	return chg(txn, "crm.customers", op, kv...)
}

func invoice(txn *cdc.Txn, op cdc.Op, tenant, id, cust, status string) cdc.Change {
	return chg(txn, "finance.invoices", op, "id", id, "tenant_id", tenant, "customer_id", cust, "status", status,
		"number", "INV-"+id[:4], "currency", "NZD", "amounts_tax", "exclusive", "issue_date", "2026-02-01",
		"due_date", null, "reference", null)
}

func payment(txn *cdc.Txn, op cdc.Op, tenant, id, inv string) cdc.Change {
	return chg(txn, "finance.payments", op, "id", id, "tenant_id", tenant, "invoice_id", inv, "amount", "10.00",
		"paid_on", "2026-02-03", "method", "cash", "reference", null)
}

// fields is a customer's contact fields as customer() writes them.
func fields(name, email string) ContactFields {
	return ContactFields{Name: name, Email: email, CountryCode: "NZ"}
}

func hashOf(id string, f ContactFields) []byte {
	_, h := ContactUpsert(id, f)
	return h
}

// newLoaded is what load would read: tA connected from 0/100, tOld from 0/100 until 0/500.
func newLoaded() *loaded {
	return &loaded{
		connected: map[string]window{tA: {from: 0x100}, tOld: {from: 0x100, until: 0x500}},
		states:    map[entityKey]*entityState{},
		customers: map[string]ContactFields{},
		invoices:  map[string]*InvoicePayload{},
	}
}

// rowString is a planned row in the tests' shorthand.
func rowString(r row) string {
	s := fmt.Sprintf("%s %s %s", r.entity, r.id[len(r.id)-3:], r.action)
	if r.dependsEntity != "" {
		s += fmt.Sprintf(" after %s %s", r.dependsEntity, r.dependsID[len(r.dependsID)-3:])
	}
	if r.lsn != 0 {
		s += fmt.Sprintf(" @%s/%d", r.lsn, r.idx)
	}
	return s
}

func TestPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		prepare func(l *loaded) // what was loaded, beyond newLoaded
		changes func() []cdc.Change
		want    []string // rows
		// entities are the stored invoice states ("invoice 001 issued voided").
		entities []string
		notes    []string // messages, in order
		check    func(t *testing.T, p planned)
	}{
		{
			name: "new customer is upserted",
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Insert, tA, cu1, "One", "one@x")}
			},
			want: []string{"contact 001 upsert @0/200/0"},
			check: func(t *testing.T, p planned) {
				if want := hashOf(cu1, fields("One", "one@x")); string(p.rows[0].hash) != string(want) {
					t.Errorf("hash %x, want %x", p.rows[0].hash, want)
				}
			},
		},
		{
			name: "update with the fields last queued queues nothing",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{hash: hashOf(cu1, fields("One", "one@x"))}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "One", "one@x")}
			},
		},
		{
			name: "update of a Xero-held field is upserted",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{hash: hashOf(cu1, fields("One", "one@x"))}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "One", "new@x")}
			},
			want: []string{"contact 001 upsert @0/200/0"},
		},
		{
			name: "two updates in a chunk compare with each other",
			changes: func() []cdc.Change {
				t1, t2 := txnAt(1, 0x200), txnAt(2, 0x300)
				return []cdc.Change{
					customer(t1, cdc.Update, tA, cu1, "One", "one@x"),
					customer(t2, cdc.Update, tA, cu1, "One", "one@x"),
					customer(t2, cdc.Update, tA, cu1, "One", "two@x"),
				}
			},
			want: []string{"contact 001 upsert @0/200/0", "contact 001 upsert @0/300/0"},
		},
		{
			name: "archiving changes the hash",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{hash: hashOf(cu1, fields("One", "one@x"))}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "One", "one@x", "archived_at", "2026-01-01 00:00:00+00")}
			},
			want: []string{"contact 001 upsert @0/200/0"},
		},
		{
			name: "unchanged TOAST takes the value read from the table",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{hash: hashOf(cu1, fields("One", "one@x"))}
				l.customers[cu1] = fields("One", "one@x")
			},
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "One", toast)}
			},
		},
		{
			name: "unchanged TOAST with another field changed keeps the read value",
			prepare: func(l *loaded) {
				l.customers[cu1] = fields("One", "one@x")
			},
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "Uno", toast)}
			},
			want: []string{"contact 001 upsert @0/200/0"},
			check: func(t *testing.T, p planned) {
				if want := hashOf(cu1, fields("Uno", "one@x")); string(p.rows[0].hash) != string(want) {
					t.Errorf("body %s: the email is not the one read", p.rows[0].body)
				}
			},
		},
		{
			name: "a one-letter country code loses char(2)'s padding",
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Insert, tA, cu1, "One", "one@x", "country_code", "N ")}
			},
			want: []string{"contact 001 upsert @0/200/0"},
			check: func(t *testing.T, p planned) {
				if !strings.Contains(string(p.rows[0].body), `"country_code":"N"`) {
					t.Errorf("body %s", p.rows[0].body)
				}
			},
		},
		{
			name: "a tenant without a connection queues nothing",
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Insert, tB, cu1, "One", "one@x")}
			},
		},
		{
			name: "the tenant's window: before, inside, at its end",
			changes: func() []cdc.Change {
				return []cdc.Change{
					customer(txnAt(1, 0x50), cdc.Insert, tOld, cu1, "Before", "one@x"),
					customer(txnAt(2, 0x100), cdc.Insert, tOld, cu1, "From", "one@x"),
					customer(txnAt(3, 0x4ff), cdc.Insert, tOld, cu1, "Inside", "one@x"),
					customer(txnAt(4, 0x500), cdc.Insert, tOld, cu1, "Until", "one@x"),
				}
			},
			want: []string{"contact 001 upsert @0/100/0", "contact 001 upsert @0/4FF/0"},
		},
		{
			name: "a change without a tenant is not ours",
			changes: func() []cdc.Change {
				return []cdc.Change{chg(txnAt(1, 0x200), "crm.customers", cdc.Insert, "id", cu1, "tenant_id", null, "name", "x")}
			},
		},
		{
			name: "a table of the same name in another schema is not Softbooq's",
			changes: func() []cdc.Change {
				ch := customer(txnAt(1, 0x200), cdc.Insert, tA, cu1, "One", "one@x")
				ch.Schema = "staging"
				return []cdc.Change{ch}
			},
		},
		{
			name: "a delete queues nothing and says so",
			changes: func() []cdc.Change {
				return []cdc.Change{chg(txnAt(1, 0x200), "finance.invoices", cdc.Delete, "id", in1)}
			},
			notes: []string{"row deleted in softbooq: nothing is deleted in xero"},
		},
		{
			name: "a draft invoice queues nothing",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{hash: []byte{1}}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Insert, tA, in1, cu1, "draft")}
			},
		},
		{
			name: "an issued invoice of a known contact is issued after it",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{stored: true}
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1, Lines: []InvoiceLine{{Position: 1, Description: "work"}}}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "issued")}
			},
			want:     []string{"invoice 001 issue after contact 001 @0/200/0"},
			entities: []string{"invoice 001 issued"},
			check: func(t *testing.T, p planned) {
				if b := string(p.rows[0].body); !strings.Contains(b, `"description":"work"`) || !strings.Contains(b, `"status":"issued"`) {
					t.Errorf("body %s: lines or status missing", b)
				}
			},
		},
		{
			name: "a customer never queued is upserted before its first invoice",
			prepare: func(l *loaded) {
				l.customers[cu1] = fields("One", "one@x")
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1}
				l.invoices[in2] = &InvoicePayload{InvoiceID: in2}
			},
			changes: func() []cdc.Change {
				t1 := txnAt(1, 0x200)
				return []cdc.Change{
					invoice(t1, cdc.Insert, tA, in1, cu1, "issued"),
					invoice(t1, cdc.Insert, tA, in2, cu1, "paid"),
				}
			},
			want: []string{
				"contact 001 upsert @0/200/0",
				"invoice 001 issue after contact 001 @0/200/1",
				"invoice 002 issue after contact 001 @0/200/2",
			},
			entities: []string{"invoice 001 issued", "invoice 002 issued"},
		},
		{
			name: "an invoice whose customer was deleted since is issued without its contact",
			prepare: func(l *loaded) {
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Insert, tA, in1, cu1, "issued")}
			},
			want:     []string{"invoice 001 issue after contact 001 @0/200/0"},
			entities: []string{"invoice 001 issued"},
			notes:    []string{"invoice's customer deleted since: invoice queued without its contact"},
		},
		{
			name: "an invoice deleted since is issued without lines",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{stored: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Insert, tA, in1, cu1, "issued")}
			},
			want:     []string{"invoice 001 issue after contact 001 @0/200/0"},
			entities: []string{"invoice 001 issued"},
			notes:    []string{"issued invoice deleted since: queued without lines"},
			check: func(t *testing.T, p planned) {
				if b := string(p.rows[0].body); !strings.Contains(b, `"lines":[]`) {
					t.Errorf("body %s: lines should be an empty list", b)
				}
			},
		},
		{
			name: "an invoice is issued once: issued then paid",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{stored: true}
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{
					invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "issued"),
					invoice(txnAt(2, 0x300), cdc.Update, tA, in1, cu1, "paid"),
				}
			},
			want:     []string{"invoice 001 issue after contact 001 @0/200/0"},
			entities: []string{"invoice 001 issued"},
		},
		{
			name: "an invoice issued before is not issued again",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{stored: true, issued: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "paid")}
			},
		},
		{
			name: "a void follows an issue",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{stored: true, issued: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "void")}
			},
			want:     []string{"invoice 001 void after invoice 001 @0/200/0"},
			entities: []string{"invoice 001 issued voided"},
			check: func(t *testing.T, p planned) {
				if b := string(p.rows[0].body); b != `{"invoice_id":"`+in1+`","number":"INV-a111"}` {
					t.Errorf("body %s", b)
				}
			},
		},
		{
			name: "a void whose number is unchanged TOAST takes it from the table",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{stored: true, issued: true}
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1, Number: "INV-READ"}
			},
			changes: func() []cdc.Change {
				ch := invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "void")
				ch.Columns[slices.IndexFunc(ch.Columns, func(c cdc.Column) bool { return c.Name == "number" })].Value = cdc.Value{Kind: cdc.Unchanged}
				return []cdc.Change{ch}
			},
			want:     []string{"invoice 001 void after invoice 001 @0/200/0"},
			entities: []string{"invoice 001 issued voided"},
			check: func(t *testing.T, p planned) {
				if !strings.Contains(string(p.rows[0].body), "INV-READ") {
					t.Errorf("body %s", p.rows[0].body)
				}
			},
		},
		{
			name: "a void without an issue queues nothing",
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "void")}
			},
		},
		{
			name: "a void is queued once",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{stored: true, issued: true, voided: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "void")}
			},
		},
		{
			name: "issued and voided in one chunk: issue, then void",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{stored: true}
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1}
			},
			changes: func() []cdc.Change {
				t1 := txnAt(1, 0x200)
				return []cdc.Change{
					invoice(t1, cdc.Update, tA, in1, cu1, "issued"),
					invoice(t1, cdc.Update, tA, in1, cu1, "void"),
				}
			},
			want:     []string{"invoice 001 issue after contact 001 @0/200/0", "invoice 001 void after invoice 001 @0/200/1"},
			entities: []string{"invoice 001 issued voided"},
		},
		{
			name: "a payment of an issued invoice is queued after it",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{stored: true, issued: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{payment(txnAt(1, 0x200), cdc.Insert, tA, pa1, in1)}
			},
			want: []string{"payment 001 pay after invoice 001 @0/200/0"},
			check: func(t *testing.T, p planned) {
				want := `{"payment_id":"` + pa1 + `","invoice_id":"` + in1 + `","amount":"10.00","paid_on":"2026-02-03","method":"cash","reference":null}`
				if b := string(p.rows[0].body); b != want {
					t.Errorf("body %s, want %s", b, want)
				}
			},
		},
		{
			name: "a payment of an invoice issued in the same chunk is queued",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{stored: true}
				l.invoices[in1] = &InvoicePayload{InvoiceID: in1}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{
					invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "issued"),
					payment(txnAt(2, 0x300), cdc.Insert, tA, pa1, in1),
				}
			},
			want:     []string{"invoice 001 issue after contact 001 @0/200/0", "payment 001 pay after invoice 001 @0/300/0"},
			entities: []string{"invoice 001 issued"},
		},
		{
			name: "a payment of an invoice never pushed is skipped",
			changes: func() []cdc.Change {
				return []cdc.Change{payment(txnAt(1, 0x200), cdc.Insert, tA, pa1, in1)}
			},
			notes: []string{"payment for an invoice never pushed to xero: skipped (backfill covers history)"},
		},
		{
			name: "a payment changed after insert pushes nothing",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{stored: true, issued: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{payment(txnAt(1, 0x200), cdc.Update, tA, pa1, in1)}
			},
			notes: []string{"payment changed after insert: nothing pushed"},
		},
		{
			name: "commit_idx counts on from the transaction's Seq (a transaction over chunks)",
			changes: func() []cdc.Change {
				t1 := txnAt(1, 0x200)
				t1.Seq = 7
				return []cdc.Change{
					customer(t1, cdc.Insert, tA, cu1, "One", "one@x"),
					customer(t1, cdc.Insert, tA, cu2, "Two", "two@x"),
				}
			},
			want: []string{"contact 001 upsert @0/200/7", "contact 002 upsert @0/200/8"},
		},
		{
			name: "tenants apart: only the connected one queues",
			changes: func() []cdc.Change {
				t1 := txnAt(1, 0x200)
				return []cdc.Change{
					customer(t1, cdc.Insert, tB, cu2, "Two", "two@x"),
					customer(t1, cdc.Insert, tA, cu1, "One", "one@x"),
				}
			},
			want: []string{"contact 001 upsert @0/200/0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLoaded()
			if tc.prepare != nil {
				tc.prepare(l)
			}
			p := plan(l, tc.changes())
			var got []string
			for _, r := range p.rows {
				got = append(got, rowString(r))
				if r.tenant == "" || r.body == nil || r.source != "" {
					t.Errorf("row %s: tenant %q, body %s, source %q", rowString(r), r.tenant, r.body, r.source)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			var ents []string
			for i := range p.entities.entities {
				s := fmt.Sprintf("%s %s", p.entities.entities[i], p.entities.ids[i][len(p.entities.ids[i])-3:])
				if p.entities.issued[i] {
					s += " issued"
				}
				if p.entities.voided[i] {
					s += " voided"
				}
				ents = append(ents, s)
			}
			if !slices.Equal(ents, tc.entities) {
				t.Errorf("entities %q, want %q", ents, tc.entities)
			}
			var notes []string
			for _, n := range p.notes {
				notes = append(notes, n.msg)
				if n.level < slog.LevelInfo {
					t.Errorf("note %q below info", n.msg)
				}
			}
			if !slices.Equal(notes, tc.notes) {
				t.Errorf("notes %q, want %q", notes, tc.notes)
			}
			if tc.check != nil && len(p.rows) > 0 {
				tc.check(t, p)
			}
		})
	}
}

func TestPlanLoads(t *testing.T) {
	t.Parallel()
	t1 := txnAt(1, 0x200)
	for _, tc := range []struct {
		name                        string
		changes                     []cdc.Change
		tenants, contacts, invoices []string
	}{
		{name: "nothing relevant", changes: []cdc.Change{chg(t1, "finance.invoice_lines", cdc.Insert, "tenant_id", tA)}},
		{name: "a delete is not read for", changes: []cdc.Change{chg(t1, "finance.invoices", cdc.Delete, "id", in1, "tenant_id", tA)}},
		{name: "an inserted customer has no past", changes: []cdc.Change{customer(t1, cdc.Insert, tA, cu1, "One", "one@x")},
			tenants: []string{tA}},
		{name: "an updated customer's last hash", changes: []cdc.Change{customer(t1, cdc.Update, tA, cu1, "One", "one@x")},
			tenants: []string{tA}, contacts: []string{cu1}},
		{name: "an invoice and its customer", changes: []cdc.Change{invoice(t1, cdc.Insert, tA, in1, cu1, "draft")},
			tenants: []string{tA}, contacts: []string{cu1}, invoices: []string{in1}},
		{name: "a payment's invoice", changes: []cdc.Change{payment(t1, cdc.Insert, tB, pa1, in2)},
			tenants: []string{tB}, invoices: []string{in2}},
		{name: "several, each once", changes: []cdc.Change{
			invoice(t1, cdc.Insert, tA, in1, cu1, "draft"), invoice(t1, cdc.Update, tA, in1, cu1, "issued"),
			payment(t1, cdc.Insert, tB, pa1, in2), customer(t1, cdc.Update, tA, cu2, "Two", "two@x"),
		}, tenants: []string{tA, tB}, contacts: []string{cu1, cu2}, invoices: []string{in1, in2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := planLoads(tc.changes)
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"tenants", k.tenants, tc.tenants}, {"contacts", k.contacts, tc.contacts}, {"invoices", k.invoices, tc.invoices}} {
				slices.Sort(c.got)
				if len(c.got) != 0 || len(c.want) != 0 {
					if !slices.Equal(c.got, c.want) {
						t.Errorf("%s %q, want %q", c.what, c.got, c.want)
					}
				}
			}
		})
	}
}

func TestPlanReads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		prepare             func(l *loaded)
		changes             func() []cdc.Change
		customers, invoices []string
		xids                []uint32
	}{
		{
			name: "a customer sent whole needs no read",
			changes: func() []cdc.Change {
				return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "One", "one@x")}
			},
		},
		{
			name:      "unchanged TOAST is read",
			changes:   func() []cdc.Change { return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tA, cu1, "One", toast)} },
			customers: []string{cu1}, xids: []uint32{1},
		},
		{
			name:    "outside the window nothing is read",
			changes: func() []cdc.Change { return []cdc.Change{customer(txnAt(1, 0x200), cdc.Update, tB, cu1, "One", toast)} },
		},
		{
			name: "an invoice being issued, and its customer never queued",
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "issued")}
			},
			customers: []string{cu1}, invoices: []string{in1}, xids: []uint32{1},
		},
		{
			name: "an invoice being issued of a known contact",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityContact, cu1}] = &entityState{hash: []byte{1}}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "paid")}
			},
			invoices: []string{in1}, xids: []uint32{1},
		},
		{
			name: "an invoice issued before, a draft: nothing to read",
			prepare: func(l *loaded) {
				l.states[entityKey{EntityInvoice, in1}] = &entityState{issued: true}
			},
			changes: func() []cdc.Change {
				return []cdc.Change{
					invoice(txnAt(1, 0x200), cdc.Update, tA, in1, cu1, "paid"),
					invoice(txnAt(2, 0x300), cdc.Update, tA, in2, cu1, "draft"),
				}
			},
		},
		{
			name: "each transaction once, in order",
			changes: func() []cdc.Change {
				t1, t2 := txnAt(7, 0x200), txnAt(5, 0x300)
				return []cdc.Change{
					customer(t1, cdc.Update, tA, cu1, "One", toast),
					customer(t1, cdc.Update, tA, cu2, "Two", toast),
					customer(t2, cdc.Update, tA, cu1, toast, "x@x"),
				}
			},
			customers: []string{cu1, cu2}, xids: []uint32{7, 5},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLoaded()
			if tc.prepare != nil {
				tc.prepare(l)
			}
			r := planReads(l, tc.changes())
			slices.Sort(r.customers)
			slices.Sort(r.invoices)
			if !slices.Equal(r.customers, tc.customers) || !slices.Equal(r.invoices, tc.invoices) || !slices.Equal(r.xids, tc.xids) {
				t.Errorf("reads %q %q %v, want %q %q %v", r.customers, r.invoices, r.xids, tc.customers, tc.invoices, tc.xids)
			}
		})
	}
}

func TestPlanBackfillInvoices(t *testing.T) {
	t.Parallel()
	inv := func(id, cust string, void bool) *backfillInvoice {
		return &backfillInvoice{p: InvoicePayload{InvoiceID: id, CustomerID: cust, Number: "N" + id[len(id)-1:], Status: "issued", Lines: []InvoiceLine{}}, void: void}
	}
	for _, tc := range []struct {
		name     string
		invoices []*backfillInvoice
		contacts map[string]ContactFields // customers never queued nor linked
		want     []string
		counts   BackfillResult
	}{
		{name: "nothing claimed"},
		{name: "known customer: the issue alone", invoices: []*backfillInvoice{inv(in1, cu1, false)},
			want: []string{"invoice 001 issue after contact 001"}, counts: BackfillResult{Invoices: 1}},
		{name: "a customer never queued goes first, once",
			invoices: []*backfillInvoice{inv(in1, cu1, false), inv(in2, cu1, false)},
			contacts: map[string]ContactFields{cu1: fields("One", "one@x")},
			want:     []string{"contact 001 upsert", "invoice 001 issue after contact 001", "invoice 002 issue after contact 001"},
			counts:   BackfillResult{Invoices: 2, Contacts: 1}},
		{name: "voided after issue: issue then void",
			invoices: []*backfillInvoice{inv(in1, cu1, true), inv(in2, cu2, false)},
			contacts: map[string]ContactFields{cu2: fields("Two", "two@x")},
			want: []string{"invoice 001 issue after contact 001", "invoice 001 void after invoice 001",
				"contact 002 upsert", "invoice 002 issue after contact 002"},
			counts: BackfillResult{Invoices: 2, Voids: 1, Contacts: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, n, err := planBackfillInvoices(tA, tc.invoices, tc.contacts, sourceBackfill)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, rowString(r))
				if r.source != sourceBackfill || r.lsn != 0 || r.tenant != tA {
					t.Errorf("row %s: source %q, lsn %s, tenant %s", rowString(r), r.source, r.lsn, r.tenant)
				}
				if r.entity == EntityContact && string(r.hash) != string(hashOf(r.id, tc.contacts[r.id])) {
					t.Errorf("row %s: hash is not the enqueuer's", rowString(r))
				}
			}
			if !slices.Equal(got, tc.want) || n != tc.counts {
				t.Errorf("rows %q, counts %+v; want %q, %+v", got, n, tc.want, tc.counts)
			}
		})
	}
}

// TestPlanResyncContacts is resync's decision about customers, with capture's hash rule: a
// customer queued before gets an upsert only if a Xero-held field differs from its last
// queued row (notes or updated_at alone are invisible here); one never queued gets one only
// if it changed since the tenant connected.
func TestPlanResyncContacts(t *testing.T) {
	t.Parallel()
	old := ContactFields{Name: "Old Name", Email: "a@example.com", CountryCode: "NZ"}
	_, oldHash := ContactUpsert(cu1, old)
	renamed := old
	renamed.Name = "New Name"
	archived := old
	archived.Archived = true
	for _, tc := range []struct {
		name   string
		fields ContactFields
		recent bool
		state  *entityState
		want   bool
	}{
		{"queued, unchanged", old, true, &entityState{hash: oldHash}, false},
		{"queued, unchanged, not recent", old, false, &entityState{hash: oldHash}, false},
		{"queued, renamed", renamed, true, &entityState{hash: oldHash}, true},
		{"queued, renamed, timestamps not bumped", renamed, false, &entityState{hash: oldHash}, true},
		{"queued, archived", archived, true, &entityState{hash: oldHash}, true},
		{"never queued, inserted since the connect", old, true, nil, true},
		{"never queued, older than the connect (backfill's)", old, false, nil, false},
		{"linked without a row, changed since", renamed, true, &entityState{stored: true}, true},
		{"linked without a row, not changed since", renamed, false, &entityState{stored: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			states := map[entityKey]*entityState{}
			if tc.state != nil {
				states[entityKey{EntityContact, cu1}] = tc.state
			}
			rows := planResyncContacts(tA, []resyncCustomer{{id: cu1, fields: tc.fields, recent: tc.recent}}, states)
			if got := len(rows) == 1; got != tc.want {
				t.Fatalf("queued = %v (%d rows), want %v", got, len(rows), tc.want)
			}
			if !tc.want {
				return
			}
			r := rows[0]
			body, hash := ContactUpsert(cu1, tc.fields)
			if r.tenant != tA || r.entity != EntityContact || r.action != ActionUpsert || r.source != sourceResync || r.lsn != 0 ||
				string(r.body) != string(body) || string(r.hash) != string(hash) {
				t.Errorf("row = %+v, want the enqueuer's upsert of %s with source resync", r, cu1)
			}
		})
	}
}
