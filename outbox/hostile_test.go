package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// hsetup is one database with one tenant connected to a simulated organisation, capture
// running into the enqueuer and a dispatcher pushing to the simulator: Softbooq rows written
// with SQL go all the way to Xero. Subtests share it; each uses its own customers and
// invoice numbers, and helpers take the subtest's t.
type hsetup struct {
	*dsetup
}

// The organisation's period is locked up to this day; hostile invoices dated on or before it
// must fail PeriodLocked, everything else is dated after it.
var hostileLock = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)

func newHostileSetup(t *testing.T) *hsetup {
	t.Helper()
	ds := newDispatchSetup(t, dsetupConfig{
		// The catalogue tests input, not pace: lift Xero's per-minute budget (60 calls would make
		// rows wait a minute in flight for the next window).
		sim: xerosim.Config{Limits: xerosim.Limits{PerMinute: 1_000_000, PerDay: 1_000_000, AppPerMinute: 1_000_000}},
		org: func(oc *xerosim.OrgConfig) { oc.PeriodLockDate = hostileLock }})
	h := &hsetup{ds}
	log := slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runCapture(t, cdc.Config{
		DB: ds.db.Pool, ConnString: ds.db.URL, Slot: ds.db.Name, Logger: log, HeartbeatInterval: time.Second,
		Sink: outbox.NewEnqueuer(outbox.EnqueuerConfig{Logger: log}), Columns: outbox.SourceColumns(),
	})
	ds.start(nil)
	return h
}

func (h *hsetup) one(t *testing.T, sql string, args ...any) string {
	t.Helper()
	return scalar(t, h.db, sql, args...)
}

func (h *hsetup) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := h.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (h *hsetup) customer(t *testing.T, name string, email *string) string {
	t.Helper()
	return h.one(t, "INSERT INTO crm.customers (tenant_id, name, email) VALUES ($1, $2, $3) RETURNING id::text", h.tenant, name, email)
}

// hline is one finance.invoice_lines row.
type hline struct{ qty, price, discount, category string }

