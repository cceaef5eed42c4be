package outbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/softbooq/xerosync/xero"
)

// The contact directory (issue 12): what linking needs of every contact of an organisation
// (xerosync.contact_directory), so that finding a new customer's contact — by email, then by
// ContactNumber (SPEC §1) — is a lookup in PostgreSQL, not one or two calls to Xero per
// customer. It is filled once with a paged read of all contacts, archived included, and
// refreshed with If-Modified-Since before every step that links or creates contacts, so
// that an accountant's edit, archive, merge or new contact in Xero is seen before we decide
// (a stale directory could link the wrong contact, or create a duplicate). Our own writes'
// answers go in too. The rules of linking are matchContact's, pure.

var (
	//go:embed sql/directory_state.sql
	directoryStateSQL string
	//go:embed sql/directory_upsert.sql
	directoryUpsertSQL string
	//go:embed sql/directory_set_state.sql
	directorySetStateSQL string
	//go:embed sql/directory_lookup.sql
	directoryLookupSQL string
)

// dirContact is one contact of the directory.
type dirContact struct {
	ContactID string
	Name      string
	Email     string // lower-cased, trimmed
	Number    string // ContactNumber
	Status    string // ACTIVE, ARCHIVED, GDPRREQUEST
	MergedTo  string // the contact it was merged into in Xero, or ""
}

// normEmail is the form emails are kept and compared in: SPEC §1 matches "case-insensitive,
// exact".
func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// fillSkew is how far before a fill's start the next refresh asks from when the fill saw no
// contact at all (an empty organisation): Xero's clock, not ours, stamps UpdatedDateUTC, and
// a contact made meanwhile must not be missed. Re-reading a few is harmless.
const fillSkew = 10 * time.Minute

// refreshOverlap is subtracted from the If-Modified-Since sent: a contact stamped in the
// same instant as the last one seen is read again rather than missed, whether Xero compares
// "since" inclusively or not.
const refreshOverlap = time.Second

// refreshDirectory brings the organisation's directory up to date: the first time a paged
// read of every contact (the fill), after that the contacts changed since the last read
// (If-Modified-Since). Either is one call for up to 1,000 contacts.
func (l *lane) refreshDirectory(ctx context.Context) error {
	var since *time.Time
	err := l.d.cfg.DB.QueryRow(ctx, directoryStateSQL, l.xeroTenant).Scan(&since)
	filled := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read contact directory state: %w", err)
	}
	started := l.d.now()
	p := xero.ListContactsParams{}
	if filled && since != nil {
		p.ModifiedSince = since.Add(-refreshOverlap)
	}
	cs, err := l.org.ListContacts(ctx, p)
	if err != nil {
		return fmt.Errorf("refresh contact directory: %w", err)
	}
	if err := l.remember(ctx, cs); err != nil {
		return err
	}
	next := since
	for _, c := range cs {
		if u := c.UpdatedDateUTC.Time; !u.IsZero() && (next == nil || u.After(*next)) {
			next = &u
		}
	}
	if next == nil {
		t := started.Add(-fillSkew)
		next = &t
	}
	if !filled {
		l.log.Info("contact directory filled", "xero_tenant_id", l.xeroTenant, "contacts", len(cs))
	}
	if _, err := l.d.cfg.DB.Exec(ctx, directorySetStateSQL, l.xeroTenant, *next, l.d.now()); err != nil {
		return fmt.Errorf("store contact directory state: %w", err)
	}
	return nil
}

// remember stores contacts as Xero returned them in the directory.
func (l *lane) remember(ctx context.Context, cs []xero.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	seen := make(map[string]int, len(cs)) // one row per contact in one statement: the last copy
	var ids, names, emails, numbers, statuses []string
	var updated []*time.Time
	var merged []*string
	// In ContactID order: a refresh and a write's answer may upsert the same contacts at
	// once, and one lock order keeps them from deadlocking.
	cs = slices.SortedStableFunc(slices.Values(cs), func(a, b xero.Contact) int {
		return strings.Compare(strings.ToLower(a.ContactID), strings.ToLower(b.ContactID))
	})
	for _, c := range cs {
		if c.ContactID == "" {
			continue
		}
		var u *time.Time
		if !c.UpdatedDateUTC.IsZero() {
			t := c.UpdatedDateUTC.Time
			u = &t
		}
		status := c.ContactStatus
		if status == "" {
			status = "ACTIVE"
		}
		var mt *string
		if c.MergedToContactID != "" {
			m := strings.ToLower(c.MergedToContactID)
			mt = &m
		}
		id := strings.ToLower(c.ContactID)
		if i, ok := seen[id]; ok {
			names[i], emails[i], numbers[i], statuses[i], updated[i], merged[i] = c.Name, normEmail(c.EmailAddress), c.ContactNumber, status, u, mt
			continue
		}
		seen[id] = len(ids)
		ids, names, emails = append(ids, id), append(names, c.Name), append(emails, normEmail(c.EmailAddress))
		numbers, statuses, updated, merged = append(numbers, c.ContactNumber), append(statuses, status), append(updated, u), append(merged, mt)
	}
	if _, err := l.d.cfg.DB.Exec(ctx, directoryUpsertSQL, l.xeroTenant, ids, names, emails, numbers, statuses, updated, l.d.now(), merged); err != nil {
		return fmt.Errorf("store contacts in the directory: %w", err)
	}
	return nil
}

