package xerosim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestContactValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		contact map[string]any
		want    string // "" for success
		skip    string // why the echoed element is outside the OpenAPI schema
	}{
		{"valid", map[string]any{"Name": "New Person", "EmailAddress": "new@example.com", "ContactNumber": "C-9"}, "", ""},
		{"name required", map[string]any{"EmailAddress": "x@example.com"}, "A contact name must be specified.", ""},
		{"duplicate name ignores case", map[string]any{"Name": "BUZZ lightyear"},
			"The contact name BUZZ lightyear is already assigned to another contact. The contact name must be unique across all active contacts.", ""},
		{"archived namesake does not block", map[string]any{"Name": "Old Timer"}, "", ""},
		{"duplicate contact number", map[string]any{"Name": "Someone", "ContactNumber": "C-1"},
			"The contact number C-1 is already assigned to another contact. The contact number must be unique across all contacts.", ""},
		{"contact number held by archived contact", map[string]any{"Name": "Someone Else", "ContactNumber": "C-OLD"},
			"The contact number C-OLD is already assigned to another contact. The contact number must be unique across all contacts.", ""},
		{"email without at", map[string]any{"Name": "E1", "EmailAddress": "no-at.example.com"}, "Email address must be valid.", ""},
		{"email without domain dot", map[string]any{"Name": "E2", "EmailAddress": "a@localhost"}, "Email address must be valid.", ""},
		{"email with space", map[string]any{"Name": "E3", "EmailAddress": "a b@example.com"}, "Email address must be valid.", ""},
		{"email with umlaut", map[string]any{"Name": "E4", "EmailAddress": "jürgen@example.de"}, "Email address must be valid.", ""},
		{"email with two ats", map[string]any{"Name": "E5", "EmailAddress": "a@b@example.com"}, "Email address must be valid.", ""},
		{"bad status", map[string]any{"Name": "S1", "ContactStatus": "DELETED"}, "ContactStatus 'DELETED' is not valid.", "echoes an unknown ContactStatus"},
		{"contact number too long", map[string]any{"Name": "L1", "ContactNumber": strings.Repeat("9", 51)}, "The ContactNumber cannot be longer than 50 characters.", "echoes a 51-character ContactNumber"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.addContact(map[string]any{"Name": "Buzz Lightyear", "ContactNumber": "C-1"})
			e.addContact(map[string]any{"Name": "Old Timer", "ContactNumber": "C-OLD", "ContactStatus": "ARCHIVED"})
			before := len(e.sim.Contacts(e.tenant))
			var opts []callOpt
			if tc.skip != "" {
				opts = append(opts, withHeader(skipValidationHeader, tc.skip))
			}
			r := e.call(http.MethodPut, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{tc.contact}}, opts...).mustOK(t)
			c := r.items(t, "Contacts")[0]
			after := len(e.sim.Contacts(e.tenant))
			if tc.want == "" {
				if c["HasValidationErrors"] != false || c["StatusAttributeString"] != "OK" || after != before+1 {
					t.Fatalf("want success: %s", r.Body)
				}
				return
			}
			msgs := validationMessages(c)
			if !slices.Contains(msgs, tc.want) || c["HasValidationErrors"] != true || c["StatusAttributeString"] != "ERROR" {
				t.Fatalf("want %q, got %v in %s", tc.want, msgs, r.Body)
			}
			if after != before {
				t.Fatalf("failed contact was saved")
			}
		})
	}
}

