package cdc_test

import (
	"strings"
	"testing"

	"github.com/softbooq/xerosync/cdc"
)

// TestSlotCondition is resync's judgement of a slot, without PostgreSQL: a slot in use is
// never touched, a foreign one never dropped, and each version's way of saying "invalidated"
// (wal_status lost on 13+, conflicting on 16+, invalidation_reason on 17+) is recognised.
func TestSlotCondition(t *testing.T) {
	t.Parallel()
	ours := func(f func(*cdc.SlotStateForTest)) *cdc.SlotStateForTest {
		s := &cdc.SlotStateForTest{SlotType: "logical", Plugin: "pgoutput", Database: "softbooq", OurDatabase: "softbooq", WalStatus: "reserved"}
		f(s)
		return s
	}
	for _, tc := range []struct {
		name   string
		slot   *cdc.SlotStateForTest
		want   cdc.SlotCondition
		reason string // a part of the reason
	}{
		{"missing", nil, cdc.SlotMissing, ""},
		{"healthy", ours(func(*cdc.SlotStateForTest) {}), cdc.SlotHealthy, ""},
		{"extended is healthy", ours(func(s *cdc.SlotStateForTest) { s.WalStatus = "extended" }), cdc.SlotHealthy, ""},
		{"unreserved is not lost yet", ours(func(s *cdc.SlotStateForTest) { s.WalStatus = "unreserved" }), cdc.SlotHealthy, ""},
		{"lost (15)", ours(func(s *cdc.SlotStateForTest) { s.WalStatus = "lost" }), cdc.SlotInvalidated, "max_slot_wal_keep_size"},
		{"conflicting (16)", ours(func(s *cdc.SlotStateForTest) { s.Conflicting = true }), cdc.SlotInvalidated, "conflict"},
		{"invalidation_reason (17)", ours(func(s *cdc.SlotStateForTest) { s.WalStatus, s.InvalidationReason = "lost", "wal_removed" }), cdc.SlotInvalidated, "wal_removed"},
		{"in use", ours(func(s *cdc.SlotStateForTest) { s.ActivePID = 4242 }), cdc.SlotActive, "4242"},
		{"in use and lost: still not touched", ours(func(s *cdc.SlotStateForTest) { s.ActivePID, s.WalStatus = 7, "lost" }), cdc.SlotActive, "7"},
		{"another plugin", ours(func(s *cdc.SlotStateForTest) { s.Plugin = "wal2json" }), cdc.SlotForeign, "wal2json"},
		{"another database", ours(func(s *cdc.SlotStateForTest) { s.Database = "other" }), cdc.SlotForeign, "other"},
		{"physical", ours(func(s *cdc.SlotStateForTest) { s.SlotType, s.Plugin, s.Database = "physical", "", "" }), cdc.SlotForeign, "physical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, reason := tc.slot.Condition()
			if got != tc.want || !strings.Contains(reason, tc.reason) {
				t.Errorf("condition = %s %q, want %s containing %q", got, reason, tc.want, tc.reason)
			}
		})
	}
}
