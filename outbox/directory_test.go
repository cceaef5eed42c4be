package outbox

import "testing"

// TestMatchContact is the linking decision over the directory's candidates (SPEC §1), with
// no PostgreSQL and no Xero.
func TestMatchContact(t *testing.T) {
	t.Parallel()
	const us, other = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	customer := ContactPayload{CustomerID: us, ContactFields: ContactFields{Name: "Ada Ltd", Email: "  Ada@Example.COM "}}
	byMail := dirContact{ContactID: "c-mail", Name: "Ada (typed in Xero)", Email: "ada@example.com", Status: "ACTIVE"}
	byNum := dirContact{ContactID: "c-num", Name: "Ada Ltd", Number: us, Status: "ACTIVE"}
	for _, tc := range []struct {
		name        string
		dir         []dirContact
		numberFirst bool
		want, by    string // want: the ContactID linked, "" for none
		ambiguous   int
	}{
		{name: "empty directory: create", dir: nil},
		{name: "email in another case", dir: []dirContact{byMail}, want: "c-mail", by: "email"},
		{name: "archived contact with the email still links", dir: []dirContact{{ContactID: "c-arch", Email: "ada@example.com", Status: "ARCHIVED"}}, want: "c-arch", by: "email"},
		{name: "email of a contact carrying another customer's number: not ours", dir: []dirContact{{ContactID: "c-x", Email: "ada@example.com", Number: other}}},
		{name: "email and our number: said as contact_number", dir: []dirContact{{ContactID: "c-both", Email: "ada@example.com", Number: us}}, want: "c-both", by: "contact_number"},
		{name: "email only a prefix: no match", dir: []dirContact{{ContactID: "c-p", Email: "ada@example.co"}}},
		{name: "same name only: never linked", dir: []dirContact{{ContactID: "c-name", Name: "Ada Ltd", Status: "ACTIVE"}}},
		{name: "two with the email: ambiguous, then by number", dir: []dirContact{byMail, {ContactID: "c-mail2", Email: "ada@example.com"}, byNum},
			want: "c-num", by: "contact_number"},
		{name: "two with the email and no number: none", dir: []dirContact{byMail, {ContactID: "c-mail2", Email: "ada@example.com"}}, ambiguous: 2},
		{name: "email first", dir: []dirContact{byNum, byMail}, want: "c-mail", by: "email"},
		{name: "after an unknown outcome: number first", dir: []dirContact{byMail, byNum}, numberFirst: true, want: "c-num", by: "contact_number"},
		{name: "number first, no number: then email", dir: []dirContact{byMail}, numberFirst: true, want: "c-mail", by: "email"},
		// Merges made in Xero: the merged contact stands for the one it went into.
		{name: "merged contact with the email: its survivor", dir: []dirContact{
			{ContactID: "c-old", Email: "ada@example.com", Status: "ARCHIVED", MergedTo: "C-NEW"}, {ContactID: "c-new", Email: "ada@ltd.example"}},
			want: "c-new", by: "email"},
		{name: "merged and survivor both with the email: one contact, not ambiguous", dir: []dirContact{
			{ContactID: "c-old", Email: "ada@example.com", Status: "ARCHIVED", MergedTo: "c-new"}, {ContactID: "c-new", Email: "ada@example.com"}},
			want: "c-new", by: "email"},
		{name: "merged into another customer's contact: nothing", dir: []dirContact{
			{ContactID: "c-old", Email: "ada@example.com", Status: "ARCHIVED", MergedTo: "c-theirs"}, {ContactID: "c-theirs", Number: other}}},
		{name: "merged into a contact not in the directory: nothing", dir: []dirContact{
			{ContactID: "c-old", Email: "ada@example.com", Status: "ARCHIVED", MergedTo: "c-gone"}}},
		{name: "our number on a merged contact: its survivor", dir: []dirContact{
			{ContactID: "c-ours", Number: us, Status: "ARCHIVED", MergedTo: "c-mid"}, {ContactID: "c-mid", Status: "ARCHIVED", MergedTo: "c-end"}, {ContactID: "c-end"}},
			numberFirst: true, want: "c-end", by: "contact_number"},
		{name: "a cycle of merges: nothing", dir: []dirContact{
			{ContactID: "c-a", Email: "ada@example.com", MergedTo: "c-b"}, {ContactID: "c-b", MergedTo: "c-a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := matchContact(tc.dir, customer, tc.numberFirst)
			if m.contact.ContactID != tc.want || m.by != tc.by || m.ambiguous != tc.ambiguous {
				t.Errorf("matchContact = %q by %q (ambiguous %d), want %q by %q (ambiguous %d)",
					m.contact.ContactID, m.by, m.ambiguous, tc.want, tc.by, tc.ambiguous)
			}
		})
	}
	// A customer without an email links by number only.
	noMail := ContactPayload{CustomerID: us, ContactFields: ContactFields{Name: "Ada Ltd"}}
	if m := matchContact([]dirContact{{ContactID: "c-empty", Email: ""}, byNum}, noMail, false); m.contact.ContactID != "c-num" {
		t.Errorf("no email: linked %q, want c-num", m.contact.ContactID)
	}
}
