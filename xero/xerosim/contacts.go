package xerosim

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// contact is a stored Xero contact (spec schema Contact).
type contact struct {
	created         time.Time // simulated; not a Xero field (Contact.Created)
	id              string
	number          string
	accountNumber   string
	name            string
	firstName       string
	lastName        string
	email           string
	taxNumber       string
	companyNumber   string
	defaultCurrency string
	status          string
	phones          jsonRaw // stored as sent
	addresses       jsonRaw // stored as sent
	isCustomer      bool
	isSupplier      bool
	mergedTo        string // the contact this one was merged into (MergeContact)
	updated         time.Time
}

func (c *contact) fields() whereFields {
	// Name, EmailAddress and AccountNumber are Xero's optimised Contacts
	// filters and match ignoring case and accents (XERO.md §4); the others
	// compare exactly, ContactNumber included (it is not optimised).
	return whereFields{"Contact", map[string]whereValue{
		"ContactID":       guidVal(c.id),
		"ContactNumber":   strVal(c.number),
		"AccountNumber":   foldedStrVal(c.accountNumber),
		"Name":            foldedStrVal(c.name),
		"FirstName":       strVal(c.firstName),
		"LastName":        strVal(c.lastName),
		"EmailAddress":    foldedStrVal(c.email),
		"TaxNumber":       strVal(c.taxNumber),
		"CompanyNumber":   strVal(c.companyNumber),
		"DefaultCurrency": strVal(c.defaultCurrency),
		"ContactStatus":   strVal(c.status),
		"IsCustomer":      boolVal(c.isCustomer),
		"IsSupplier":      boolVal(c.isSupplier),
	}}
}

// contactJSON is the response shape of a contact. Field order follows the
// spec examples; empty optional strings are omitted the way Xero omits unset
// fields.
type contactJSON struct {
	ContactID             string            `json:"ContactID"`
	ContactNumber         string            `json:"ContactNumber,omitempty"`
	AccountNumber         string            `json:"AccountNumber,omitempty"`
	ContactStatus         string            `json:"ContactStatus"`
	Name                  string            `json:"Name"`
	FirstName             string            `json:"FirstName,omitempty"`
	LastName              string            `json:"LastName,omitempty"`
	EmailAddress          string            `json:"EmailAddress,omitempty"`
	CompanyNumber         string            `json:"CompanyNumber,omitempty"`
	TaxNumber             string            `json:"TaxNumber,omitempty"`
	DefaultCurrency       string            `json:"DefaultCurrency,omitempty"`
	BankAccountDetails    string            `json:"BankAccountDetails"`
	Addresses             jsonRaw           `json:"Addresses"`
	Phones                jsonRaw           `json:"Phones"`
	UpdatedDateUTC        string            `json:"UpdatedDateUTC"`
	ContactGroups         []any             `json:"ContactGroups"`
	IsSupplier            bool              `json:"IsSupplier"`
	IsCustomer            bool              `json:"IsCustomer"`
	ContactPersons        []any             `json:"ContactPersons"`
	HasAttachments        bool              `json:"HasAttachments"`
	HasValidationErrors   bool              `json:"HasValidationErrors"`
	MergedToContactID     string            `json:"MergedToContactID,omitempty"`
	StatusAttributeString string            `json:"StatusAttributeString,omitempty"`
	ValidationErrors      []validationError `json:"ValidationErrors,omitempty"`
}

func (c *contact) json(statusAttr string) contactJSON {
	return contactJSON{
		ContactID:             c.id,
		ContactNumber:         c.number,
		AccountNumber:         c.accountNumber,
		ContactStatus:         c.status,
		Name:                  c.name,
		FirstName:             c.firstName,
		LastName:              c.lastName,
		EmailAddress:          c.email,
		CompanyNumber:         c.companyNumber,
		TaxNumber:             c.taxNumber,
		DefaultCurrency:       c.defaultCurrency,
		Addresses:             orEmptyArray(c.addresses),
		Phones:                orEmptyArray(c.phones),
		UpdatedDateUTC:        msDate(c.updated),
		ContactGroups:         []any{},
		IsSupplier:            c.isSupplier,
		IsCustomer:            c.isCustomer,
		ContactPersons:        []any{},
		StatusAttributeString: statusAttr,
	}
}

