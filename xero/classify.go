package xero

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
)

// Class is what the caller should do about an error. Classify is the one place that decides
// it (STYLE habit 5), so the outbox never inspects status codes itself.
type Class int

const (
	// ClassNone: no error.
	ClassNone Class = iota
	// ClassTransient: retry later with backoff (network, timeout, 5xx, organisation offline).
	// If errors.Is(err, ErrOutcomeUnknown), reconcile before resending under a new key.
	ClassTransient
	// ClassRateLimited: retry after RateLimitError.RetryAfter; nothing was executed.
	ClassRateLimited
	// ClassAuth: the connection needs attention (refresh failed, revoked, disconnected,
	// missing scope); the tenant's rows wait, they do not fail.
	ClassAuth
	// ClassPermanent: Xero refused the request (validation and other 4xx) or we refused to
	// send it. Retrying the same request cannot succeed; see CodeOf for the SPEC code.
	ClassPermanent
)

func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassTransient:
		return "transient"
	case ClassRateLimited:
		return "rate_limited"
	case ClassAuth:
		return "auth"
	case ClassPermanent:
		return "permanent"
	}
	return "unknown"
}

// Classify decides how the caller should treat err. Errors it does not recognise (a database
// hiccup in the token store, a cancelled context) are transient: retrying an unknown failure
// with backoff is visible and bounded, giving up on it would lose a change.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return ClassRateLimited
	}
	var auth *AuthError
	if errors.As(err, &auth) {
		return ClassAuth
	}
	var api *APIError
	if errors.As(err, &api) {
		switch {
		case api.Status == http.StatusTooManyRequests:
			return ClassRateLimited
		case api.Status == http.StatusUnauthorized || api.Status == http.StatusForbidden:
			return ClassAuth
		case api.Status == http.StatusRequestTimeout || api.Status >= 500:
			return ClassTransient
		case api.Status >= 400:
			return ClassPermanent
		}
		return ClassTransient
	}
	var te *TransportError
	if errors.As(err, &te) {
		return ClassTransient
	}
	switch {
	case errors.Is(err, ErrMissingIdempotencyKey), errors.Is(err, ErrInvalidRequest),
		errors.Is(err, ErrDecimalSyntax), errors.Is(err, ErrDateSyntax):
		return ClassPermanent
	}
	return ClassTransient
}

// ErrorCode is one of SPEC §3's last_error_code values.
type ErrorCode string

// SPEC §3 codes. CodeMappingMissing is assigned by the outbox before any call; it is listed
// here so the whole set lives in one place.
const (
	CodeInvalidAccountCode ErrorCode = "InvalidAccountCode"
	CodeTaxRateNotFound    ErrorCode = "TaxRateNotFound"
	CodeCurrencyNotEnabled ErrorCode = "CurrencyNotEnabled"
	CodePeriodLocked       ErrorCode = "PeriodLocked"
	CodeContactNameInUse   ErrorCode = "ContactNameInUse"
	// CodeInvoiceNumberInUse: Xero holds an invoice with this number that is not ours. Xero
	// gives a number taken as a plain validation message; the outbox decides, after looking
	// the number up, whether the holder is our own earlier create or somebody else's.
	CodeInvoiceNumberInUse ErrorCode = "InvoiceNumberInUse"
	CodeMappingMissing     ErrorCode = "MappingMissing"
	CodeValidationError    ErrorCode = "ValidationError"
)

// messageCodes maps Xero's validation messages (XERO.md §8 table) to codes. Patterns are
// loose and case-insensitive because the wording is known mostly second-hand and varies.
// Order matters: "The TaxType code 'X' cannot be used with account code 'Y'" is a tax
// problem, so tax patterns come before account patterns.
var messageCodes = []struct {
	re   *regexp.Regexp
	code ErrorCode
}{
	{regexp.MustCompile(`(?i)not\s+subscribed\s+to\s+(the\s+)?currency`), CodeCurrencyNotEnabled},
	{regexp.MustCompile(`(?i)(period|end\s+of\s+year|year\s+end)\s+lock\s+date`), CodePeriodLocked},
	{regexp.MustCompile(`(?i)contact\s+name\b.*\balready\s+(been\s+)?assigned\s+to\s+another\s+contact`), CodeContactNameInUse},
	// "Invoice # must be unique." (Xero's OpenAPI example) and "This invoice number must be
	// unique." (integrators' reports, XERO.md §5): matched loosely.
	{regexp.MustCompile(`(?i)invoice\s*(#|number)\s*must\s+be\s+unique`), CodeInvoiceNumberInUse},
	{regexp.MustCompile(`(?i)tax\s*type\s+code\b.*\b(does\s+not\s+exist|cannot\s+be\s+used|is\s+not\s+valid)`), CodeTaxRateNotFound},
	{regexp.MustCompile(`(?i)\btax\s+rate\b.*\b(must\s+be\s+valid|not\s+valid|does\s+not\s+exist|not\s+found)`), CodeTaxRateNotFound},
	{regexp.MustCompile(`(?i)account\s+code\b.*\b(is\s+not\s+a\s+valid|not\s+valid|has\s+been\s+archived|has\s+been\s+deleted|does\s+not\s+exist)`), CodeInvalidAccountCode},
	{regexp.MustCompile(`(?i)\baccount\s+must\s+be\s+valid`), CodeInvalidAccountCode},
	{regexp.MustCompile(`(?i)line\s+item\s+must\s+reference\s+a\s+valid\s+account`), CodeInvalidAccountCode},
}

// CodeForMessage maps one Xero validation message to a SPEC code; anything unrecognised is
// CodeValidationError ("any other 400").
func CodeForMessage(msg string) ErrorCode {
	msg = strings.TrimSpace(msg)
	for _, mc := range messageCodes {
		if mc.re.MatchString(msg) {
			return mc.code
		}
	}
	return CodeValidationError
}

// CodeForMessages returns the code of the first message with a specific code, so a batch
// element failing for a locked period and something generic reports PeriodLocked (the one an
// operator can act on).
func CodeForMessages(msgs []string) ErrorCode {
	for _, m := range msgs {
		if c := CodeForMessage(m); c != CodeValidationError {
			return c
		}
	}
	return CodeValidationError
}

// CodeOf returns the SPEC code for a permanent error, and "" for any other class.
func CodeOf(err error) ErrorCode {
	if Classify(err) != ClassPermanent {
		return ""
	}
	var api *APIError
	if errors.As(err, &api) && api.Code != "" {
		return api.Code
	}
	return CodeValidationError
}
