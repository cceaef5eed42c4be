package daemon

import (
	"fmt"
	"strings"
)

// FailoverStatus says whether the replication slot would survive a failover to a standby, so
// an operator knows before one happens (and monitoring can alert when it stops being so).
type FailoverStatus struct {
	// Ready: the slot is a failover slot and every standby slot the primary waits for is
	// being streamed, so a promoted standby holds our slot at or behind our stored position.
	Ready bool `json:"ready"`
	// Reason says why not, and what to do.
	Reason string `json:"reason,omitempty"`
	// SlotFailover is pg_replication_slots.failover (absent before PostgreSQL 17).
	SlotFailover *bool `json:"slot_failover,omitempty"`
	// StandbySlots are the physical slots named in synchronized_standby_slots.
	StandbySlots []StandbySlot `json:"standby_slots,omitempty"`
}

// StandbySlot is one physical slot named in synchronized_standby_slots.
type StandbySlot struct {
	Name     string   `json:"name"`
	Exists   bool     `json:"exists"`
	Active   bool     `json:"active"`
	LagBytes *float64 `json:"lag_bytes,omitempty"`
}

// judgeFailover decides FailoverStatus.Ready and its reason from what the primary shows.
func judgeFailover(version int, exists bool, failover *bool, standbys []StandbySlot) (bool, string) {
	switch {
	case version < 17:
		return false, fmt.Sprintf("PostgreSQL %d does not copy logical slots to a standby: after a failover, run xerosync resync on the new primary", version)
	case !exists:
		return false, "the slot does not exist yet (xerosync run creates it)"
	case failover == nil || !*failover:
		return false, "the slot was not created with failover = true (it predates PostgreSQL 17 or xerosync's support): restart the daemon (it alters the slot at start), or stop the daemons and run xerosync resync --force, which recreates it as one"
	case len(standbys) == 0:
		return false, "synchronized_standby_slots is empty on the primary: name the standbys' physical slots there (and set sync_replication_slots = on, hot_standby_feedback = on and primary_slot_name on each standby; see the README)"
	}
	var down []string
	for _, s := range standbys {
		switch {
		case !s.Exists:
			down = append(down, s.Name+" (no such physical slot)")
		case !s.Active:
			down = append(down, s.Name+" (no standby is streaming it)")
		}
	}
	if len(down) > 0 {
		return false, "synchronized_standby_slots names " + strings.Join(down, ", ") + ": capture waits for it, and a failover to it is not safe"
	}
	return true, ""
}
