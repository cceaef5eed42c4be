package xero

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Contact mirrors Xero's Contact with the fields xerosync maps (SPEC §1) plus what lookups
// and batch results need. The mapped text fields are sent even when empty, so that clearing a
// field in Softbooq clears it in Xero (POST /Contacts keeps omitted fields unchanged).
type Contact struct {
	ContactID      string    `json:"ContactID,omitempty"`
	ContactNumber  string    `json:"ContactNumber,omitempty"` // our customer id ("Contact Code")
	ContactStatus  string    `json:"ContactStatus,omitempty"` // ACTIVE, ARCHIVED, GDPRREQUEST
	Name           string    `json:"Name"`
	FirstName      string    `json:"FirstName"`
	LastName       string    `json:"LastName"`
	EmailAddress   string    `json:"EmailAddress"`
	TaxNumber      string    `json:"TaxNumber"`
	Phones         []Phone   `json:"Phones,omitempty"`
	Addresses      []Address `json:"Addresses,omitempty"`
	UpdatedDateUTC Time      `json:"UpdatedDateUTC,omitzero"`
	// MergedToContactID is set, in responses, on a contact an accountant merged into another
	// (XERO.md §4: "follow it"); Xero returns it in paged reads and reads by id.
	MergedToContactID string `json:"MergedToContactID,omitempty"`

	HasValidationErrors   bool              `json:"HasValidationErrors,omitempty"`
	StatusAttributeString string            `json:"StatusAttributeString,omitempty"`
	ValidationErrors      []ValidationError `json:"ValidationErrors,omitempty"`
}

// Xero's documented limits on the contact fields we send (XERO.md §10b; spec Contact.Name
// "max length = 255", Contact.ContactNumber "max length = 50"), in characters.
const (
	maxContactName   = 255
	maxContactNumber = 50
)

// Phone mirrors Xero's Phone. PhoneType: DEFAULT, DDI, MOBILE, FAX.
type Phone struct {
	PhoneType        string `json:"PhoneType"`
	PhoneNumber      string `json:"PhoneNumber"`
	PhoneAreaCode    string `json:"PhoneAreaCode,omitempty"`
	PhoneCountryCode string `json:"PhoneCountryCode,omitempty"`
}

// Address mirrors Xero's Address. AddressType: POBOX, STREET.
type Address struct {
	AddressType  string `json:"AddressType"`
	AddressLine1 string `json:"AddressLine1"`
	AddressLine2 string `json:"AddressLine2"`
	AddressLine3 string `json:"AddressLine3,omitempty"`
	AddressLine4 string `json:"AddressLine4,omitempty"`
	City         string `json:"City"`
	Region       string `json:"Region"`
	PostalCode   string `json:"PostalCode"`
	Country      string `json:"Country"`
	AttentionTo  string `json:"AttentionTo,omitempty"`
}

// ContactRef addresses a contact inside an invoice. Only ContactID is sent: Xero updates the
// contact from any other fields sent inside an invoice (XERO.md §5).
type ContactRef struct {
	ContactID string `json:"ContactID,omitempty"`
	Name      string `json:"Name,omitempty"` // in responses
}

type contactsEnvelope struct {
	Contacts []Contact `json:"Contacts"`
}

func (e contactsEnvelope) elements() []Contact { return e.Contacts }

func contactView(c Contact) elementView {
	return elementView{
		id:     c.ContactID,
		key:    c.ContactNumber,
		failed: c.HasValidationErrors || strings.EqualFold(c.StatusAttributeString, "ERROR"),
		status: c.StatusAttributeString,
		msgs:   messages(c.ValidationErrors),
	}
}

// CreateContactsParams are the arguments of CreateContacts.
type CreateContactsParams struct {
	Contacts       []Contact // up to MaxBatch, without ContactID
	IdempotencyKey string    // required; bound to this exact batch
}

