package daemon

import (
	"strings"
	"testing"
)

func TestJudgeFailover(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	up := []StandbySlot{{Name: "standby1", Exists: true, Active: true}}
	cases := []struct {
		name     string
		version  int
		exists   bool
		failover *bool
		standbys []StandbySlot
		ready    bool
		reason   string
	}{
		{"PostgreSQL 15", 15, true, nil, nil, false, "PostgreSQL 15 does not copy logical slots"},
		{"PostgreSQL 16", 16, true, nil, up, false, "run xerosync resync"},
		{"no slot yet", 17, false, nil, up, false, "does not exist yet"},
		{"not a failover slot", 17, true, &no, up, false, "not created with failover = true"},
		{"no standby slots named", 18, true, &yes, nil, false, "synchronized_standby_slots is empty"},
		{"a named slot missing", 17, true, &yes, []StandbySlot{{Name: "sb", Exists: false}}, false, "sb (no such physical slot)"},
		{"a named slot idle", 17, true, &yes, append([]StandbySlot{{Name: "sb", Exists: true}}, up...), false, "sb (no standby is streaming it)"},
		{"ready", 17, true, &yes, up, true, ""},
		{"ready with two standbys", 18, true, &yes, append(up, StandbySlot{Name: "standby2", Exists: true, Active: true}), true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ready, reason := judgeFailover(c.version, c.exists, c.failover, c.standbys)
			if ready != c.ready || !strings.Contains(reason, c.reason) || (c.ready && reason != "") {
				t.Fatalf("judgeFailover = %v %q, want %v …%s…", ready, reason, c.ready, c.reason)
			}
		})
	}
}