func TestContactWhereAndSearch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	bob := e.addContact(map[string]any{"Name": `Bob "The Builder"`, "EmailAddress": "Bob@Example.com", "ContactNumber": "C-1", "FirstName": "Robert"})
	slash := e.addContact(map[string]any{"Name": `Back\slash`, "ContactNumber": "C-2"})
	noEmail := e.addContact(map[string]any{"Name": "Nemo"})
	archived := e.addContact(map[string]any{"Name": "Gone", "EmailAddress": "gone@example.com", "ContactStatus": "ARCHIVED"})
	zoe := e.addContact(map[string]any{"Name": "Zoë Ångström", "AccountNumber": "ACC-E", "ContactNumber": "C-3"})

	tests := []struct {
		query string
		want  []string
	}{
		{`where=EmailAddress=="Bob@Example.com"`, []string{bob}},
		// Optimised fields (Name, EmailAddress, AccountNumber) ignore case and
		// accents; the others do not (XERO.md §4).
		{`where=EmailAddress=="bob@example.com"`, []string{bob}},
		{`where=Name=="zoe angstrom"`, []string{zoe}},
		{`where=Name=="ZOË ÅNGSTRÖM"`, []string{zoe}},
		{`where=AccountNumber=="acc-é"`, []string{zoe}},
		{`where=Name.StartsWith("zoe")`, []string{zoe}},
		{`where=FirstName=="robert"`, nil},
		{`where=ContactNumber=="c-2"`, nil},
		{`where=Name.ToLower()=="zoe angstrom"`, nil}, // ToLower() gives a plain string
		{`where=EmailAddress!=null&&EmailAddress.ToLower()=="bob@example.com"`, []string{bob}},
		{`where=ContactNumber=="C-2"`, []string{slash}},
		// Classic dynamic LINQ literals: a doubled quote is one quote, a
		// backslash is just a character.
		{`where=Name=="Bob ""The Builder"""`, []string{bob}},
		{`where=Name=="Back\slash"`, []string{slash}},
		{`where=Name=="Back\\slash"`, nil},
		{`where=Name.StartsWith("Ne") OR ContactNumber=="C-1"`, []string{bob, noEmail}},
		{`where=EmailAddress==null`, []string{slash, noEmail, zoe}},
		{`where=ContactID==Guid("` + noEmail + `")`, []string{noEmail}},
		{`searchTerm=EXAMPLE.COM`, []string{bob}},
		{`searchTerm=robert`, []string{bob}},
		{`searchTerm=c-2`, []string{slash}},
		{`IDs=` + bob + "," + archived, []string{bob}},
		{`IDs=` + bob + "," + archived + `&includeArchived=true`, []string{bob, archived}},
		{`includeArchived=true&where=EmailAddress=="gone@example.com"`, []string{archived}},
		{`page=2&pageSize=1`, []string{slash}},
	}
	for _, tc := range tests {
		q := url.Values{}
		parsed, _ := url.ParseQuery(tc.query)
		for k, v := range parsed {
			q[k] = v
		}
		r := e.call(http.MethodGet, "Contacts?"+q.Encode(), nil).mustOK(t)
		var got []string
		for _, c := range r.items(t, "Contacts") {
			got = append(got, c["ContactID"].(string))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}

	// Without the null guard, ToLower() on a contact with no email throws
	// in Xero; the simulator answers 400 so the missing guard is caught.
	r := e.call(http.MethodGet, "Contacts?"+url.Values{"where": {`EmailAddress.ToLower()=="bob@example.com"`}}.Encode(), nil)
	if r.Status != http.StatusBadRequest {
		t.Errorf("unguarded ToLower: %d %s", r.Status, r.Body)
	}
	for _, bad := range []struct{ where, msg string }{
		{`Nope=="x"`, "No property or field 'Nope' exists in type 'Contact'"},
		{`Name=="unterminated`, "Unterminated string literal"},
		{`Name==`, "Expression expected"},
		// Xero's answer to a backslash-escaped quote, from a live call:
		// {"ErrorNumber":16,"Type":"QueryParseException","Message":"Syntax error"}
		// (XeroAPI/Xero-Java#347, the very filter below).
		{`Name=="asd\"asd'asd\""`, "Syntax error"},
		{`Name=="Bob \"The Builder\""`, "Syntax error"},
		// waynerobinson/xeroizer#454.
		{`ContactNumber=='C-1'`, "Character literal must contain exactly one character"},
	} {
		r := e.call(http.MethodGet, "Contacts?"+url.Values{"where": {bad.where}}.Encode(), nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("where %s: %d", bad.where, r.Status)
			continue
		}
		body := r.JSON(t)
		if num(body["ErrorNumber"]) != "16" || body["Type"] != "QueryParseException" || body["Message"] != bad.msg {
			t.Errorf("where %s: %v, want QueryParseException %q", bad.where, body, bad.msg)
		}
	}

	paged := e.call(http.MethodGet, "Contacts?page=1&pageSize=2", nil).mustOK(t).JSON(t)
	p := paged["pagination"].(map[string]any)
	if num(p["page"]) != "1" || num(p["pageSize"]) != "2" || num(p["itemCount"]) != "4" || num(p["pageCount"]) != "2" {
		t.Errorf("pagination: %v", p)
	}
	if _, ok := e.call(http.MethodGet, "Contacts", nil).mustOK(t).JSON(t)["pagination"]; ok {
		t.Error("pagination without page")
	}
}

