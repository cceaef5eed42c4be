package xero

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/softbooq/xerosync/xero/xerosim"
)

// Every request the client sends is checked against Xero's own OpenAPI documents, so a field
// name, type, parameter or header the client gets wrong fails here even if the simulator
// (our other reading of Xero) got it wrong the same way.

const specDir = "../../shared/xero-openapi"

var (
	specOnce               sync.Once
	accountingSpec, idSpec *openapi3.T
	specErr                error
)

func loadSpecs(t *testing.T) (*openapi3.T, *openapi3.T) {
	t.Helper()
	specOnce.Do(func() {
		path := filepath.Join(specDir, "xero_accounting.yaml")
		if _, err := os.Stat(path); err != nil {
			specErr = err
			return
		}
		if accountingSpec, specErr = openapi3.NewLoader().LoadFromFile(path); specErr != nil {
			return
		}
		idSpec, specErr = openapi3.NewLoader().LoadFromFile(filepath.Join(specDir, "xero-identity.yaml"))
	})
	if specErr != nil {
		if os.IsNotExist(specErr) {
			t.Skipf("Xero OpenAPI documents not found in %s", specDir)
		}
		t.Fatalf("load OpenAPI: %v", specErr)
	}
	return accountingSpec, idSpec
}

// specRoute maps a request path to the spec's template by hand: Xero's /connections is
// /Connections in the identity document. Every accounting call the client makes is on a path
// without parameters, which is its own template (a new one with parameters fails as "no path
// in the spec" until it is mapped here).
func specRoute(acc, id *openapi3.T, path string) (*openapi3.T, string, map[string]string) {
	switch {
	case path == "/connections":
		return id, "/Connections", nil
	case strings.HasPrefix(path, "/connections/"):
		return id, "/Connections/{id}", map[string]string{"id": strings.TrimPrefix(path, "/connections/")}
	case !strings.HasPrefix(path, "/api.xro/2.0/"):
		return nil, "", nil // OAuth endpoints are in neither document
	}
	return acc, strings.TrimPrefix(path, "/api.xro/2.0"), nil
}

type validatingTransport struct {
	t        *testing.T
	acc, id  *openapi3.T
	next     http.RoundTripper
	mu       sync.Mutex
	checked  map[string]bool
	failures []string
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	doc, template, params := specRoute(v.acc, v.id, req.URL.Path)
	if doc != nil {
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
			req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(body))
		err := v.validate(doc, template, params, check)
		v.mu.Lock()
		v.checked[req.Method+" "+template] = true
		if err != nil {
			v.failures = append(v.failures, fmt.Sprintf("%s %s (%s): %v", req.Method, req.URL.Path, template, err))
		}
		v.mu.Unlock()
	}
	return v.next.RoundTrip(req)
}

func (v *validatingTransport) validate(doc *openapi3.T, template string, params map[string]string, req *http.Request) error {
	item := doc.Paths.Value(template)
	if item == nil {
		return fmt.Errorf("no path %s in the spec", template)
	}
	op := item.GetOperation(req.Method)
	if op == nil {
		return fmt.Errorf("no %s operation on %s in the spec", req.Method, template)
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params,
		Route: &routers.Route{Spec: doc, Path: template, PathItem: item, Method: req.Method, Operation: op},
		Options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// The spec gives boolean fields string defaults ("false"); filling them in would
			// make every body invalid, and defaults are Xero's business, not the request's.
			SkipSettingDefaults: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122)),
			},
		},
	})
}

func TestRequestsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	acc, id := loadSpecs(t)
	var vt *validatingTransport
	e := newSimEnv(t, xerosim.Config{}, func(c *Config) {
		vt = &validatingTransport{t: t, acc: acc, id: id, next: c.HTTPClient.Transport, checked: map[string]bool{}}
		c.HTTPClient = &http.Client{Transport: vt}
	})
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	conns, err := e.client.Connections(ctx, e.tokens, ConnectionsParams{})
	must("Connections", err)
	_, err = e.client.Connections(ctx, e.tokens, ConnectionsParams{AuthEventID: "d99ecdfe-3d5a-4c8f-9bb1-1c1f1d0e7a2b"})
	must("Connections(authEventId)", err)
	_, err = e.org.Organisation(ctx)
	must("Organisation", err)
	_, err = e.org.Currencies(ctx)
	must("Currencies", err)
	_, err = e.org.Accounts(ctx)
	must("Accounts", err)
	_, err = e.org.TaxRates(ctx)
	must("TaxRates", err)
	cres, err := e.org.CreateContacts(ctx, CreateContactsParams{Contacts: []Contact{simContact("1")}, IdempotencyKey: "c1"})
	must("CreateContacts", err)
	upd := simContact("1")
	upd.ContactID, upd.ContactStatus = cres[0].XeroID, "ARCHIVED"
	_, err = e.org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{upd}, IdempotencyKey: "c2"})
	must("UpdateContacts", err)
	_, err = e.org.FindContactsByEmail(ctx, `jo."1"\@example.com`)
	must("FindContactsByEmail", err)
	_, err = e.org.FindContactsByNumbers(ctx, []string{"CUST-1", "0b0e7a52-7c8e-4a0c-b4d5-2f5d3b1c9e11"})
	must("FindContactsByNumbers", err)
	_, err = e.org.ListContacts(ctx, ListContactsParams{})
	must("ListContacts", err)
	_, err = e.org.ListContacts(ctx, ListContactsParams{ModifiedSince: time.Date(2026, 5, 1, 9, 30, 0, 123e6, time.UTC)})
	must("ListContacts(ModifiedSince)", err)
	upd.ContactStatus = "ACTIVE"
	_, err = e.org.UpdateContacts(ctx, UpdateContactsParams{Contacts: []Contact{upd}, IdempotencyKey: "c3"})
	must("UpdateContacts", err)
	inv := simInvoice("INV-1", cres[0].XeroID, "200", "OUTPUT2", "NZD", Date{2026, 5, 1})
	inv.CurrencyRate = MustDecimal("1.000000")
	ires, err := e.org.CreateInvoices(ctx, CreateInvoicesParams{Invoices: []Invoice{inv, simInvoice("INV-2", cres[0].XeroID, "200", "OUTPUT2", "NZD", Date{2026, 5, 1})}, IdempotencyKey: "i1"})
	must("CreateInvoices", err)
	_, err = e.org.FindInvoicesByNumber(ctx, []string{"INV-1", "INV-2", "A,B"})
	must("FindInvoicesByNumber", err)
	_, err = e.org.CreatePayments(ctx, CreatePaymentsParams{Payments: []Payment{{Invoice: &InvoiceRef{InvoiceID: ires[0].XeroID}, Account: &AccountRef{Code: "090"}, Date: Date{2026, 5, 2}, Amount: MustDecimal("10.00"), Reference: "P-1"}}, IdempotencyKey: "p1"})
	must("CreatePayments", err)
	_, err = e.org.FindPaymentsByInvoice(ctx, ires[0].XeroID)
	must("FindPaymentsByInvoice", err)
	_, err = e.org.FindInvoicesByID(ctx, []string{ires[0].XeroID, ires[1].XeroID})
	must("FindInvoicesByID", err)
	_, err = e.org.VoidInvoices(ctx, VoidInvoicesParams{InvoiceIDs: []string{ires[1].XeroID}, IdempotencyKey: "v1"})
	must("VoidInvoices", err)
	must("DeleteConnection", e.client.DeleteConnection(ctx, e.tokens, DeleteConnectionParams{ConnectionID: conns[0].ID, IdempotencyKey: "d1"}))

	vt.mu.Lock()
	defer vt.mu.Unlock()
	for _, f := range vt.failures {
		t.Error(f)
	}
	for _, want := range []string{
		"GET /Connections", "DELETE /Connections/{id}", "GET /Organisation", "GET /Currencies", "GET /Accounts", "GET /TaxRates",
		"PUT /Contacts", "POST /Contacts", "GET /Contacts",
		"PUT /Invoices", "POST /Invoices", "GET /Invoices", "PUT /Payments", "GET /Payments",
	} {
		if !vt.checked[want] {
			t.Errorf("%s was not exercised", want)
		}
	}
}