// orEmptyArray renders an unset list as [], as Xero does.
func orEmptyArray(v jsonRaw) jsonRaw {
	if len(v) == 0 {
		return jsonRaw("[]")
	}
	return v
}

func (o *org) contactByID(id string) *contact {
	for _, c := range o.contacts {
		if sameGUID(c.id, id) {
			return c
		}
	}
	return nil
}

func (o *org) contactByNumber(number string) *contact {
	for _, c := range o.contacts {
		if number != "" && c.number == number {
			return c
		}
	}
	return nil
}

// sameName is Xero's contact-name comparison: case-insensitive (XERO.md
// §4, pyxero#172), ignoring surrounding spaces.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

func (o *org) activeContactByName(name string) *contact {
	for _, c := range o.contacts {
		if c.status == "ACTIVE" && sameName(c.name, name) {
			return c
		}
	}
	return nil
}

func (s *Sim) getContacts(a *apiRequest) *response {
	q := a.query
	ids := splitList(q.Get("IDs"))
	includeArchived := strings.EqualFold(q.Get("includeArchived"), "true")
	term := strings.ToLower(q.Get("searchTerm"))
	since, hasSince := ifModifiedSince(a.r)
	matched, res := filterWhere(a, a.org.contacts, func(c *contact) bool {
		// includeArchived=true is what brings ARCHIVED contacts back
		// (spec getContacts); a lookup that forgets it misses them.
		return (c.status != "ARCHIVED" || includeArchived) &&
			(len(ids) == 0 || containsGUID(ids, c.id)) &&
			(!hasSince || c.updated.After(since)) &&
			(term == "" || contactMatchesTerm(c, term))
	}, (*contact).fields)
	if res != nil {
		return res
	}
	page, pg := pageOf(q, matched)
	summary := strings.EqualFold(q.Get("summaryOnly"), "true")
	items := make([]any, 0, len(page))
	for _, c := range page {
		// MergedToContactID: "Only returned when using paging or when fetching a contact by
		// ContactId or ContactNumber" (spec Contact.MergedToContactID).
		merged := ""
		if pg != nil {
			merged = c.mergedTo
		}
		if summary {
			j := c.summaryJSON()
			j.MergedToContactID = merged
			items = append(items, j)
			continue
		}
		j := c.json("")
		j.MergedToContactID = merged
		items = append(items, j)
	}
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Contacts", items, pg))
}

// contactSummaryJSON is a contact under summaryOnly=true: "a smaller version of the
// response object ... only lightweight fields, excluding computation-heavy fields" (spec
// parameter summaryOnly). The spec does not list the fields; the identity, names, email,
// numbers, status and UpdatedDateUTC are kept, and the lists (addresses, phones, persons,
// groups) are left out, so a client that reads a list from a summary finds it missing here
// as it may in Xero.
type contactSummaryJSON struct {
	ContactID      string `json:"ContactID"`
	ContactNumber  string `json:"ContactNumber,omitempty"`
	AccountNumber  string `json:"AccountNumber,omitempty"`
	ContactStatus  string `json:"ContactStatus"`
	Name           string `json:"Name"`
	FirstName      string `json:"FirstName,omitempty"`
	LastName       string `json:"LastName,omitempty"`
	EmailAddress   string `json:"EmailAddress,omitempty"`
	UpdatedDateUTC string `json:"UpdatedDateUTC"`
	IsSupplier     bool   `json:"IsSupplier"`
	IsCustomer     bool   `json:"IsCustomer"`
	// Not confirmed that Xero's summary carries it; kept, since without it a merged contact
	// would look like any archived one.
	MergedToContactID string `json:"MergedToContactID,omitempty"`
}

func (c *contact) summaryJSON() contactSummaryJSON {
	return contactSummaryJSON{
		ContactID: c.id, ContactNumber: c.number, AccountNumber: c.accountNumber, ContactStatus: c.status,
		Name: c.name, FirstName: c.firstName, LastName: c.lastName, EmailAddress: c.email,
		UpdatedDateUTC: msDate(c.updated), IsSupplier: c.isSupplier, IsCustomer: c.isCustomer,
	}
}