// rememberWritten stores the contacts a write saved (the elements Xero answered with). A
// failure costs nothing but freshness: the next refresh reads them again, since they changed
// after its If-Modified-Since.
func rememberWritten(l *lane, res []xero.ElementResult[xero.Contact]) {
	var cs []xero.Contact
	for _, r := range res {
		if r.OK() && r.XeroID != "" {
			c := r.Entity
			c.ContactID = r.XeroID
			cs = append(cs, c)
		}
	}
	ctx, cancel := l.detached()
	defer cancel()
	if err := l.remember(ctx, cs); err != nil {
		l.log.Warn("contact directory not updated from a write; the next refresh reads them", "error", err)
	}
}

// lookupDirectory returns the directory's contacts that may concern the customers: by their
// emails, numbers (customer ids) and names.
func (l *lane) lookupDirectory(ctx context.Context, cs []ContactPayload) ([]dirContact, error) {
	var emails, numbers, names []string
	for _, c := range cs {
		if e := normEmail(c.Email); e != "" {
			emails = append(emails, e)
		}
		numbers = append(numbers, c.CustomerID)
		names = append(names, strings.ToLower(strings.TrimSpace(c.Name)))
	}
	rows, err := l.d.cfg.DB.Query(ctx, directoryLookupSQL, l.xeroTenant, emails, numbers, names)
	if err != nil {
		return nil, fmt.Errorf("look up the contact directory: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dirContact, error) {
		var d dirContact
		err := r.Scan(&d.ContactID, &d.Name, &d.Email, &d.Number, &d.Status, &d.MergedTo)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("look up the contact directory: %w", err)
	}
	return out, nil
}

// directoryFor refreshes the directory and returns what it holds for the customers.
func (l *lane) directoryFor(ctx context.Context, cs []ContactPayload) ([]dirContact, error) {
	if err := l.refreshDirectory(ctx); err != nil {
		return nil, err
	}
	return l.lookupDirectory(ctx, cs)
}

// contactMatch is matchContact's decision for one customer.
type contactMatch struct {
	contact   dirContact
	by        string // "email" or "contact_number"; "" when nothing links
	ambiguous int    // contacts sharing the customer's email, when several did (none linked)
}

// matchContact decides which contact of the directory, if any, a customer links to: SPEC
// §1's rule, unchanged from when the candidates came from Xero lookups. By email
// (case-insensitive, exact; archived contacts included), then by ContactNumber (the customer
// id). After an unknown outcome the number comes first: it can only be ours, and it is what
// a lost create made. A contact that carries another customer's number is that customer's,
// never a match; several contacts with the email are ambiguous and none is linked by email.
// A contact merged into another in Xero stands for the one it was merged into (XERO.md §4,
// MergedToContactID: "follow it"), which must be ours to link too; a merge whose end is not
// in dir links nothing.
func matchContact(dir []dirContact, c ContactPayload, numberFirst bool) contactMatch {
	byID := make(map[string]dirContact, len(dir))
	for _, d := range dir {
		byID[strings.ToLower(d.ContactID)] = d
	}
	ours := func(d dirContact) bool { return d.Number == "" || d.Number == c.CustomerID }
	// resolve follows d's merges to the contact that stands for it.
	resolve := func(d dirContact) (dirContact, bool) {
		for range len(dir) + 1 { // a chain of merges is at most as long as dir; a cycle ends
			if d.MergedTo == "" {
				return d, true
			}
			next, ok := byID[strings.ToLower(d.MergedTo)]
			if !ok {
				return d, false
			}
			d = next
		}
		return d, false
	}
	byEmail := func() contactMatch {
		email := normEmail(c.Email)
		if email == "" {
			return contactMatch{}
		}
		var match []dirContact
		for _, d := range dir {
			if d.Email != email || !ours(d) {
				continue
			}
			r, ok := resolve(d)
			if ok && ours(r) && !slices.ContainsFunc(match, func(m dirContact) bool { return strings.EqualFold(m.ContactID, r.ContactID) }) {
				match = append(match, r)
			}
		}
		switch len(match) {
		case 1:
			if match[0].Number == c.CustomerID {
				// It carries our number too: logged as such, as before the directory.
				return contactMatch{contact: match[0], by: "contact_number"}
			}
			return contactMatch{contact: match[0], by: "email"}
		case 0:
			return contactMatch{}
		}
		return contactMatch{ambiguous: len(match)}
	}
	byNumber := func() contactMatch {
		for _, d := range dir {
			if c.CustomerID != "" && d.Number == c.CustomerID {
				if r, ok := resolve(d); ok && ours(r) {
					return contactMatch{contact: r, by: "contact_number"}
				}
				return contactMatch{}
			}
		}
		return contactMatch{}
	}
	first, second := byEmail, byNumber
	if numberFirst {
		first, second = byNumber, byEmail
	}
	m := first()
	if m.by != "" {
		return m
	}
	m2 := second()
	if m2.by == "" {
		m2.ambiguous = max(m.ambiguous, m2.ambiguous)
	}
	return m2
}
