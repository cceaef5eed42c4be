package daemon

import (
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

// TestCheckBackfillLock is the lock-date rule of backfill, without a terminal or a database.
func TestCheckBackfillLock(t *testing.T) {
	t.Parallel()
	d := func(s string) xero.Date {
		v, err := xero.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name                 string
		period, endOfYear    string // "": none
		since                string
		force, explicit      bool
		wantWarning, wantErr string // substrings; "" for none
	}{
		{name: "no lock", since: "2026-01-01"},
		{name: "after the period lock", period: "2025-12-31", since: "2026-01-01"},
		{name: "on the period lock", period: "2026-01-01", since: "2026-01-01", explicit: true,
			wantErr: "--since 2026-01-01 is on or before the Xero organisation's period lock date, 2026-01-01"},
		{name: "before the end of year lock", endOfYear: "2026-01-31", since: "2025-06-01", explicit: true,
			wantErr: "end of year lock date, 2026-01-31"},
		{name: "suggests the day after", period: "2026-01-31", since: "2025-06-01", explicit: true,
			wantErr: "backfill from --since 2026-02-01 or later"},
		{name: "the later lock binds", period: "2026-03-31", endOfYear: "2026-01-31", since: "2026-02-01", explicit: true,
			wantErr: "period lock date, 2026-03-31"},
		{name: "financial year start", period: "2026-04-01", since: "2026-04-01",
			wantErr: "the start of the financial year (2026-04-01) is on or before"},
		{name: "forced", endOfYear: "2026-01-31", since: "2026-01-31", force: true, explicit: true,
			wantWarning: "warning: 2026-01-31 is on or before Xero's end of year lock date 2026-01-31"},
		{name: "forced after the lock", period: "2025-12-31", since: "2026-01-01", force: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o xero.Organisation
			if tc.period != "" {
				o.PeriodLockDate = d(tc.period)
			}
			if tc.endOfYear != "" {
				o.EndOfYearLockDate = d(tc.endOfYear)
			}
			warning, err := checkBackfillLock(o, d(tc.since), tc.force, tc.explicit)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if (tc.wantWarning == "") != (warning == "") || !strings.Contains(warning, tc.wantWarning) {
				t.Fatalf("warning %q, want %q", warning, tc.wantWarning)
			}
		})
	}
}