// contactMatchesTerm is searchTerm: "a case-insensitive text search across
// the Name, FirstName, LastName, ContactNumber and EmailAddress fields"
// (spec getContacts).
func contactMatchesTerm(c *contact, term string) bool {
	for _, f := range []string{c.name, c.firstName, c.lastName, c.number, c.email} {
		if strings.Contains(strings.ToLower(f), term) {
			return true
		}
	}
	return false
}

func containsGUID(list []string, id string) bool {
	for _, x := range list {
		if sameGUID(x, id) {
			return true
		}
	}
	return false
}

// getContact is GET /Contacts/{ContactID} and GET /Contacts/{ContactNumber};
// a GUID-shaped segment is an id, anything else a contact number.
func (s *Sim) getContact(a *apiRequest) *response {
	var c *contact
	if isGUID(a.rt.id) {
		c = a.org.contactByID(a.rt.id)
	} else {
		c = a.org.contactByNumber(a.rt.id)
	}
	if c == nil {
		return notFoundResponse()
	}
	j := c.json("")
	j.MergedToContactID = c.mergedTo
	return jsonResponse(http.StatusOK, envelope(a.now, a.provider, "Contacts", []any{j}, nil))
}

// writeContacts is PUT /Contacts (create), POST /Contacts (update by
// ContactID, else create) and POST /Contacts/{ContactID}. Each element is
// saved or refused on its own.
func (s *Sim) writeContacts(a *apiRequest, create bool) *response {
	if a.rt.id != "" && !isGUID(a.rt.id) {
		return notFoundResponse()
	}
	return writeBatch(a, "Contacts", func(el obj) batchResult {
		c, errs := s.saveContact(a, el, create)
		if len(errs) > 0 {
			return batchResult{item: el.echo(errs, "HasValidationErrors"), failed: true}
		}
		return batchResult{item: c.json("OK")}
	})
}

// saveContact validates one element and, if it is valid, saves it.
func (s *Sim) saveContact(a *apiRequest, el obj, create bool) (*contact, []string) {
	o := a.org
	id := el.strOr("ContactID")
	if a.rt.id != "" {
		id = a.rt.id
	}
	var existing *contact
	if !create && id != "" {
		existing = o.contactByID(id)
		if existing == nil {
			// Wording not confirmed against Xero.
			return nil, []string{"The contact with the specified ContactID could not be found."}
		}
	}
	c := &contact{id: newGUID(), status: "ACTIVE"}
	if existing != nil {
		cp := *existing
		c = &cp
	}
	errs := applyContactFields(c, el)
	if len(errs) > 0 {
		return nil, errs
	}
	errs = validateContact(o, c, existing)
	if len(errs) > 0 {
		return nil, errs
	}
	c.updated, c.created = a.now, a.now
	if existing != nil {
		c.created = existing.created
		*existing = *c
		return existing, nil
	}
	o.contacts = append(o.contacts, c)
	o.contactCreations[c.number]++
	return c, nil
}

// applyContactFields copies the fields present in el onto c. An omitted
// field keeps its value (POST updates are partial); a field sent as ""
// clears it.
func applyContactFields(c *contact, el obj) []string {
	var errs []string
	strField := func(name string, dst *string) {
		v, ok, err := el.str(name)
		if err != nil {
			errs = append(errs, err.Error())
			return
		}
		if ok {
			*dst = strings.TrimSpace(v)
		}
	}
	strField("Name", &c.name)
	strField("FirstName", &c.firstName)
	strField("LastName", &c.lastName)
	strField("EmailAddress", &c.email)
	strField("ContactNumber", &c.number)
	strField("AccountNumber", &c.accountNumber)
	strField("TaxNumber", &c.taxNumber)
	strField("CompanyNumber", &c.companyNumber)
	strField("DefaultCurrency", &c.defaultCurrency)
	if v, ok, err := el.str("ContactStatus"); err != nil {
		errs = append(errs, err.Error())
	} else if ok {
		c.status = strings.ToUpper(strings.TrimSpace(v))
	}
	for _, f := range []struct {
		name string
		dst  *jsonRaw
	}{{"Phones", &c.phones}, {"Addresses", &c.addresses}} {
		v, ok := el.raw(f.name)
		if !ok {
			continue
		}
		if _, _, err := el.children(f.name); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		*f.dst = append(jsonRaw(nil), bytes.TrimSpace(v)...)
	}
	return errs
}

