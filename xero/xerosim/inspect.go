package xerosim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// This file is the inspection API: what tests read to assert on Xero's
// side of the conversation — the documents, how often each was created,
// the calls and their statuses, peak concurrency, 429s, faults, and the
// full request log. It is also served as JSON at GET /_sim/state.

// RecordedRequest is one request as the Sim received it.
type RecordedRequest struct {
	Seq            int
	Time           time.Time // simulated time of arrival
	Method         string
	Path           string
	Query          string // raw query string
	Header         http.Header
	Body           []byte
	IdempotencyKey string
	Endpoint       string // route template, e.g. "/api.xro/2.0/Invoices/{InvoiceID}"
	TenantID       string // set once the tenant was authenticated
	Status         int    // 0 when the response was dropped
	Fault          FaultKind
	Replayed       bool // answered from the idempotency store
	// RateLimitProblem is the X-Rate-Limit-Problem of a 429 ("minute", "concurrent"…), so
	// that a 429 can be told apart from the rest: an injected burst's own (Fault is
	// Fault429), the rest of the window it used up, or one the client provoked.
	RateLimitProblem string
}

// CallCount counts calls by method, endpoint template and status.
type CallCount struct {
	Method   string
	Endpoint string
	Status   int
	Count    int
}

// Stats summarises the traffic the Sim has served.
type Stats struct {
	Calls           []CallCount
	PeakConcurrency map[string]int    // tenant id → most calls in flight at once
	RateLimited     map[string]int    // X-Rate-Limit-Problem value → 429s served
	TooManyRequests int               // all 429s served, including injected ones
	Faults          map[FaultKind]int // faults injected, by kind
	Replays         int               // responses replayed from the idempotency store
	Requests        int               // requests received
}

type callKey struct {
	method   string
	endpoint string
	status   int
}

type recorder struct {
	mu      sync.Mutex
	max     int
	seq     int // requests received; also the last RecordedRequest.Seq
	log     []*RecordedRequest
	calls   map[callKey]int
	tooMany int
	replays int
}

func newRecorder(max int) *recorder {
	return &recorder{max: max, calls: map[callKey]int{}}
}

func (rc *recorder) begin(r *http.Request, body []byte, now time.Time) *RecordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seq++
	e := &RecordedRequest{
		Seq: rc.seq, Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: slices.Clone(body),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
	rc.log = append(rc.log, e)
	if len(rc.log) > rc.max {
		rc.log = slices.Delete(rc.log, 0, len(rc.log)-rc.max)
	}
	return e
}

func (rc *recorder) finish(e *RecordedRequest, status int, res *response, out outcome) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e.Status, e.Endpoint, e.TenantID, e.Fault, e.Replayed = status, out.endpoint, out.tenantID, out.fault, out.replayed
	rc.calls[callKey{e.Method, out.endpoint, status}]++
	if res != nil && res.Status == http.StatusTooManyRequests {
		rc.tooMany++
		e.RateLimitProblem = res.Header.Get("X-Rate-Limit-Problem")
	}
	if out.replayed {
		rc.replays++
	}
}

// Requests returns a copy of the request log, oldest first.
func (s *Sim) Requests() []RecordedRequest {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := make([]RecordedRequest, 0, len(s.stats.log))
	for _, e := range s.stats.log {
		cp := *e
		cp.Header = e.Header.Clone()
		cp.Body = slices.Clone(e.Body)
		out = append(out, cp)
	}
	return out
}

// Calls counts calls by method, endpoint template (as in
// RecordedRequest.Endpoint) and status; an empty method or a zero status
// matches any.
func (s *Sim) Calls(method, endpoint string, status int) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	n := 0
	for k, v := range s.stats.calls {
		if (method == "" || strings.EqualFold(k.method, method)) && strings.EqualFold(k.endpoint, endpoint) && (status == 0 || k.status == status) {
			n += v
		}
	}
	return n
}

