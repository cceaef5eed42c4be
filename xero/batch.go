package xero

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ElementResult is the outcome of one element of a batch write, matched to the request by
// position (Xero answers elements in request order) and cross-checked by InvoiceNumber,
// ContactNumber or the payment's invoice. With summarizeErrors=false Xero answers 200 even
// when elements failed, and a failed element was not saved.
//
// Whether an element was saved is read from its status, never from an id or a message: a
// failed element comes back as a whole entity, sometimes with an id Xero made up or an
// all-zero one (spec PUT /Payments 200 example; Xero-NetStandard#156, xero-node#204, #177),
// and sometimes with HasErrors false and only StatusAttributeString "ERROR" (spec GET
// /Invoices/{InvoiceID} example); a saved element, with its id and "OK", can still carry a
// message (spec PUT /CreditNotes 200 example), which is a warning (XERO.md §10b).
type ElementResult[T any] struct {
	XeroID           string // InvoiceID / ContactID / PaymentID; empty when the element failed
	Entity           T      // the element as Xero returned it
	ValidationErrors []string
	// Warnings are the messages Xero attached to an element it saved.
	Warnings []string
	Code     ErrorCode // "" when the element succeeded
}

// OK reports whether the element was saved.
func (r ElementResult[T]) OK() bool { return r.Code == "" }

// ValidationError is one of Xero's validation messages.
type ValidationError struct {
	Message string `json:"Message"`
}

func messages(ves []ValidationError) []string {
	var out []string
	for _, v := range ves {
		if m := strings.TrimSpace(v.Message); m != "" {
			out = append(out, OneLine(m, 1000))
		}
	}
	return out
}

// elementView is what matchResults needs to know of one element.
type elementView struct {
	id     string   // Xero's id
	key    string   // cross-check key: InvoiceNumber, ContactNumber, payment's InvoiceID
	failed bool     // HasErrors / HasValidationErrors / StatusAttributeString ERROR
	status string   // StatusAttributeString as sent: OK, WARNING, ERROR or nothing
	msgs   []string // all validation messages, line-level included
}

// savedStatus reports a StatusAttributeString that says the element was saved. "WARNING" is
// what integrators report beside "OK" and "ERROR" (XERO.md §5).
func savedStatus(s string) bool {
	return strings.EqualFold(s, "OK") || strings.EqualFold(s, "WARNING")
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// matchResults pairs the response elements with the request. A different count, or a
// cross-check key that differs, means we cannot say which element got which outcome: the
// whole batch is then an unknown outcome to reconcile (XERO.md §5).
func matchResults[T any](op string, sent, got []T, view func(T) elementView) ([]ElementResult[T], error) {
	if len(got) != len(sent) {
		return nil, fmt.Errorf("%s: %w: response has %d elements for %d sent", op, ErrOutcomeUnknown, len(got), len(sent))
	}
	out := make([]ElementResult[T], len(got))
	for i := range got {
		s, g := view(sent[i]), view(got[i])
		if s.key != "" && g.key != "" && !strings.EqualFold(strings.TrimSpace(s.key), strings.TrimSpace(g.key)) {
			return nil, fmt.Errorf("%s: %w: element %d is %q in the response but %q was sent", op, ErrOutcomeUnknown, i, g.key, s.key)
		}
		r := ElementResult[T]{Entity: got[i]}
		switch {
		case g.failed:
			// Failed whatever id it carries (a made-up or all-zero one is common).
			r.ValidationErrors = g.msgs
			if len(r.ValidationErrors) == 0 {
				r.ValidationErrors = []string{"Xero marked the element as failed without a message"}
			}
			r.Code = CodeForMessages(r.ValidationErrors)
		case len(g.msgs) > 0 && !savedStatus(g.status):
			// Messages, but neither an error flag nor a status that says saved: Xero's
			// failed elements carry a flag or ERROR, its saved ones OK, so this is neither
			// and we cannot say which. Reconcile rather than guess.
			return nil, fmt.Errorf("%s: %w: element %d carries messages (%s) but no status saying whether it was saved", op, ErrOutcomeUnknown, i, strings.Join(g.msgs, "; "))
		case g.id == "" || g.id == zeroGUID:
			// Saved elements always carry their id; without one we cannot link it.
			return nil, fmt.Errorf("%s: %w: element %d has no id in the response", op, ErrOutcomeUnknown, i)
		default:
			r.XeroID = g.id
			r.Warnings = g.msgs
		}
		out[i] = r
	}
	return out, nil
}

// writeBatch sends one batch write, cl (whose body wraps sent), and matches Xero's answer to
// sent element by element; elements picks the answer's elements out of its envelope.
func writeBatch[T, E any](ctx context.Context, o *Org, cl call, sent []T, elements func(E) []T, view func(T) elementView) ([]ElementResult[T], error) {
	var resp E
	if _, err := o.c.do(ctx, o.tokens, cl, &resp); err != nil {
		return nil, err
	}
	return matchResults(cl.op, sent, elements(resp), view)
}

// checkBatch refuses empty or oversized batches before anything is sent.
func checkBatch(op string, n int) error {
	if n == 0 {
		return fmt.Errorf("%s: empty batch: %w", op, ErrInvalidRequest)
	}
	if n > MaxBatch {
		return fmt.Errorf("%s: %d elements exceed the batch size of %d: %w", op, n, MaxBatch, ErrInvalidRequest)
	}
	return nil
}

// batchQuery is the query every batch write carries: per-element results, always 200
// (XERO.md §0 items 10 and 11).
func batchQuery() url.Values { return url.Values{"summarizeErrors": {"false"}} }

// pageSize is what paged reads ask for; a shorter page is the last one.
const pageSize = 100

// numbersPerLookup bounds the numbers asked for in one lookup by number
// (FindContactsByNumbers), and so the length of its URL (up to about 60 bytes a number, once
// encoded); invoices go by chunkList.
const numbersPerLookup = 25

// listPerLookup and listChars bound a lookup by a comma list (InvoiceNumbers=…, IDs=…): as
// many as a batch holds, and a URL well under the 8 KB that common servers and proxies take
// (the list's length once encoded).
const (
	listPerLookup = MaxBatch
	listChars     = 4000
)

// chunkList cuts items into comma lists of at most listPerLookup items and listChars
// encoded characters each.
func chunkList(items []string) [][]string {
	var out [][]string
	var cur []string
	n := 0
	for _, it := range items {
		l := len(url.QueryEscape(it)) + 3 // and its encoded comma
		if len(cur) == listPerLookup || (len(cur) > 0 && n+l > listChars) {
			out, cur, n = append(out, cur), nil, 0
		}
		cur, n = append(cur, it), n+l
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// maxPages bounds a paged read (100,000 records) so a misbehaving server cannot loop us.
const maxPages = 1000

// listPages reads every page of GET path with q. elements picks a page's elements out of its
// envelope; a page shorter than pageSize is the last.
func listPages[T, E any](ctx context.Context, o *Org, path string, q url.Values, elements func(E) []T) ([]T, error) {
	var all []T
	for page := 1; page <= maxPages; page++ {
		var resp E
		if _, err := o.c.do(ctx, o.tokens, call{
			method: http.MethodGet, url: o.c.apiBase + path, op: "GET " + path,
			query: withPage(q, page), tenant: o.tenantID,
		}, &resp); err != nil {
			return nil, err
		}
		got := elements(resp)
		all = append(all, got...)
		if len(got) < pageSize {
			break
		}
	}
	return all, nil
}

func withPage(q url.Values, page int) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("page", strconv.Itoa(page))
	out.Set("pageSize", strconv.Itoa(pageSize))
	return out
}
