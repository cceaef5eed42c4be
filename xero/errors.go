package xero

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinels. Test with errors.Is.
var (
	// ErrOutcomeUnknown marks a write whose result we did not see: a network error or timeout
	// after the request may have reached Xero, a 5xx (Xero caches errors under the
	// Idempotency-Key, so resending under the same key replays the error), or a response we
	// could not match to the request. The caller must reconcile by reading before sending
	// again under a new key (XERO.md §3).
	ErrOutcomeUnknown = errors.New("xero: outcome of write unknown")
	// ErrNotFound is a 404 from Xero.
	ErrNotFound = errors.New("xero: not found")
	// ErrMissingIdempotencyKey: the client refuses to send a write without a key.
	ErrMissingIdempotencyKey = errors.New("xero: write without Idempotency-Key")
	// ErrInvalidRequest: the request was refused before sending (a caller bug or bad data).
	ErrInvalidRequest = errors.New("xero: invalid request")
	// ErrIdempotencyKeyReused: Xero saw the key with a different URL, body or method. A bug in
	// the caller's key derivation; resending the same thing cannot help.
	ErrIdempotencyKeyReused = errors.New("xero: idempotency key used with a different request")
)

// APIError is a non-2xx response from Xero, parsed defensively: JSON ValidationException,
// problem+json (401/403), form-encoded OAuth errors and plain text all end up here.
type APIError struct {
	Op            string // "PUT /Invoices"
	Status        int
	Type          string // ValidationException, QueryParseException, a problem Title, an OAuth error …
	Message       string
	Detail        string // problem+json Detail, e.g. "TokenExpired: token expired at …"
	CorrelationID string // Xero-Correlation-Id, for Xero support
	// Elements holds the validation errors of each element of a batch, by position.
	Elements []ElementErrors
	// ValidationErrors is every validation message in the body, collected recursively
	// (element-level and LineItems[j]-level).
	ValidationErrors []string
	// Code is the SPEC error code for a 4xx (see CodeForMessages); empty otherwise.
	Code ErrorCode
	// OutcomeUnknown is set for a 5xx answer to a write; errors.Is(err, ErrOutcomeUnknown).
	OutcomeUnknown bool
}

// ElementErrors are the validation messages of one element of a batch.
type ElementErrors struct {
	ValidationErrors []string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("xero: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Type != "" {
		b.WriteString(" ")
		b.WriteString(e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Detail != "" && e.Detail != e.Message {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if len(e.ValidationErrors) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.ValidationErrors, "; "))
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id ")
		b.WriteString(e.CorrelationID)
		b.WriteString(")")
	}
	return b.String()
}

// Is makes errors.Is work for ErrOutcomeUnknown, ErrNotFound and ErrIdempotencyKeyReused.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrOutcomeUnknown:
		return e.OutcomeUnknown
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrIdempotencyKeyReused:
		return e.Status == http.StatusBadRequest && isKeyReuse(e.Message+" "+e.Detail+" "+strings.Join(e.ValidationErrors, " "))
	}
	return false
}

func isKeyReuse(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "idempotency key") && strings.Contains(s, "different request")
}

// Limit names one of Xero's rate limits, as in the X-Rate-Limit-Problem header.
type Limit string

// The limits Xero enforces (XERO.md §2). Concurrent is our name for the 5-in-flight limit.
const (
	LimitMinute     Limit = "minute"
	LimitDay        Limit = "day"
	LimitAppMinute  Limit = "appminute"
	LimitConcurrent Limit = "concurrent"
)

// RateLimitError says a call was not made (or was refused with 429) because a rate limit is
// exhausted. Nothing was executed: Xero checks limits before idempotency, so resending the
// same request under the same key after RetryAfter is safe. The client never loops on it for
// writes; the outbox stores now+RetryAfter in the row.
type RateLimitError struct {
	Limit      Limit
	RetryAfter time.Duration
	// Predicted is true when our own budget refused the call without asking Xero.
	Predicted bool
	// API is the 429 (or legacy 503 oauth_problem=rate) response; nil when Predicted.
	API *APIError
}

func (e *RateLimitError) Error() string {
	src := "HTTP 429"
	if e.Predicted {
		src = "budget exhausted"
	} else if e.API != nil && e.API.Status != http.StatusTooManyRequests {
		src = "HTTP " + strconv.Itoa(e.API.Status)
	}
	op := ""
	if e.API != nil && e.API.Op != "" {
		op = e.API.Op + ": "
	}
	return fmt.Sprintf("xero: %srate limit %q: %s, retry after %s", op, string(e.Limit), src, e.RetryAfter)
}

func (e *RateLimitError) Unwrap() error {
	if e.API == nil {
		return nil
	}
	return e.API
}