// CreateContacts creates contacts with PUT /Contacts (scope accounting.contacts). Results
// are per element, in request order.
func (o *Org) CreateContacts(ctx context.Context, p CreateContactsParams) ([]ElementResult[Contact], error) {
	const op = "PUT /Contacts"
	if err := checkBatch(op, len(p.Contacts)); err != nil {
		return nil, err
	}
	for i, c := range p.Contacts {
		if c.ContactID != "" {
			return nil, fmt.Errorf("%s: element %d has a ContactID; use UpdateContacts: %w", op, i, ErrInvalidRequest)
		}
		if strings.TrimSpace(c.Name) == "" {
			return nil, fmt.Errorf("%s: element %d has no Name: %w", op, i, ErrInvalidRequest)
		}
		if err := CheckContact(c); err != nil {
			return nil, fmt.Errorf("%s: element %d: %w", op, i, err)
		}
	}
	return o.writeContacts(ctx, http.MethodPut, op, p.Contacts, p.IdempotencyKey)
}

// CheckContact reports what CreateContacts and UpdateContacts refuse in c alone (the whole
// batch with it), so that a caller can fail that one contact instead: Xero's documented
// limits, Name ≤ 255 and ContactNumber ≤ 50 characters (XERO.md §10b).
func CheckContact(c Contact) error {
	if n := utf8.RuneCountInString(c.Name); n > maxContactName {
		return fmt.Errorf("contact Name is %d characters, over Xero's limit of %d: %w", n, maxContactName, ErrInvalidRequest)
	}
	if n := utf8.RuneCountInString(c.ContactNumber); n > maxContactNumber {
		return fmt.Errorf("contact ContactNumber %q is %d characters, over Xero's limit of %d: %w", Clip(c.ContactNumber, 60), n, maxContactNumber, ErrInvalidRequest)
	}
	return nil
}

// UpdateContactsParams are the arguments of UpdateContacts.
type UpdateContactsParams struct {
	Contacts       []Contact // up to MaxBatch, each with ContactID
	IdempotencyKey string
}

// UpdateContacts updates contacts with POST /Contacts (scope accounting.contacts). Each
// element must carry its ContactID: without one, POST would create a contact (or match one
// by name), which is never what an update means.
func (o *Org) UpdateContacts(ctx context.Context, p UpdateContactsParams) ([]ElementResult[Contact], error) {
	const op = "POST /Contacts"
	if err := checkBatch(op, len(p.Contacts)); err != nil {
		return nil, err
	}
	for i, c := range p.Contacts {
		if !isGUID(c.ContactID) {
			return nil, fmt.Errorf("%s: element %d has no valid ContactID: %w", op, i, ErrInvalidRequest)
		}
		if err := CheckContact(c); err != nil {
			return nil, fmt.Errorf("%s: element %d: %w", op, i, err)
		}
	}
	return o.writeContacts(ctx, http.MethodPost, op, p.Contacts, p.IdempotencyKey)
}

func (o *Org) writeContacts(ctx context.Context, method, op string, cs []Contact, key string) ([]ElementResult[Contact], error) {
	return writeBatch(ctx, o, call{
		method: method, url: o.c.apiBase + "/Contacts", op: op, query: batchQuery(),
		body: contactsEnvelope{Contacts: cs}, key: key, tenant: o.tenantID,
	}, cs, contactsEnvelope.elements, contactView)
}

// FindContactsByEmail returns every contact, archived ones included, whose EmailAddress
// equals email ignoring case (SPEC §1 linking: "case-insensitive, exact"). It searches with
// searchTerm, Xero's case-insensitive text search over names, numbers and emails, and keeps
// exact matches only. searchTerm is a plain parameter, so quotes, backslashes and non-ASCII
// letters in an email cannot change the query (see where.go for why not `where`).
// Scope accounting.contacts or accounting.contacts.read.
func (o *Org) FindContactsByEmail(ctx context.Context, email string) ([]Contact, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, fmt.Errorf("find contacts by email: empty email: %w", ErrInvalidRequest)
	}
	q := url.Values{"searchTerm": {email}, "includeArchived": {"true"}}
	all, err := listPages(ctx, o, "/Contacts", q, contactsEnvelope.elements)
	if err != nil {
		return nil, err
	}
	var out []Contact
	for _, c := range all {
		if strings.EqualFold(strings.TrimSpace(c.EmailAddress), email) {
			out = append(out, c)
		}
	}
	return out, nil
}

