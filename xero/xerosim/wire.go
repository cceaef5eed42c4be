package xerosim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// This file holds Xero's wire conventions shared by every endpoint: MS-JSON
// dates, GUIDs, the response envelope and the error bodies.

// msDate formats a time as Xero's MS-JSON date, "/Date(1539129600000+0000)/"
// (XERO.md §9; the spec examples carry "+0000" on document dates).
func msDate(t time.Time) string {
	return fmt.Sprintf("/Date(%d+0000)/", t.UTC().UnixMilli())
}

// msDateBare is the envelope's DateTimeUTC form, which the spec examples
// show without an offset ("/Date(1552326816230)/").
func msDateBare(t time.Time) string {
	return fmt.Sprintf("/Date(%d)/", t.UTC().UnixMilli())
}

// dateString is the companion "DateString" field: "2018-10-10T00:00:00".
func dateString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// lockDateText is how Xero prints a lock date inside its validation message
// ("currently set at 30-Nov-2018", XERO.md §8).
func lockDateText(t time.Time) string { return t.Format("02-Jan-2006") }

// parseRequestDate accepts the request forms a client may send for a date:
// "2019-03-11", "2019-03-11T00:00:00" and the MS-JSON "/Date(ms+0000)/".
// The result is midnight UTC of that calendar day, because Xero's document
// dates are calendar dates.
func parseRequestDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := msDateRE.FindStringSubmatch(s); m != nil {
		var ms int64
		if _, err := fmt.Sscan(m[1], &ms); err != nil {
			return time.Time{}, fmt.Errorf("parse date %q: %w", s, err)
		}
		return civilDay(time.UnixMilli(ms)), nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return civilDay(t), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse date %q: not YYYY-MM-DD", s)
}

var msDateRE = regexp.MustCompile(`^/Date\((-?\d+)([+-]\d{4})?\)/$`)

// civilDay truncates to the calendar day in UTC.
func civilDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// newGUID returns a random version-4 UUID. IDs come from crypto/rand, not
// from the seeded fault RNG, so that adding a request to a test does not
// shift which later request a seeded fault hits.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Errorf("read random bytes: %w", err)) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomToken returns an opaque URL-safe random string of n bytes.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Errorf("read random bytes: %w", err))
	}
	return hex.EncodeToString(b)
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

// sameGUID compares GUIDs the way .NET does: case-insensitively.
func sameGUID(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// response is a complete HTTP response held in memory. Accounting handlers
// produce one instead of writing to the connection, so that the idempotency
// store can keep and replay it byte for byte, and so that a "lost response"
// fault can apply a request fully and then drop what it would have sent.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) write(w http.ResponseWriter) {
	for k, vs := range r.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body) // a client that went away is not the simulator's problem
}

func jsonResponse(status int, v any) *response {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value passed here is built by this package from JSON-safe
		// types; failing to encode one is a bug worth a loud 500.
		return textResponse(http.StatusInternalServerError, "xerosim: encode response: "+err.Error())
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &response{Status: status, Header: h, Body: body}
}

func textResponse(status int, text string) *response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return &response{Status: status, Header: h, Body: []byte(text)}
}

// problemResponse is the problem+json shape Xero uses for 401 and 403
// (XERO.md §8: {"Type":null,"Title":"Unauthorized","Status":401,
// "Detail":"TokenExpired: …","Instance":"<uuid>","Extensions":{}}).
func problemResponse(status int, title, detail string) *response {
	body := map[string]any{
		"Type":       nil,
		"Title":      title,
		"Status":     status,
		"Detail":     detail,
		"Instance":   newGUID(),
		"Extensions": map[string]any{},
	}
	r := jsonResponse(status, body)
	r.Header.Set("Content-Type", "application/problem+json; charset=utf-8")
	return r
}

// notFoundResponse is Xero's 404: "The resource you have specified cannot
// be found" (http-response-codes page); the body is plain text, not JSON
// (XERO.md §8 "empty or plain").
func notFoundResponse() *response {
	return textResponse(http.StatusNotFound, "The resource you're looking for cannot be found")
}

// validationError is one {"Message": …} entry of ValidationErrors.
type validationError struct {
	Message string `json:"Message"`
}

// apiException is Xero's 400 body (spec schema Error): ValidationException
// with the failed elements, or another exception type with just a message.
func apiException(errorNumber int, typ, message string, elements []any) *response {
	body := map[string]any{
		"ErrorNumber": errorNumber,
		"Type":        typ,
		"Message":     message,
	}
	if elements != nil {
		body["Elements"] = elements
	}
	return jsonResponse(http.StatusBadRequest, body)
}

// validationException is the summarised batch failure (XERO.md §8).
func validationException(elements []any) *response {
	return apiException(10, "ValidationException", "A validation exception occurred", elements)
}

// postDataInvalid answers a body that is not the JSON Xero expects. The
// exception name and number are from memory of live Xero responses and are
// not in XERO.md; a client should treat any 400 it cannot parse as permanent.
func postDataInvalid(msg string) *response {
	return apiException(14, "PostDataInvalidException", msg, nil)
}

// queryParseException answers a where filter the simulator cannot parse or
// evaluate. Xero evaluates `where` with .NET dynamic LINQ and answers bad
// expressions with a 400 {"ErrorNumber":16,"Type":"QueryParseException",
// "Message":"Syntax error"} (XeroAPI/Xero-Java#347; also waynerobinson/xeroizer
// #160 and #454 in XML).
func queryParseException(msg string) *response {
	return apiException(16, "QueryParseException", msg, nil)
}

// internalError is Xero's 500. The Detail is the text Xero's generic
// unhandled-error page shows, quoted from memory; clients must key on the
// status, not this text.
func internalError() *response {
	return problemResponse(http.StatusInternalServerError, "An error occurred",
		"An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service status.")
}

// envelope wraps a collection in Xero's response envelope:
// {"Id":…,"Status":"OK","ProviderName":…,"DateTimeUTC":"/Date(…)/", key:items}.
func envelope(now time.Time, provider, key string, items any, page *pagination) map[string]any {
	env := map[string]any{
		"Id":           newGUID(),
		"Status":       "OK",
		"ProviderName": provider,
		"DateTimeUTC":  msDateBare(now),
		key:            items,
	}
	if page != nil {
		env["pagination"] = page
	}
	return env
}

// pagination is the paged GET block (spec schema Pagination).
type pagination struct {
	Page      int `json:"page"`
	PageSize  int `json:"pageSize"`
	PageCount int `json:"pageCount"`
	ItemCount int `json:"itemCount"`
}