// AuthKind says what is wrong with our authority to call Xero.
type AuthKind int

const (
	// TokenExpired: the access token was rejected as expired. The client refreshes once and
	// resends; the caller sees it only if that also failed.
	TokenExpired AuthKind = iota + 1
	// InvalidGrant: the refresh token is expired, revoked or superseded. Only a new
	// authorisation (`xerosync connect`) helps; the connection is marked auth_failed.
	InvalidGrant
	// TenantDisconnected: 403 AuthenticationUnsuccessful — the organisation is no longer
	// connected to the app, or the tenant id is wrong. Re-check /connections.
	TenantDisconnected
	// Forbidden: missing scope (401/403 AuthorizationUnsuccessful) or no permission.
	Forbidden
	// NotConnected: we hold no usable token for the tenant (never connected, disconnected or
	// already auth_failed).
	NotConnected
	// TokenKey: the stored token set does not open with our token key (token.key_file was
	// changed, or the row was altered). The right key, or `xerosync connect`, fixes it;
	// retrying does not. The connection is marked auth_failed.
	TokenKey
)

func (k AuthKind) String() string {
	switch k {
	case TokenExpired:
		return "TokenExpired"
	case InvalidGrant:
		return "InvalidGrant"
	case TenantDisconnected:
		return "TenantDisconnected"
	case Forbidden:
		return "Forbidden"
	case NotConnected:
		return "NotConnected"
	case TokenKey:
		return "TokenKey"
	}
	return "AuthKind(" + strconv.Itoa(int(k)) + ")"
}

// AuthError is an authorisation failure: a connection state, not a row failure (SPEC §3).
type AuthError struct {
	Kind   AuthKind
	Detail string    // Xero's description, never a token
	API    *APIError // the 401/403 response, if there was one
	Err    error     // an underlying cause (e.g. the token endpoint's error), if any
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("xero: auth: ")
	b.WriteString(e.Kind.String())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.API != nil {
		b.WriteString(": ")
		b.WriteString(e.API.Error())
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *AuthError) Unwrap() []error {
	var errs []error
	if e.API != nil {
		errs = append(errs, e.API)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// TransportError is a failure to get a response: connection refused, reset, timeout, a body
// cut short. It is transient. For a write it also means the outcome is unknown, unless the
// connection was never established (then nothing was sent).
type TransportError struct {
	Op             string
	Err            error
	OutcomeUnknown bool
}

func (e *TransportError) Error() string {
	s := "xero: " + e.Op + ": " + e.Err.Error()
	if e.OutcomeUnknown {
		s += " (outcome unknown)"
	}
	return s
}

func (e *TransportError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrOutcomeUnknown) true for an uncertain write.
func (e *TransportError) Is(target error) bool {
	return target == ErrOutcomeUnknown && e.OutcomeUnknown
}

// maxErrorBody bounds how much of an error body we read and keep.
const maxErrorBody = 1 << 20

// parseError turns a non-2xx response into an error value. It never panics and always
// returns a non-nil error from which errors.As(err, **APIError) yields Status == status.
// write says the request created or changed something (it decides OutcomeUnknown).
func parseError(op string, status int, h http.Header, body []byte, write bool) error {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	ae := &APIError{Op: op, Status: status, CorrelationID: h.Get("Xero-Correlation-Id")}
	fillFromBody(ae, h.Get("Content-Type"), body)
	if ae.Message == "" && ae.Type == "" && ae.Detail == "" {
		ae.Message = http.StatusText(status)
	}
	// Only a refused request has a SPEC code, and Classify alone says which are refused.
	if Classify(ae) == ClassPermanent {
		ae.Code = CodeForMessages(ae.ValidationErrors)
		if ae.Code == CodeValidationError && len(ae.ValidationErrors) == 0 {
			// Some 400s carry the reason only in Message (key reuse, query parse errors).
			ae.Code = CodeForMessages([]string{ae.Message})
		}
	}

	text := strings.ToLower(ae.Type + " " + ae.Message + " " + ae.Detail)
	switch {
	case status == http.StatusTooManyRequests:
		return &RateLimitError{
			Limit:      Limit(strings.ToLower(strings.TrimSpace(h.Get("X-Rate-Limit-Problem")))),
			RetryAfter: parseRetryAfter(h.Get("Retry-After"), time.Now()),
			API:        ae,
		}
	case status == http.StatusServiceUnavailable && strings.Contains(text, "rate"):
		// The OAuth 1.0a-era rate limit answer: 503 with oauth_problem=rate_limit_exceeded.
		// Like a 429, nothing was executed.
		return &RateLimitError{Limit: LimitMinute, RetryAfter: parseRetryAfter(h.Get("Retry-After"), time.Now()), API: ae}
	case status == http.StatusUnauthorized:
		kind := TokenExpired // an unexplained 401 is treated as a stale token: refresh once, resend
		if strings.Contains(text, "authorizationunsuccessful") {
			kind = Forbidden
		}
		return &AuthError{Kind: kind, Detail: firstNonEmpty(ae.Detail, ae.Message), API: ae}
	case status == http.StatusForbidden:
		kind := Forbidden
		if strings.Contains(text, "authenticationunsuccessful") {
			kind = TenantDisconnected
		}
		return &AuthError{Kind: kind, Detail: firstNonEmpty(ae.Detail, ae.Message), API: ae}
	case status >= 500:
		ae.OutcomeUnknown = write
	}
	return ae
}

// fillFromBody reads whatever shape the body has. Each branch tolerates any content.
func fillFromBody(ae *APIError, contentType string, body []byte) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		// A number too big for float64 (ErrorNumber 1e400) must not make the body unreadable.
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			fillFromJSON(ae, v)
			return
		}
	}
	if strings.Contains(strings.ToLower(contentType), "x-www-form-urlencoded") || looksFormEncoded(trimmed) {
		if q, err := url.ParseQuery(string(trimmed)); err == nil && len(q) > 0 {
			ae.Type = firstNonEmpty(q.Get("oauth_problem"), q.Get("error"))
			ae.Message = OneLine(firstNonEmpty(q.Get("oauth_problem_advice"), q.Get("error_description")), 500)
			if ae.Type != "" || ae.Message != "" {
				return
			}
		}
	}
	ae.Message = OneLine(string(trimmed), 500)
}