// FindContactsByNumbers looks contacts up by ContactNumber, archived ones included, many in
// one call: GET /Contacts?where=(ContactNumber=="a")||(ContactNumber=="b")…. It returns the
// contacts found by number (the first, if several share one). A contact's first push needs
// this lookup (SPEC §1 linking), and a step of new contacts costs one call this way instead
// of one or two each (GET /Contacts/{ContactNumber} cannot tell a GUID-shaped number from a
// ContactID, so a miss there needs a where query anyway). A number no contact can have
// (empty, or over Xero's 50 characters) is not found, and costs no call: one such number
// must not fail the lookup of the others. A number that cannot be a where literal (a quote,
// a backslash: see where.go) is looked up alone with searchTerm, which covers ContactNumber,
// and matched exactly here.
// Scope accounting.contacts or accounting.contacts.read.
func (o *Org) FindContactsByNumbers(ctx context.Context, numbers []string) (map[string]Contact, error) {
	found := map[string]Contact{}
	numbers = slices.DeleteFunc(slices.Clone(numbers), func(n string) bool { return n == "" || utf8.RuneCountInString(n) > maxContactNumber })
	var plain []string
	var queries []url.Values
	var wants [][]string // the numbers each query looks for
	for _, n := range numbers {
		if WhereLiteralOK(n) {
			plain = append(plain, n)
			continue
		}
		queries = append(queries, url.Values{"searchTerm": {n}, "includeArchived": {"true"}})
		wants = append(wants, []string{n})
	}
	for chunk := range slices.Chunk(plain, numbersPerLookup) {
		exprs := make([]string, len(chunk))
		for i, n := range chunk {
			e, err := WhereEquals("ContactNumber", n)
			if err != nil {
				return nil, fmt.Errorf("find contacts by numbers: %w", err)
			}
			exprs[i] = e
		}
		queries = append(queries, url.Values{"where": {WhereOr(exprs...)}, "includeArchived": {"true"}})
		wants = append(wants, chunk)
	}
	for i, q := range queries {
		all, err := listPages(ctx, o, "/Contacts", q, contactsEnvelope.elements)
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if _, seen := found[c.ContactNumber]; !seen && slices.Contains(wants[i], c.ContactNumber) {
				found[c.ContactNumber] = c
			}
		}
	}
	return found, nil
}

// directoryPageSize is the page size of ListContacts: Xero's largest (spec getContacts
// pageSize; XERO.md §2 "pageSize goes up to 1,000"), so an organisation of 2,000 contacts is
// read in two or three calls.
const directoryPageSize = 1000

// ListContactsParams are the arguments of ListContacts.
type ListContactsParams struct {
	// ModifiedSince, when set, asks only for the contacts created or modified since then
	// (If-Modified-Since); zero reads them all.
	ModifiedSince time.Time
}

// ListContacts reads every contact of the organisation, archived ones included
// (includeArchived=true), with summaryOnly=true (the light fields: what linking needs) in
// pages of 1,000 (page, pageSize): the contact directory's fill and refresh (issue 12). A
// page shorter than the page size, or the last of pagination.pageCount, ends the read.
// Scope accounting.contacts or accounting.contacts.read.
func (o *Org) ListContacts(ctx context.Context, p ListContactsParams) ([]Contact, error) {
	const op = "GET /Contacts"
	var all []Contact
	for page := 1; page <= maxPages; page++ {
		q := url.Values{
			"summaryOnly": {"true"}, "includeArchived": {"true"},
			"page": {strconv.Itoa(page)}, "pageSize": {strconv.Itoa(directoryPageSize)},
		}
		var resp struct {
			Contacts   []Contact `json:"Contacts"`
			Pagination *struct {
				PageCount int `json:"pageCount"`
			} `json:"pagination"`
		}
		if _, err := o.c.do(ctx, o.tokens, call{
			method: http.MethodGet, url: o.c.apiBase + "/Contacts", op: op,
			query: q, tenant: o.tenantID, modifiedSince: p.ModifiedSince,
		}, &resp); err != nil {
			return nil, err
		}
		all = append(all, resp.Contacts...)
		if len(resp.Contacts) < directoryPageSize || (resp.Pagination != nil && page >= resp.Pagination.PageCount) {
			break
		}
	}
	return all, nil
}
