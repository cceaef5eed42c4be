package daemon

import (
	"testing"
	"time"
)

// The heartbeat check fails when no heartbeat has come back for three intervals and some
// slack, counting from the later of taking the lead and the last heartbeat.
func TestHeartbeatCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	limit := 3*heartbeatInterval + heartbeatSlack
	tests := []struct {
		name                string
		leaderSince, lastHB time.Time
		want                string
	}{
		{"fresh heartbeat", now.Add(-time.Hour), now.Add(-time.Second), CheckOK},
		{"stale heartbeat", now.Add(-time.Hour), now.Add(-limit - time.Second), CheckFail},
		{"no heartbeat, fresh leader", now.Add(-time.Second), time.Time{}, CheckOK},
		{"no heartbeat, long-time leader", now.Add(-limit - time.Second), time.Time{}, CheckFail},
		{"heartbeat from before this lead does not count", now.Add(-time.Second), now.Add(-time.Hour), CheckOK},
		{"just inside the limit", now.Add(-time.Hour), now.Add(-limit), CheckOK},
	}
	for _, tt := range tests {
		if got := heartbeatCheck(now, tt.leaderSince, tt.lastHB); got.State != tt.want {
			t.Errorf("%s: %s (%s), want %s", tt.name, got.State, got.Error, tt.want)
		}
	}
}

// What makes a working daemon degraded, each tenant problem alone (SPEC §4): auth_failed,
// failed rows, and a row in flight longer than outbox.StuckInFlight.
func TestHealthDegradedByTenant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tenant HealthTenant
		want   string
	}{
		{"all well", HealthTenant{Connection: "connected", Pending: 3}, StatusOK},
		{"auth failed", HealthTenant{Connection: "auth_failed"}, StatusDegraded},
		{"failed rows", HealthTenant{Connection: "connected", Failed: 1}, StatusDegraded},
		{"a row stuck in flight", HealthTenant{Connection: "connected", StuckInFlightSeconds: 600}, StatusDegraded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{} // a standby: no capture, no leadership error
			h := r.healthOf(&Status{Tenants: []TenantStatus{{HealthTenant: tc.tenant}}}, nil)
			if h.Status != tc.want {
				t.Errorf("status %s, want %s (checks %+v)", h.Status, tc.want, h.Checks)
			}
		})
	}
}