// Stats returns traffic statistics.
func (s *Sim) Stats() Stats {
	s.stats.mu.Lock()
	st := Stats{TooManyRequests: s.stats.tooMany, Replays: s.stats.replays, Requests: s.stats.seq}
	for k, v := range s.stats.calls {
		st.Calls = append(st.Calls, CallCount{Method: k.method, Endpoint: k.endpoint, Status: k.status, Count: v})
	}
	s.stats.mu.Unlock()
	sort.Slice(st.Calls, func(i, j int) bool {
		a, b := st.Calls[i], st.Calls[j]
		if a.Endpoint != b.Endpoint {
			return a.Endpoint < b.Endpoint
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Status < b.Status
	})
	st.PeakConcurrency, st.RateLimited = s.limiter.snapshot()
	st.Faults = s.faults.snapshot()
	return st
}

// Contact is a contact as a test sees it.
type Contact struct {
	ContactID      string
	ContactNumber  string
	AccountNumber  string
	Name           string
	FirstName      string
	LastName       string
	EmailAddress   string
	TaxNumber      string
	ContactStatus  string
	Phones         json.RawMessage
	Addresses      json.RawMessage
	IsCustomer     bool
	UpdatedDateUTC time.Time
	Created        time.Time // simulated time it was created (a test's measure; Xero shows none)
}

// Invoice is an invoice as a test sees it. Amounts are exact decimal text
// with 2 places ("115.00"), so tests compare strings, not floats.
type Invoice struct {
	InvoiceID       string
	Type            string
	InvoiceNumber   string
	Reference       string
	Status          string
	ContactID       string
	CurrencyCode    string
	LineAmountTypes string
	Date            time.Time
	DueDate         time.Time
	SubTotal        string
	TotalTax        string
	Total           string
	AmountPaid      string
	AmountDue       string
	LineItems       []LineItem
	PaymentIDs      []string
	UpdatedDateUTC  time.Time
	Created         time.Time // simulated time it was created (a test's measure; Xero shows none)
}

// LineItem is an invoice line as a test sees it; UnitAmount has 4 places.
type LineItem struct {
	LineItemID   string
	Description  string
	Quantity     string
	UnitAmount   string
	DiscountRate string // empty when none
	AccountCode  string
	TaxType      string
	TaxAmount    string
	LineAmount   string
	ItemCode     string
}

// Payment is a payment as a test sees it.
type Payment struct {
	PaymentID     string
	InvoiceID     string
	InvoiceNumber string
	AccountCode   string
	Reference     string
	Status        string
	Amount        string
	Date          time.Time
	Created       time.Time // simulated time it was created (a test's measure)
}

// Connection is an app's link to an organisation, as /connections lists it.
type Connection struct {
	ID          string
	ClientID    string
	TenantID    string
	AuthEventID string
	Created     time.Time
	Updated     time.Time
}

// orgViews runs view on one organisation under s.mu, or returns nil for an
// unknown tenant, for the per-collection accessors below.
func orgViews[V any](s *Sim, tenantID string, view func(*org) []V) []V {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.org(tenantID); o != nil {
		return view(o)
	}
	return nil
}

// viewsOf converts stored entities to their test views, in order.
func viewsOf[T, V any](items []T, view func(T) V) []V {
	out := make([]V, 0, len(items))
	for _, it := range items {
		out = append(out, view(it))
	}
	return out
}

func contactViews(o *org) []Contact { return viewsOf(o.contacts, contactView) }
func invoiceViews(o *org) []Invoice { return viewsOf(o.invoices, invoiceView) }
func paymentViews(o *org) []Payment {
	return viewsOf(o.payments, func(p *payment) Payment { return paymentView(o, p) })
}

// Contacts lists an organisation's contacts, archived included, in creation
// order.
func (s *Sim) Contacts(tenantID string) []Contact { return orgViews(s, tenantID, contactViews) }

func contactView(c *contact) Contact {
	return Contact{
		ContactID: c.id, ContactNumber: c.number, AccountNumber: c.accountNumber, Name: c.name,
		FirstName: c.firstName, LastName: c.lastName, EmailAddress: c.email, TaxNumber: c.taxNumber,
		ContactStatus: c.status, Phones: slices.Clone(c.phones), Addresses: slices.Clone(c.addresses),
		IsCustomer: c.isCustomer, UpdatedDateUTC: c.updated, Created: c.created,
	}
}

// Invoices lists an organisation's invoices in creation order.
func (s *Sim) Invoices(tenantID string) []Invoice { return orgViews(s, tenantID, invoiceViews) }

func invoiceView(inv *invoice) Invoice {
	v := Invoice{
		InvoiceID: inv.id, Type: inv.typ, InvoiceNumber: inv.number, Reference: inv.reference,
		Status: inv.status, ContactID: inv.contactID, CurrencyCode: inv.currency,
		LineAmountTypes: inv.lineAmountTypes, Date: inv.date, DueDate: inv.dueDate,
		SubTotal: inv.subTotal.Text(2), TotalTax: inv.totalTax.Text(2), Total: inv.total.Text(2),
		AmountPaid: inv.amountPaid.Text(2), AmountDue: inv.amountDue().Text(2),
		PaymentIDs: slices.Clone(inv.paymentIDs), UpdatedDateUTC: inv.updated, Created: inv.created,
	}
	for _, li := range inv.lines {
		lv := LineItem{
			LineItemID: li.id, Description: li.description, Quantity: li.quantity.Text(4),
			UnitAmount: li.unitAmount.Text(4), AccountCode: li.accountCode, TaxType: li.taxType,
			TaxAmount: li.taxAmount.Text(2), LineAmount: li.lineAmount.Text(2), ItemCode: li.itemCode,
		}
		if li.discountRate != nil {
			lv.DiscountRate = li.discountRate.Text(2)
		}
		v.LineItems = append(v.LineItems, lv)
	}
	return v
}

// Payments lists an organisation's payments in creation order.
func (s *Sim) Payments(tenantID string) []Payment { return orgViews(s, tenantID, paymentViews) }

func paymentView(o *org, p *payment) Payment {
	v := Payment{
		PaymentID: p.id, InvoiceID: p.invoiceID, AccountCode: p.accountCode, Reference: p.reference,
		Status: p.status, Amount: p.amount.Text(2), Date: p.date, Created: p.created,
	}
	if inv := o.invoiceByID(p.invoiceID); inv != nil {
		v.InvoiceNumber = inv.number
	}
	return v
}

// ContactCreations is how many contacts were ever created with this
// ContactNumber ("" counts contacts created without one).
func (s *Sim) ContactCreations(tenantID, contactNumber string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.org(tenantID); o != nil {
		return o.contactCreations[contactNumber]
	}
	return 0
}

// InvoiceCreations is how many invoices were ever created with this number.
func (s *Sim) InvoiceCreations(tenantID, invoiceNumber string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.org(tenantID); o != nil {
		return o.invoiceCreations[invoiceNumber]
	}
	return 0
}

// PaymentCreations is how many payments were ever created against the
// invoice with this Reference.
func (s *Sim) PaymentCreations(tenantID, invoiceID, reference string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.org(tenantID); o != nil {
		return o.paymentCreations[[2]string{strings.ToLower(invoiceID), reference}]
	}
	return 0
}

// Connections lists every app-organisation connection.
func (s *Sim) Connections() []Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Connection, 0, len(s.auth.connections))
	for _, c := range s.auth.connections {
		out = append(out, Connection{ID: c.id, ClientID: c.clientID, TenantID: c.tenantID, AuthEventID: c.authEventID, Created: c.created, Updated: c.updated})
	}
	return out
}

// OrgState is one organisation in State.
type OrgState struct {
	TenantID         string
	Name             string
	Contacts         []Contact
	Invoices         []Invoice
	Payments         []Payment
	ContactCreations map[string]int
	InvoiceCreations map[string]int
}

// SimState is the whole simulator state, as GET /_sim/state returns it.
type SimState struct {
	Now         time.Time
	Orgs        []OrgState
	Connections []Connection
	Stats       Stats
}

// State returns a snapshot of everything, for the demo and for debugging a
// failed test.
func (s *Sim) State() SimState {
	st := SimState{Now: s.clock.Now(), Stats: s.Stats(), Connections: s.Connections()}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.orgOrder {
		o := s.org(id)
		st.Orgs = append(st.Orgs, OrgState{
			TenantID: o.id, Name: o.cfg.Name,
			Contacts: contactViews(o), Invoices: invoiceViews(o), Payments: paymentViews(o),
			ContactCreations: maps.Clone(o.contactCreations),
			InvoiceCreations: maps.Clone(o.invoiceCreations),
		})
	}
	return st
}