// invoice inserts an issued invoice and its lines in one transaction, as "Send Invoice" with
// its lines would commit.
func (h *hsetup) invoice(t *testing.T, customer, number, currency, date string, lines ...hline) string {
	t.Helper()
	var id string
	err := pgx.BeginFunc(context.Background(), h.db.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(context.Background(), `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date, due_date, issued_at)
			VALUES ($1, $2, $3, 'issued', $4, $5::date, $5::date + 30, now()) RETURNING id::text`, h.tenant, customer, number, currency, date).Scan(&id); err != nil {
			return err
		}
		for i, l := range lines {
			if _, err := tx.Exec(context.Background(), `INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, quantity, unit_price, discount_rate, revenue_category)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, h.tenant, i+1, fmt.Sprint("line ", i+1), l.qty, l.price, l.discount, l.category); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sync waits until capture has stored everything committed so far.
func (h *hsetup) sync(t *testing.T) {
	t.Helper()
	syncCapture(t, h.db)
}

// rowsOf lists the outbox rows of an entity, oldest first, once capture has caught up.
func (h *hsetup) rowsOf(t *testing.T, entity, id string) []int64 {
	t.Helper()
	h.sync(t)
	rows, err := h.db.Pool.Query(context.Background(), "SELECT id FROM xerosync.outbox WHERE entity = $1 AND entity_id = $2 ORDER BY id", entity, id)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("capture queued no %s row for %s", entity, id)
	}
	return ids
}

func (h *hsetup) rowOf(t *testing.T, id int64) rowState {
	t.Helper()
	return readRow(t, h.db, id)
}

// settle waits for a row to end (done, failed or cancelled) and returns it.
func (h *hsetup) settle(t *testing.T, id int64) rowState {
	t.Helper()
	var r rowState
	defer func() { // Eventually's Fatalf unwinds through here
		if t.Failed() {
			t.Logf("row %d last seen: %+v", id, r)
		}
	}()
	pgtest.Eventually(t, 45*time.Second, fmt.Sprintf("row %d to settle", id), func() bool {
		r = h.rowOf(t, id)
		switch r.State {
		case outbox.StateDone, outbox.StateFailed, outbox.StateCancelled:
			return true
		}
		return false
	})
	return r
}

func (h *hsetup) wantDone(t *testing.T, id int64) rowState {
	t.Helper()
	r := h.settle(t, id)
	if r.State != outbox.StateDone {
		t.Fatalf("row %d is %s, want done: %+v", id, r.State, r)
	}
	return r
}

func (h *hsetup) wantFailed(t *testing.T, id int64, code string) {
	t.Helper()
	if r := h.settle(t, id); r.State != outbox.StateFailed || r.Code != code {
		t.Fatalf("row %d is %s %s (%s), want failed %s", id, r.State, r.Code, r.Error, code)
	}
}

func (h *hsetup) xeroContact(t *testing.T, customer string) xerosim.Contact {
	t.Helper()
	var found []xerosim.Contact
	for _, c := range h.sim.Contacts(h.org) {
		if c.ContactNumber == customer {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("xero holds %d contacts numbered %s", len(found), customer)
	}
	return found[0]
}

func (h *hsetup) xeroInvoice(t *testing.T, number string) (xerosim.Invoice, bool) {
	t.Helper()
	for _, inv := range h.sim.Invoices(h.org) {
		if inv.InvoiceNumber == number {
			return inv, true
		}
	}
	return xerosim.Invoice{}, false
}

// canary writes a customer and an invoice after a hostile case's rows, in the same tenant,
// and checks both reach Xero: the hostile input stopped nothing else.
func (h *hsetup) canary(t *testing.T, tag string) {
	t.Helper()
	cust := h.customer(t, "Canary "+tag, nil)
	number := "CANARY-" + tag
	inv := h.invoice(t, cust, number, "NZD", "2026-11-02", hline{"2", "10.00", "0", "services"})
	h.wantDone(t, h.rowsOf(t, outbox.EntityContact, cust)[0])
	h.wantDone(t, h.rowsOf(t, outbox.EntityInvoice, inv)[0])
	x, ok := h.xeroInvoice(t, number)
	if !ok || x.Total != "20.00" || x.Status != "AUTHORISED" {
		t.Fatalf("canary invoice %s in xero: %v %+v", number, ok, x)
	}
}

// lineAmount is Xero's line amount: quantity × unit amount × (1 − discount/100), to 2 places,
// half away from zero.
func lineAmount(t *testing.T, qty, price, discount string) *big.Rat {
	t.Helper()
	r := func(s string) *big.Rat {
		v, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("bad decimal %q", s)
		}
		return v
	}
	v := new(big.Rat).Mul(r(qty), r(price))
	v.Mul(v, new(big.Rat).Sub(big.NewRat(1, 1), new(big.Rat).Quo(r(discount), big.NewRat(100, 1))))
	cents := new(big.Rat).Mul(v, big.NewRat(100, 1))
	n := new(big.Int).Quo(cents.Num(), cents.Denom())
	rem := new(big.Rat).Sub(cents, new(big.Rat).SetInt(n))
	if rem.Cmp(big.NewRat(1, 2)) >= 0 {
		n.Add(n, big.NewInt(1))
	}
	return new(big.Rat).SetFrac(n, big.NewInt(100))
}

func TestHostileInputs(t *testing.T) {
	h := newHostileSetup(t)
	str := func(s string) *string { return &s }

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"quotes backslashes macrons in name", func(t *testing.T) {
			names := []string{
				`O'Brien "Quoted" \Back\slash\ Ltd`,
				"Ngā Kaiwhakahaere o Ōtautahi — Whānau Trust ✓",
				`'; DROP TABLE crm.customers; -- \" \\ %s %d`,
			}
			for _, name := range names {
				cust := h.customer(t, name, nil)
				h.wantDone(t, h.rowsOf(t, outbox.EntityContact, cust)[0])
				if got := h.xeroContact(t, cust).Name; got != name {
					t.Errorf("xero contact name %q, want %q", got, name)
				}
			}
			h.canary(t, "names")
		}},
		{"emails: apostrophe, NULL, shared", func(t *testing.T) {
			apos := h.customer(t, "Apostrophe Email Ltd", str("o'brien@example.com"))
			null := h.customer(t, "Null Email Ltd", nil)
			first := h.customer(t, "Shared Email One", str("shared@example.com"))
			h.sync(t)
			second := h.customer(t, "Shared Email Two", str("shared@example.com"))
			for _, c := range []string{apos, null, first, second} {
				for _, id := range h.rowsOf(t, outbox.EntityContact, c) {
					h.wantDone(t, id)
				}
			}
			if got := h.xeroContact(t, apos).EmailAddress; got != "o'brien@example.com" {
				t.Errorf("apostrophe email in xero: %q", got)
			}
			if got := h.xeroContact(t, null).EmailAddress; got != "" {
				t.Errorf("NULL email in xero: %q", got)
			}
			h.xeroContact(t, first) // exactly one contact numbered as each customer
			if n := h.sim.ContactCreations(h.org, second); n > 1 {
				t.Errorf("second shared-email contact created %d times", n)
			}
			seen := map[string]int{}
			for _, c := range h.sim.Contacts(h.org) {
				if c.ContactNumber != "" {
					seen[c.ContactNumber]++
				}
			}
			for num, n := range seen {
				if n > 1 {
					t.Errorf("ContactNumber %s is on %d contacts", num, n)
				}
			}
			h.canary(t, "emails")
		}},
		{"200KB notes then a name update", func(t *testing.T) {
			marker := "NOTES-MARKER-" + pgtest.RandomText(40)
			notes := marker + pgtest.RandomText(200_000)
			cust := h.one(t, "INSERT INTO crm.customers (tenant_id, name, notes) VALUES ($1, 'Toasty Notes Ltd', $2) RETURNING id::text", h.tenant, notes)
			h.sync(t)
			h.exec(t, "UPDATE crm.customers SET name = 'Toasty Notes Renamed Ltd', updated_at = now() WHERE id = $1", cust)
			ids := h.rowsOf(t, outbox.EntityContact, cust)
			if len(ids) != 2 {
				t.Errorf("%d contact rows queued, want 2 (insert, rename)", len(ids))
			}
			for _, id := range ids {
				h.settle(t, id)
			}
			h.wantDone(t, ids[len(ids)-1])
			if got := h.xeroContact(t, cust).Name; got != "Toasty Notes Renamed Ltd" {
				t.Errorf("xero contact name %q after the update", got)
			}
			if n := h.one(t, "SELECT count(*)::text FROM xerosync.outbox WHERE entity_id = $1 AND strpos(payload::text, $2) > 0", cust, marker); n != "0" {
				t.Errorf("%s outbox rows carry the notes", n)
			}
			for _, r := range h.sim.Requests() {
				if strings.Contains(string(r.Body), marker) {
					t.Errorf("notes sent to xero: %s %s", r.Method, r.Path)
				}
			}
			h.canary(t, "notes")
		}},
		{"500 lines", func(t *testing.T) {
			cust := h.customer(t, "Many Lines Ltd", nil)
			lines := make([]hline, 500)
			sum := new(big.Rat)
			for i := range lines {
				lines[i] = hline{"1", fmt.Sprintf("%d.%02d", (i+1)/100, (i+1)%100), "0", "services"}
				sum.Add(sum, lineAmount(t, "1", lines[i].price, "0"))
			}
			inv := h.invoice(t, cust, "MANY-500", "NZD", "2026-11-03", lines...)
			h.wantDone(t, h.rowsOf(t, outbox.EntityInvoice, inv)[0])
			x, ok := h.xeroInvoice(t, "MANY-500")
			if !ok {
				t.Fatal("MANY-500 not in xero")
			}
			if len(x.LineItems) != 500 || x.Total != sum.FloatString(2) || x.SubTotal != sum.FloatString(2) {
				t.Errorf("xero invoice has %d lines, subtotal %s total %s; want 500 lines totalling %s", len(x.LineItems), x.SubTotal, x.Total, sum.FloatString(2))
			}
			h.canary(t, "lines")
		}},
		{"zero and many-decimal amounts", func(t *testing.T) {
			cust := h.customer(t, "Decimals Ltd", nil)
			lines := []hline{
				{"0.0001", "123.4567", "12.5", "services"},
				{"3", "123.4567", "12.5", "services"},
				{"1", "0", "0", "services"},
				{"7.3333", "0.0001", "99.99", "services"},
			}
			inv := h.invoice(t, cust, "DEC-1", "NZD", "2026-11-04", lines...)
			h.wantDone(t, h.rowsOf(t, outbox.EntityInvoice, inv)[0])
			x, ok := h.xeroInvoice(t, "DEC-1")
			if !ok || len(x.LineItems) != len(lines) {
				t.Fatalf("DEC-1 in xero: %v, %d lines", ok, len(x.LineItems))
			}
			sum := new(big.Rat)
			for i, l := range lines {
				want := lineAmount(t, l.qty, l.price, l.discount)
				sum.Add(sum, want)
				li := x.LineItems[i]
				gotQ, _ := new(big.Rat).SetString(li.Quantity)
				gotU, _ := new(big.Rat).SetString(li.UnitAmount)
				wantQ, _ := new(big.Rat).SetString(l.qty)
				wantU, _ := new(big.Rat).SetString(l.price)
				if gotQ == nil || gotU == nil || gotQ.Cmp(wantQ) != 0 || gotU.Cmp(wantU) != 0 || li.LineAmount != want.FloatString(2) {
					t.Errorf("line %d: quantity %s unit %s discount %s amount %s; want %s × %s less %s%% = %s",
						i+1, li.Quantity, li.UnitAmount, li.DiscountRate, li.LineAmount, l.qty, l.price, l.discount, want.FloatString(2))
				}
			}
			if x.LineItems[0].UnitAmount != "123.4567" {
				t.Errorf("unit amount %q, want 123.4567", x.LineItems[0].UnitAmount)
			}
			if x.Total != sum.FloatString(2) {
				t.Errorf("total %s, want %s", x.Total, sum.FloatString(2))
			}
			h.canary(t, "decimals")
		}},
		{"unmapped revenue category", func(t *testing.T) {
			cust := h.customer(t, "Unmapped Ltd", nil)
			inv := h.invoice(t, cust, "UNMAPPED-1", "NZD", "2026-11-05", hline{"1", "10", "0", "no-such-category"})
			h.wantFailed(t, h.rowsOf(t, outbox.EntityInvoice, inv)[0], "MappingMissing")
			if _, ok := h.xeroInvoice(t, "UNMAPPED-1"); ok {
				t.Error("UNMAPPED-1 reached xero")
			}
			h.canary(t, "unmapped")
		}},
		{"currency not enabled", func(t *testing.T) {
			cust := h.customer(t, "Euro Ltd", nil)
			inv := h.invoice(t, cust, "EUR-1", "EUR", "2026-11-06", hline{"1", "10", "0", "services"})
			h.wantFailed(t, h.rowsOf(t, outbox.EntityInvoice, inv)[0], "CurrencyNotEnabled")
			h.canary(t, "currency")
		}},
		{"period locked", func(t *testing.T) {
			cust := h.customer(t, "Locked Period Ltd", nil)
			inv := h.invoice(t, cust, "LOCKED-1", "NZD", hostileLock.AddDate(0, -1, 0).Format(time.DateOnly), hline{"1", "10", "0", "services"})
			h.wantFailed(t, h.rowsOf(t, outbox.EntityInvoice, inv)[0], "PeriodLocked")
			h.canary(t, "locked")
		}},
		{"customer and invoice deleted after capture", func(t *testing.T) {
			cust := h.customer(t, "Deleted Later Ltd", nil)
			inv := h.invoice(t, cust, "DEL-1", "NZD", "2026-11-07", hline{"2", "5", "0", "services"})
			cRows, iRows := h.rowsOf(t, outbox.EntityContact, cust), h.rowsOf(t, outbox.EntityInvoice, inv)
			h.exec(t, "DELETE FROM finance.invoice_lines WHERE invoice_id = $1", inv)
			h.exec(t, "DELETE FROM finance.invoices WHERE id = $1", inv)
			h.exec(t, "DELETE FROM crm.customers WHERE id = $1", cust)
			h.sync(t)
			for _, id := range append(cRows, iRows...) {
				if r := h.settle(t, id); r.State == outbox.StateFailed && r.Code == "" {
					t.Errorf("row %d failed without a code: %+v", id, r)
				}
			}
			if r := h.rowOf(t, iRows[0]); r.State == outbox.StateDone {
				if x, ok := h.xeroInvoice(t, "DEL-1"); !ok || x.Total != "10.00" || len(x.LineItems) != 1 {
					t.Errorf("DEL-1 pushed from its snapshot but xero holds %v %+v", ok, x)
				}
			}
			h.canary(t, "deleted")
		}},
		{"customer and invoice inserted and deleted in one transaction", func(t *testing.T) {
			var cust, inv string
			err := pgx.BeginFunc(context.Background(), h.db.Pool, func(tx pgx.Tx) error {
				ctx := context.Background()
				if err := tx.QueryRow(ctx, "INSERT INTO crm.customers (tenant_id, name) VALUES ($1, 'Ephemeral Ltd') RETURNING id::text", h.tenant).Scan(&cust); err != nil {
					return err
				}
				if err := tx.QueryRow(ctx, `INSERT INTO finance.invoices (tenant_id, customer_id, number, status, currency, issue_date)
					VALUES ($1, $2, 'GONE-1', 'issued', 'NZD', '2026-11-08') RETURNING id::text`, h.tenant, cust).Scan(&inv); err != nil {
					return err
				}
				for _, q := range []string{
					`INSERT INTO finance.invoice_lines (invoice_id, tenant_id, position, description, unit_price, revenue_category) VALUES ($1, $2, 1, 'x', 10, 'services')`,
					`DELETE FROM finance.invoice_lines WHERE invoice_id = $1 AND tenant_id = $2`,
					`DELETE FROM finance.invoices WHERE id = $1 AND tenant_id = $2`,
				} {
					if _, err := tx.Exec(ctx, q, inv, h.tenant); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, "DELETE FROM crm.customers WHERE id = $1", cust)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			h.sync(t)
			var ids []int64
			rows, err := h.db.Pool.Query(context.Background(), "SELECT id FROM xerosync.outbox WHERE entity_id IN ($1, $2) ORDER BY id", cust, inv)
			if err != nil {
				t.Fatal(err)
			}
			if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				r := h.settle(t, id)
				t.Logf("row %d: %s %s %s", id, r.State, r.Code, r.Error)
				if r.State == outbox.StateFailed && r.Code == "" {
					t.Errorf("row %d failed without a code", id)
				}
			}
			if x, ok := h.xeroInvoice(t, "GONE-1"); ok && len(x.LineItems) == 0 {
				t.Errorf("an invoice that never existed at commit reached xero with no lines: %+v", x)
			}
			h.canary(t, "ephemeral")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}