func TestContactGetByIDAndNumber(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.addContact(map[string]any{"Name": "Rita", "ContactNumber": "cust-42", "ContactStatus": "ARCHIVED"})
	for _, p := range []string{"Contacts/" + id, "Contacts/" + strings.ToUpper(id), "Contacts/cust-42", "contacts/cust-42"} {
		r := e.call(http.MethodGet, p, nil).mustOK(t)
		if got := r.items(t, "Contacts")[0]["ContactID"]; got != id {
			t.Errorf("%s: %v", p, got)
		}
	}
	for _, p := range []string{"Contacts/cust-43", "Contacts/00000000-0000-4000-8000-000000000000", "Nonsense", "Contacts/a/b"} {
		if r := e.call(http.MethodGet, p, nil); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
}

func TestContactUpdateIsPartial(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.addContact(map[string]any{
		"Name": "Rita", "EmailAddress": "rita@example.com", "ContactNumber": "C-7",
		"Phones": []any{map[string]any{"PhoneType": "DEFAULT", "PhoneNumber": "555"}},
	})
	e.addContact(map[string]any{"Name": "Sam"})
	r := e.call(http.MethodPost, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{
		map[string]any{"ContactID": id, "EmailAddress": "rita@new.example.com"},
		map[string]any{"ContactID": id, "Name": "sam"},
	}}).mustOK(t)
	items := r.items(t, "Contacts")
	if items[0]["Name"] != "Rita" || items[0]["EmailAddress"] != "rita@new.example.com" || items[0]["ContactNumber"] != "C-7" {
		t.Errorf("partial update: %v", items[0])
	}
	if msgs := validationMessages(items[1]); len(msgs) != 1 || !strings.Contains(msgs[0], "The contact name sam is already assigned") {
		t.Errorf("rename onto an active name: %v", msgs)
	}
	got := e.sim.Contacts(e.tenant)[0]
	if string(got.Phones) != `[{"PhoneNumber":"555","PhoneType":"DEFAULT"}]` || got.EmailAddress != "rita@new.example.com" {
		t.Errorf("stored: %+v", got)
	}
	if n := e.sim.ContactCreations(e.tenant, "C-7"); n != 1 {
		t.Errorf("updates counted as creations: %d", n)
	}

	// Archive, reuse the name, then un-archiving collides.
	e.call(http.MethodPost, "Contacts/"+id, map[string]any{"ContactStatus": "ARCHIVED"}).mustOK(t)
	e.addContact(map[string]any{"Name": "RITA"})
	r = e.call(http.MethodPost, "Contacts/"+id+"?summarizeErrors=false", map[string]any{"ContactStatus": "ACTIVE"}).mustOK(t)
	if msgs := validationMessages(r.JSON(t)); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "The contact name Rita is already assigned") {
		t.Errorf("un-archive onto an active name: %v", msgs)
	}
	if r := e.call(http.MethodPost, "Contacts?summarizeErrors=false", map[string]any{"ContactID": "00000000-0000-4000-8000-000000000001", "Name": "Ghost"}).mustOK(t); validationMessages(r.JSON(t)) == nil {
		t.Error("update of an unknown ContactID succeeded")
	}
}

func TestMalformedBody(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, body := range []string{"", "{", `{"Contacts":{}}`, `[1,2]`, `{"Contacts":[1]}`} {
		r := e.call(http.MethodPut, "Contacts", body)
		if r.Status != http.StatusBadRequest || r.JSON(t)["Type"] != "PostDataInvalidException" {
			t.Errorf("body %q: %d %s", body, r.Status, r.Body)
		}
	}
}

