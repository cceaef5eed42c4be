package xero

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Tests that decode real Xero bodies (testdata/README.md names each one's source), so that the
// client is checked against what Xero sends and not only against what our simulator assumes.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Xero's answer to a backslash-escaped quote in a where literal (Xero-Java#347): a permanent
// 400 the client reads as QueryParseException "Syntax error", never a retry.
func TestGoldenWhereQueryParseException(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "xero-java-347-where-backslash-quote.json")
	err := parseError("GET /Contacts", http.StatusBadRequest, hdr("Content-Type", "application/json; charset=utf-8"), body, false)
	ae, ok := err.(*APIError)
	if !ok || ae.Type != "QueryParseException" || ae.Message != "Syntax error" || ae.Status != 400 {
		t.Fatalf("parsed as %#v", err)
	}
	if Classify(err) != ClassPermanent {
		t.Fatalf("class %v", Classify(err))
	}
}
