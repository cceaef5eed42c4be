package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/softbooq/xerosync/internal/leader"
)

// Health is the body of GET /healthz (SPEC §4).
type Health struct {
	// Status is ok; degraded (working, but a tenant is auth_failed, has failed rows, or has a
	// row in flight longer than outbox.StuckInFlight); or
	// down, answered with 503.
	Status  string           `json:"status"`
	Role    string           `json:"role"` // leader or standby
	Checks  map[string]Check `json:"checks"`
	Tenants []HealthTenant   `json:"tenants"`
	// Failover says whether the slot would survive a failover to a standby (the leader
	// reports it). It is information, not a check: most databases have no such standby.
	Failover *FailoverStatus `json:"failover,omitempty"`
}

// Check is one health check. State is ok, fail or skip (not applicable in this role).
type Check struct {
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// Health states and check states.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusDown     = "down"

	CheckOK   = "ok"
	CheckFail = "fail"
	CheckSkip = "skip"
)

func fail(format string, args ...any) Check {
	return Check{State: CheckFail, Error: fmt.Sprintf(format, args...)}
}

// health evaluates the daemon's health now. It reads the database (bounded by probeTimeout)
// and capture's in-memory status; nothing is cached, so /healthz is never staler than the
// request.
func (r *runner) health(ctx context.Context) Health {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := ReadStatus(ctx, r.pool, r.cfg.Database.Slot, "", false)
	return r.healthOf(st, err)
}

// healthOf judges health from a status read (st, or the error that prevented it) and
// capture's in-memory status: /healthz and the xerosync_health_status metric share it, so
// an alert on the metric fires exactly when /healthz says so.
func (r *runner) healthOf(st *Status, err error) Health {
	h := Health{Role: "standby", Checks: map[string]Check{}, Tenants: []HealthTenant{}}
	lead := r.leadership()
	// Set only while the elector is Leading (it runs lead only then), so a capture means
	// this daemon leads and does the leader's work.
	capture := r.capture.Load()
	if capture != nil {
		h.Role = "leader"
	}

	if err != nil {
		h.Checks["database"] = fail("database unreachable or unreadable: %v", err)
	} else {
		h.Checks["database"] = Check{State: CheckOK}
		for _, t := range st.Tenants {
			h.Tenants = append(h.Tenants, t.HealthTenant)
		}
	}
	if lead.State == leader.Lost {
		h.Checks["leadership"] = fail("%s", lead.Err)
	} else {
		h.Checks["leadership"] = Check{State: CheckOK}
	}

	if capture == nil {
		// A standby's job is to be ready to take over; the stream is the leader's to report.
		for _, name := range []string{"replication", "heartbeat", "slot"} {
			h.Checks[name] = Check{State: CheckSkip}
		}
	} else {
		cs := capture.Status()
		switch {
		case cs.Streaming:
			h.Checks["replication"] = Check{State: CheckOK}
		case cs.Err != nil:
			h.Checks["replication"] = fail("replication stream down: %v", cs.Err)
		default:
			h.Checks["replication"] = fail("replication stream not started yet")
		}
		h.Checks["heartbeat"] = heartbeatCheck(time.Now(), lead.Since, cs.LastHeartbeat)
		if st != nil {
			h.Failover = &st.Slot.Failover
		}
		switch {
		case st == nil:
			h.Checks["slot"] = fail("unknown: the database cannot be read")
		case !st.Slot.Exists:
			h.Checks["slot"] = fail("replication slot %s does not exist", st.Slot.Name)
		case st.Slot.WALStatus == "lost":
			h.Checks["slot"] = fail("replication slot %s is lost: PostgreSQL removed WAL it needed; stop the daemons and run xerosync resync", st.Slot.Name)
		case st.Slot.Active && !cs.Streaming:
			// LESSONS 9: a distinct failure, since it means two consumers.
			h.Checks["slot"] = fail("replication slot %s is active in another process (pid %d), not in this leader", st.Slot.Name, st.Slot.ActivePID)
		case !st.Slot.Active:
			h.Checks["slot"] = fail("replication slot %s is inactive: nothing is consuming it", st.Slot.Name)
		default:
			h.Checks["slot"] = Check{State: CheckOK}
		}
	}

	h.Status = StatusOK
	for _, t := range h.Tenants {
		if t.Connection == "auth_failed" || t.Failed > 0 || t.StuckInFlightSeconds > 0 {
			h.Status = StatusDegraded
		}
	}
	for _, c := range h.Checks {
		if c.State == CheckFail {
			h.Status = StatusDown
		}
	}
	return h
}

// handler serves /healthz, /status and /metrics.
func (r *runner) handler() (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range r.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		h := r.health(req.Context())
		code := http.StatusOK
		if h.Status == StatusDown {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, h)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, req *http.Request) {
		tenant := req.URL.Query().Get("tenant")
		if tenant != "" && !isUUID(tenant) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "tenant must be a tenant id (UUID)"})
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), probeTimeout)
		defer cancel()
		st, err := ReadStatus(ctx, r.pool, r.cfg.Database.Slot, tenant, true)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing collector must not blank the whole scrape; ours reports its own
		// database errors through xerosync_database_up instead.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing useful to do about it
}

// heartbeatCheck judges the heartbeat (LESSONS 5: Sequin fails health when none arrives in
// time). Age is measured from when this process became leader if no heartbeat has come back
// since: a fresh leader gets the same allowance as a running one.
func heartbeatCheck(now, leaderSince, lastHeartbeat time.Time) Check {
	since := leaderSince
	if lastHeartbeat.After(since) {
		since = lastHeartbeat
	}
	limit := 3*heartbeatInterval + heartbeatSlack
	if age := now.Sub(since); age > limit {
		return fail("no heartbeat has come back through the slot for %s (limit %s): capture is stalled", age.Round(time.Second), limit)
	}
	return Check{State: CheckOK}
}
