package xero

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const validationBody = `{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred",
 "Elements":[
  {"InvoiceNumber":"INV-1","ValidationErrors":[{"Message":"Account code '999' is not a valid code for this document."}],
   "LineItems":[{"Description":"x","ValidationErrors":[{"Message":"The TaxType code 'BOGUS' does not exist or cannot be used for this type of transaction."}]}]},
  {"InvoiceNumber":"INV-2","ValidationErrors":[]}
 ]}`

func TestParseError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		h       http.Header
		body    string
		write   bool
		class   Class
		code    ErrorCode
		check   func(t *testing.T, err error)
		unknown bool
	}{
		{
			name: "validation exception with element and line errors", status: 400,
			h: hdr("Xero-Correlation-Id", "corr-1", "Content-Type", "application/json"), body: validationBody, write: true,
			class: ClassPermanent, code: CodeInvalidAccountCode,
			check: func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("not an APIError: %v", err)
				}
				if ae.Type != "ValidationException" || ae.CorrelationID != "corr-1" {
					t.Errorf("fields: %+v", ae)
				}
				want := []ElementErrors{
					{[]string{"Account code '999' is not a valid code for this document.", "The TaxType code 'BOGUS' does not exist or cannot be used for this type of transaction."}},
					{nil},
				}
				if !reflect.DeepEqual(ae.Elements, want) {
					t.Errorf("elements = %#v", ae.Elements)
				}
			},
		},
		{
			name: "problem+json token expired", status: 401,
			body:  `{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired: token expired at 04/09/2023 05:16:59","Instance":"0a1b","Extensions":{}}`,
			class: ClassAuth,
			check: func(t *testing.T, err error) {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Kind != TokenExpired {
					t.Fatalf("want TokenExpired, got %v", err)
				}
			},
		},
		{
			name: "401 missing scope", status: 401, body: `{"Title":"Unauthorized","Status":401,"Detail":"AuthorizationUnsuccessful"}`,
			class: ClassAuth,
			check: func(t *testing.T, err error) {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Kind != Forbidden {
					t.Fatalf("want Forbidden, got %v", err)
				}
			},
		},
		{
			name: "403 tenant gone", status: 403, body: `{"Type":null,"Title":"Forbidden","Status":403,"Detail":"AuthenticationUnsuccessful"}`,
			class: ClassAuth,
			check: func(t *testing.T, err error) {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Kind != TenantDisconnected {
					t.Fatalf("want TenantDisconnected, got %v", err)
				}
			},
		},
		{
			name: "429 minute", status: 429, h: hdr("X-Rate-Limit-Problem", "Minute", "Retry-After", "17"), class: ClassRateLimited, write: true,
			check: func(t *testing.T, err error) {
				var rl *RateLimitError
				if !errors.As(err, &rl) || rl.Limit != LimitMinute || rl.RetryAfter != 17*time.Second || rl.Predicted {
					t.Fatalf("got %#v", err)
				}
			},
		},
		{
			name: "legacy 503 rate, form encoded", status: 503,
			h:     hdr("Content-Type", "application/x-www-form-urlencoded"),
			body:  "oauth_problem=rate%20limit%20exceeded&oauth_problem_advice=please%20wait%20before%20retrying%20the%20xero%20api",
			class: ClassRateLimited,
		},
		{
			name: "503 organisation offline, plain text", status: 503, body: "The Organisation is Offline", write: true,
			class: ClassTransient, unknown: true,
			check: func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Message != "The Organisation is Offline" {
					t.Fatalf("got %v", err)
				}
			},
		},
		{name: "500 on a write", status: 500, body: `{"ErrorNumber":500,"Type":"UnknownErrorException","Message":"An error occurred"}`, write: true, class: ClassTransient, unknown: true},
		{name: "500 on a read", status: 500, body: `boom`, class: ClassTransient},
		{
			name: "404", status: 404, body: "The resource you're looking for cannot be found", class: ClassPermanent, code: CodeValidationError,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNotFound) {
					t.Fatal("want ErrNotFound")
				}
			},
		},
		{
			name: "idempotency key reused", status: 400, write: true,
			body:  `{"ErrorNumber":10,"Type":"ValidationException","Message":"Idempotency Key: abc is used with a different request."}`,
			class: ClassPermanent, code: CodeValidationError,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrIdempotencyKeyReused) {
					t.Fatal("want ErrIdempotencyKeyReused")
				}
			},
		},
		{name: "query parse", status: 400, body: `{"ErrorNumber":16,"Type":"QueryParseException","Message":"Syntax error"}`, class: ClassPermanent, code: CodeValidationError},
		{name: "empty 502", status: 502, write: true, class: ClassTransient, unknown: true},
		{
			name: "oauth json error", status: 400, body: `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, class: ClassPermanent,
			check: func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Type != "invalid_grant" || ae.Message != "Token has been expired or revoked." {
					t.Fatalf("got %#v", ae)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.h
			if h == nil {
				h = http.Header{}
			}
			err := parseError("PUT /Invoices", tt.status, h, []byte(tt.body), tt.write)
			if got := Classify(err); got != tt.class {
				t.Errorf("Classify = %v, want %v (%v)", got, tt.class, err)
			}
			if tt.code != "" {
				if got := CodeOf(err); got != tt.code {
					t.Errorf("CodeOf = %q, want %q", got, tt.code)
				}
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tt.unknown {
				t.Errorf("outcome unknown = %v, want %v", got, tt.unknown)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Errorf("status not recoverable from %v", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func FuzzParseError(f *testing.F) {
	f.Add(400, []byte(validationBody), "application/json", "")
	f.Add(401, []byte(`{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired: x"}`), "application/problem+json", "")
	f.Add(429, []byte(``), "", "60")
	f.Add(503, []byte("oauth_problem=rate_limit_exceeded&oauth_problem_advice=wait"), "application/x-www-form-urlencoded", "")
	f.Add(503, []byte("The Xero API is currently offline for maintenance"), "text/plain", "")
	f.Add(400, []byte(`{"Elements":[{"LineItems":[{"ValidationErrors":[{"Message":1},"x",null]}]}],"ErrorNumber":1e400}`), "", "")
	f.Add(400, []byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"ValidationErrors":[{"Message":"deep"}]}]]]]]]]]]]]]]]]]]]]]]]]]]]]`), "", "x")
	f.Add(500, []byte("\xff\xfe{"), "", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, status int, body []byte, contentType, retryAfter string) {
		h := http.Header{}
		h.Set("Content-Type", contentType)
		h.Set("Retry-After", retryAfter)
		for _, write := range []bool{false, true} {
			err := parseError("op", status, h, body, write)
			if err == nil {
				t.Fatal("nil error")
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != status {
				t.Fatalf("status %d not recoverable from %v", status, err)
			}
			_ = err.Error()
			if Classify(err) == ClassNone {
				t.Fatal("classified as no error")
			}
		}
	})
}
