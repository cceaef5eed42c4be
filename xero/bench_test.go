package xero

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/softbooq/xerosync/xero/xerosim"
)

// BenchmarkCreateInvoices measures one PUT /Invoices of 50 invoices per op: against a canned
// httptest answer (the client's own cost: encoding, budgets, decoding, matching) and against
// the simulator (with limits lifted, so the benchmark measures work, not waiting).
func BenchmarkCreateInvoices(b *testing.B) {
	batch := make([]Invoice, MaxBatch)
	for i := range batch {
		batch[i] = sampleInvoice(fmt.Sprintf("INV-%04d", i), "12.3456")
	}

	b.Run("httptest", func(b *testing.B) {
		answer := invoicesEnvelope{}
		for i, inv := range batch {
			inv.InvoiceID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
			inv.Total = MustDecimal("41.67")
			answer.Invoices = append(answer.Invoices, inv)
		}
		body, _ := json.Marshal(answer)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			okHeaders(w)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := New(Config{APIURL: srv.URL, HTTPClient: srv.Client()})
		if err != nil {
			b.Fatal(err)
		}
		org := c.Org(testTenant, StaticTokenSource{Token: NewSecret("t")})
		ctx := context.Background()
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if _, err := org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: batch, IdempotencyKey: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
	})

	b.Run("xerosim", func(b *testing.B) {
		e := newSimEnv(b, xerosim.Config{Limits: xerosim.Limits{PerMinute: 1 << 30, PerDay: 1 << 30, AppPerMinute: 1 << 30}}, nil)
		ctx := context.Background()
		cres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c"})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			invs := make([]Invoice, MaxBatch)
			for i := range invs {
				n++
				invs[i] = simInvoice(fmt.Sprintf("B-%07d", n), cres[0].XeroID, "200", "OUTPUT2", "NZD", Date{2026, 5, 1})
			}
			if _, err := e.org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: invs, IdempotencyKey: fmt.Sprint("bench-", n)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
	})
}