// validateContact applies Xero's contact rules to the would-be state c.
// existing is the stored contact being updated, or nil for a create.
func validateContact(o *org, c *contact, existing *contact) []string {
	var errs []string
	if c.name == "" {
		// Xero requires Name on create (spec Contact.Name); the wording of
		// its message is not confirmed.
		errs = append(errs, "A contact name must be specified.")
	}
	switch c.status {
	case "ACTIVE", "ARCHIVED":
	case "GDPRREQUEST":
		errs = append(errs, "Contact status GDPRREQUEST cannot be set through the API.")
	default:
		errs = append(errs, fmt.Sprintf("ContactStatus '%s' is not valid.", c.status))
	}
	if c.email != "" && !validEmail(c.email) {
		errs = append(errs, "Email address must be valid.")
	}
	// Xero's documented limits (spec Contact.ContactNumber "max length = 50",
	// Contact.Name "max length = 255"; XERO.md §10b). Xero's messages for
	// them were not found; these wordings name the field.
	if n := len([]rune(c.number)); n > 50 {
		errs = append(errs, "The ContactNumber cannot be longer than 50 characters.")
	}
	if n := len([]rune(c.name)); n > 255 {
		errs = append(errs, "The Name cannot be longer than 255 characters.")
	}
	// Name: unique among ACTIVE contacts, case-insensitively; an archived
	// namesake does not block (XERO.md §4). This rule keeps at most one
	// active contact per name, so the lookup's one answer is the only
	// candidate.
	if c.name != "" && c.status == "ACTIVE" {
		if other := o.activeContactByName(c.name); other != nil && other != existing {
			errs = append(errs, fmt.Sprintf("The contact name %s is already assigned to another contact. The contact name must be unique across all active contacts.", c.name))
		}
	}
	// ContactNumber: unique across all contacts, archived included, which
	// likewise leaves the lookup one candidate.
	if c.number != "" {
		if other := o.contactByNumber(c.number); other != nil && other != existing {
			errs = append(errs, fmt.Sprintf("The contact number %s is already assigned to another contact. The contact number must be unique across all contacts.", c.number))
		}
	}
	return errs
}

// validEmail approximates Xero's address check: one "@", a non-empty local
// part, a dotted domain, no spaces, and ASCII only ("umlauts not supported",
// spec Contact.EmailAddress).
func validEmail(s string) bool {
	for _, r := range s {
		if r > 127 || r == ' ' || r == ',' || r == ';' || r == '<' || r == '>' {
			return false
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return false
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	dot := strings.LastIndex(domain, ".")
	return dot > 0 && dot < len(domain)-2 && !strings.Contains(domain, "..") && !strings.HasPrefix(domain, "-")
}

// MergeContact does what an accountant's merge in Xero's UI does (the API has no merge): the
// contact from is archived and points at into (MergedToContactID, XERO.md §4 "set when a
// contact was merged into another; follow it"); both count as modified now, so an
// If-Modified-Since read returns them. The contacts' other fields are left as they were.
func (s *Sim) MergeContact(tenantID, fromID, intoID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(tenantID)
	if o == nil {
		return fmt.Errorf("merge contact: no organisation %s", tenantID)
	}
	from, into := o.contactByID(fromID), o.contactByID(intoID)
	if from == nil || into == nil || from == into {
		return fmt.Errorf("merge contact: %s into %s: both must exist and differ", fromID, intoID)
	}
	now := s.clock.Now()
	from.status, from.mergedTo, from.updated = "ARCHIVED", into.id, now
	into.updated = now
	return nil
}
