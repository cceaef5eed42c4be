package xero

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"rate limit", &RateLimitError{Limit: LimitMinute}, ClassRateLimited},
		{"wrapped rate limit", fmt.Errorf("push: %w", &RateLimitError{Limit: LimitDay, Predicted: true}), ClassRateLimited},
		{"auth", &AuthError{Kind: InvalidGrant}, ClassAuth},
		{"wrapped auth", fmt.Errorf("x: %w", &AuthError{Kind: NotConnected}), ClassAuth},
		{"400", &APIError{Status: 400}, ClassPermanent},
		{"404", &APIError{Status: 404}, ClassPermanent},
		{"408", &APIError{Status: 408}, ClassTransient},
		{"429 bare", &APIError{Status: 429}, ClassRateLimited},
		{"401 bare", &APIError{Status: 401}, ClassAuth},
		{"500", &APIError{Status: 500}, ClassTransient},
		{"503", &APIError{Status: 503}, ClassTransient},
		{"transport", &TransportError{Op: "GET /x", Err: &net.OpError{Op: "read", Err: errors.New("reset")}}, ClassTransient},
		{"missing key", fmt.Errorf("x: %w", ErrMissingIdempotencyKey), ClassPermanent},
		{"invalid request", ErrInvalidRequest, ClassPermanent},
		{"decimal", ErrDecimalSyntax, ClassPermanent},
		{"deadline", context.DeadlineExceeded, ClassTransient},
		{"unknown", errors.New("database hiccup"), ClassTransient},
		{"outcome unknown", fmt.Errorf("x: %w", ErrOutcomeUnknown), ClassTransient},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCodeForMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		want ErrorCode
	}{
		{"Account code '999' is not a valid code for this document.", CodeInvalidAccountCode},
		{"Account code '200' has been archived or has been deleted. Each line item must reference a valid account.", CodeInvalidAccountCode},
		{"Account must be valid.", CodeInvalidAccountCode},
		{"ACCOUNT CODE '0000' IS NOT A VALID CODE FOR THIS DOCUMENT.", CodeInvalidAccountCode},
		{"The TaxType code 'OUTPUT9' does not exist or cannot be used for this type of transaction.", CodeTaxRateNotFound},
		{"The TaxType code 'OUTPUT' cannot be used with account code '200'.", CodeTaxRateNotFound},
		{"Tax rate must be valid.", CodeTaxRateNotFound},
		{"Organisation is not subscribed to currency EUR", CodeCurrencyNotEnabled},
		{"The current organisation is not subscribed to currency 'EUR'.", CodeCurrencyNotEnabled},
		{"The document date cannot be before the period lock date, currently set at 30-Nov-2018", CodePeriodLocked},
		{"The document date cannot be before the end of year lock date, currently set at 30-Nov-2018", CodePeriodLocked},
		{"The contact name Buzz Lightyear is already assigned to another contact. The contact name must be unique across all active contacts.", CodeContactNameInUse},
		{"The contact number SB2 is already assigned to another contact. The contact number must be unique across all contacts.", CodeValidationError},
		{"Email address must be valid.", CodeValidationError},
		{"Invoice # must be unique.", CodeInvoiceNumberInUse},
		{"This invoice number must be unique.", CodeInvoiceNumberInUse},
		{"Payment amount exceeds the amount outstanding on this document", CodeValidationError},
		{"", CodeValidationError},
	}
	for _, tt := range tests {
		if got := CodeForMessage(tt.msg); got != tt.want {
			t.Errorf("CodeForMessage(%q) = %s, want %s", tt.msg, got, tt.want)
		}
	}
	if got := CodeForMessages([]string{"Email address must be valid.", "Tax rate must be valid."}); got != CodeTaxRateNotFound {
		t.Errorf("CodeForMessages prefers the specific code: got %s", got)
	}
	if CodeOf(&RateLimitError{}) != "" || CodeOf(&APIError{Status: 400, Code: CodePeriodLocked}) != CodePeriodLocked {
		t.Error("CodeOf")
	}
}