// TestContactDirectoryRead is what the contact directory (issue 12) reads: summaryOnly=true
// (spec parameter summaryOnly: "only lightweight fields"), page/pageSize up to 1,000 (spec
// getContacts; XERO.md §2), includeArchived=true (spec getContacts), and If-Modified-Since
// ("Only records created or modified since this timestamp will be returned", spec parameter
// ifModifiedSince; XERO.md §2 "Use If-Modified-Since for incremental reads").
func TestContactDirectoryRead(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var cs []any
	for i := range 45 {
		cs = append(cs, map[string]any{"Name": "Person " + strconv.Itoa(i), "EmailAddress": "p" + strconv.Itoa(i) + "@example.com",
			"Addresses": []any{map[string]any{"AddressType": "STREET", "City": "Wellington"}}})
	}
	e.call(http.MethodPut, "Contacts?summarizeErrors=false", map[string]any{"Contacts": cs}).mustOK(t)
	gone := e.addContact(map[string]any{"Name": "Gone", "ContactStatus": "ARCHIVED"})

	read := func(q string, opts ...callOpt) (ids []string, body map[string]any) {
		r := e.call(http.MethodGet, "Contacts?"+q, nil, opts...).mustOK(t)
		for _, c := range r.items(t, "Contacts") {
			ids = append(ids, c["ContactID"].(string))
			if _, ok := c["Addresses"]; ok && strings.Contains(q, "summaryOnly=true") {
				t.Errorf("summaryOnly: a contact carries Addresses")
			}
		}
		return ids, r.JSON(t)
	}
	// Pages of 20: 20, 20, 6 (the archived one included), and the pagination says so.
	var all []string
	for page := 1; page <= 3; page++ {
		ids, body := read("summaryOnly=true&includeArchived=true&pageSize=20&page=" + strconv.Itoa(page))
		pg, _ := body["pagination"].(map[string]any)
		if pg == nil || fmt.Sprint(pg["pageCount"]) != "3" || fmt.Sprint(pg["itemCount"]) != "46" {
			t.Fatalf("page %d: pagination %v", page, body["pagination"])
		}
		all = append(all, ids...)
	}
	if len(all) != 46 || !slices.Contains(all, gone) {
		t.Fatalf("read %d contacts (archived included: %v), want 46", len(all), slices.Contains(all, gone))
	}
	if ids, _ := read("summaryOnly=true&page=1&pageSize=1000"); len(ids) != 45 || slices.Contains(ids, gone) {
		t.Fatalf("without includeArchived: %d contacts, want the 45 active", len(ids))
	}
	// pageSize over 1,000 is read as 1,000.
	if _, body := read("page=1&pageSize=5000"); fmt.Sprint(body["pagination"].(map[string]any)["pageSize"]) != "1000" {
		t.Fatalf("pageSize 5000: %v", body["pagination"])
	}

	// An accountant edits one contact and adds another later: If-Modified-Since brings back
	// those two only.
	since := e.clock.Now()
	e.clock.Advance(time.Minute)
	e.call(http.MethodPost, "Contacts?summarizeErrors=false", map[string]any{"Contacts": []any{
		map[string]any{"ContactID": all[3], "EmailAddress": "changed@example.com"}}}).mustOK(t)
	added := e.addContact(map[string]any{"Name": "Typed in Xero"})
	ids, _ := read("summaryOnly=true&includeArchived=true&page=1&pageSize=1000",
		withHeader("If-Modified-Since", since.Format("2006-01-02T15:04:05.000Z07:00")))
	slices.Sort(ids)
	want := []string{all[3], added}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("If-Modified-Since: got %v, want %v", ids, want)
	}
}

// A merge made in Xero's UI: the merged contact is archived and names the one it went into,
// in paged reads and reads by id only (spec Contact.MergedToContactID), and both are
// modified for If-Modified-Since.
func TestMergeContact(t *testing.T) {
	t.Parallel()
	e := setup(t)
	from := e.addContact(map[string]any{"Name": "Jo Bloggs (old)", "EmailAddress": "jo@example.com"})
	into := e.addContact(map[string]any{"Name": "Jo Bloggs", "EmailAddress": "jo.bloggs@example.com"})
	since := e.clock.Now()
	e.clock.Advance(time.Minute)
	if err := e.sim.MergeContact(e.tenant, from, into); err != nil {
		t.Fatal(err)
	}
	mergedTo := func(q string, opts ...callOpt) map[string]any {
		out := map[string]any{}
		for _, c := range e.call(http.MethodGet, q, nil, opts...).mustOK(t).items(t, "Contacts") {
			out[c["ContactID"].(string)] = c["MergedToContactID"]
		}
		return out
	}
	paged := mergedTo("Contacts?includeArchived=true&summaryOnly=true&page=1&pageSize=1000",
		withHeader("If-Modified-Since", since.Format("2006-01-02T15:04:05.000Z07:00")))
	if len(paged) != 2 || paged[from] != into || paged[into] != nil {
		t.Fatalf("paged read since the merge: %v", paged)
	}
	if unpaged := mergedTo("Contacts?includeArchived=true"); unpaged[from] != nil {
		t.Fatalf("unpaged read carries MergedToContactID: %v", unpaged)
	}
	if byID := mergedTo("Contacts/" + from); byID[from] != into {
		t.Fatalf("read by id: %v", byID)
	}
	if got := mergedTo("Contacts?page=1"); len(got) != 1 || !hasKey(got, into) {
		t.Fatalf("the merged contact is archived: an active read returns %v", got)
	}
	if err := e.sim.MergeContact(e.tenant, from, from); err == nil {
		t.Fatal("merging a contact into itself succeeded")
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}
