package outbox

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestParseUUID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // hex of the 16 bytes; "" for an error
	}{
		{"00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000"},
		{"0123abcd-4567-89ef-ABCD-0123456789ef", "0123abcd456789efabcd0123456789ef"},
		{"0123abcd456789efabcd0123456789ef", ""},     // no hyphens: not what uuid_out writes
		{"0123abcd-4567-89ef-abcd-0123456789eg", ""}, // not hex
		{"0123abcd-4567-89ef-abcd-0123456789e", ""},  // short
		{"{0123abcd-4567-89ef-abcd-0123456789ef}", ""},
		{"", ""},
	} {
		u, err := parseUUID(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseUUID(%q) = %x, want an error", tc.in, u)
			}
			continue
		}
		if err != nil || strings.ToLower(tc.want) != hex.EncodeToString(u[:]) {
			t.Errorf("parseUUID(%q) = %x, %v; want %s", tc.in, u, err, tc.want)
		}
	}
}

// parseUUID allocates nothing: it runs for three values of every captured row.
func TestParseUUIDAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = parseUUID("0123abcd-4567-89ef-abcd-0123456789ef") }); n != 0 {
		t.Errorf("parseUUID allocates %v times", n)
	}
}

// FuzzParseUUID checks parseUUID against pgx's uuid parser: whatever we accept, pgx reads as
// the same 16 bytes, and every hyphenated 36-character uuid pgx accepts, we accept too.
func FuzzParseUUID(f *testing.F) {
	f.Add("0123abcd-4567-89ef-abcd-0123456789ef")
	f.Add("0123abcd-4567-89ef-abcd-0123456789eF")
	f.Add("0123abcd-4567-89ef-abcd-0123456789e-")
	f.Fuzz(func(t *testing.T, s string) {
		ours, err := parseUUID(s)
		var theirs pgtype.UUID
		perr := theirs.Scan(s)
		hyphenated := len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
		switch {
		case err == nil && (perr != nil || ours != theirs.Bytes):
			t.Fatalf("parseUUID(%q) = %x; pgx: %x, %v", s, ours, theirs.Bytes, perr)
		case err != nil && perr == nil && hyphenated:
			t.Fatalf("parseUUID(%q): %v; pgx reads %x", s, err, theirs.Bytes)
		}
	})
}