func looksFormEncoded(b []byte) bool {
	s := string(b)
	return !strings.ContainsAny(s, " \n\r\t<") && strings.Contains(s, "=")
}

func fillFromJSON(ae *APIError, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		ae.ValidationErrors = collectValidation(v, nil, 0)
		return
	}
	get := func(key string) any {
		for k, val := range m {
			if strings.EqualFold(k, key) {
				return val
			}
		}
		return nil
	}
	str := func(key string) string {
		if s, ok := get(key).(string); ok {
			return OneLine(s, 1000)
		}
		return ""
	}
	ae.Type = firstNonEmpty(str("Type"), str("Title"), str("error"))
	ae.Message = firstNonEmpty(str("Message"), str("error_description"))
	if ae.Type == str("Title") {
		ae.Message = firstNonEmpty(ae.Message, str("Detail"))
	}
	ae.Detail = str("Detail")
	if els, ok := get("Elements").([]any); ok {
		for _, el := range els {
			msgs := collectValidation(el, nil, 0)
			ae.Elements = append(ae.Elements, ElementErrors{ValidationErrors: msgs})
			ae.ValidationErrors = append(ae.ValidationErrors, msgs...)
		}
		return
	}
	ae.ValidationErrors = collectValidation(m, nil, 0)
}

// collectValidation walks any decoded JSON value and gathers the Message of every object in
// every "ValidationErrors" array, at any depth (element level and LineItems[j] level).
func collectValidation(v any, out []string, depth int) []string {
	if depth > 64 || len(out) > 1000 {
		return out
	}
	switch t := v.(type) {
	case map[string]any:
		// An object's own ValidationErrors first, then nested ones (LineItems[j]) in sorted
		// key order: the order of messages must not depend on map iteration.
		keys := slices.Sorted(maps.Keys(t))
		for _, k := range keys {
			if strings.EqualFold(k, "ValidationErrors") {
				out = appendMessages(out, t[k])
			}
		}
		for _, k := range keys {
			if !strings.EqualFold(k, "ValidationErrors") {
				out = collectValidation(t[k], out, depth+1)
			}
		}
	case []any:
		for _, item := range t {
			out = collectValidation(item, out, depth+1)
		}
	}
	return out
}

// appendMessages appends the messages of one ValidationErrors array ([{"Message": …}], or
// bare strings, defensively).
func appendMessages(out []string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return out
	}
	for _, item := range arr {
		switch it := item.(type) {
		case map[string]any:
			for _, mk := range slices.Sorted(maps.Keys(it)) {
				if s, ok := it[mk].(string); ok && strings.EqualFold(mk, "Message") && s != "" {
					out = append(out, OneLine(s, 1000))
				}
			}
		case string:
			if it != "" {
				out = append(out, OneLine(it, 1000))
			}
		}
	}
	return out
}

// parseRetryAfter reads seconds or an HTTP date. Zero means absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 7*24*3600 {
			secs = 7 * 24 * 3600
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
