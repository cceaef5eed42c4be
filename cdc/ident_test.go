package cdc

import "testing"

// The SQL printed with a SetupError names the role as written: bare when it can be, quoted
// when it must be (a mixed-case or hyphenated role once sent ident into endless recursion).
func TestIdent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"xerosync":   "xerosync",
		"xero_sync2": "xero_sync2",
		"XeroSync":   `"XeroSync"`,
		"xero-sync":  `"xero-sync"`,
		"2fast":      `"2fast"`,
		`we"ird`:     `"we""ird"`,
	} {
		if got := ident(in); got != want {
			t.Errorf("ident(%q) = %s, want %s", in, got, want)
		}
	}
}
