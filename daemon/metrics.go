package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/softbooq/xerosync/outbox"
)

// metricsCollector reads the database-backed metrics when Prometheus scrapes, bounded by
// probeTimeout, rather than in a loop of its own: nothing is queried when nobody looks, and
// a scrape always sees the current values (LESSONS 10).
type metricsCollector struct {
	r *runner

	databaseUp, leader, streaming         *prometheus.Desc
	outboxRows, oldestPending             *prometheus.Desc
	oldestInFlight                        *prometheus.Desc
	captureLag, heartbeatAge              *prometheus.Desc
	retainedWAL, confirmedLag, slotActive *prometheus.Desc
	failoverReady                         *prometheus.Desc
	walStatus, safeWAL                    *prometheus.Desc
	spillBytes, spillTxns                 *prometheus.Desc
	captureChanges, captureTxns           *prometheus.Desc
	rateRemaining, tokenExpiry            *prometheus.Desc
	rateReset, budgetWaiting              *prometheus.Desc
	healthStatus, connection, failedRows  *prometheus.Desc
}

func newMetricsCollector(r *runner) *metricsCollector {
	slot := prometheus.Labels{"slot": r.cfg.Database.Slot}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, slot)
	}
	return &metricsCollector{
		r:              r,
		databaseUp:     d("xerosync_database_up", "1 if the last scrape could read the database, else 0 (and the database-backed metrics are absent)."),
		leader:         d("xerosync_leader", "1 while this process holds the leadership lock and captures, 0 as standby."),
		streaming:      d("xerosync_capture_streaming", "1 while this process's replication stream is up."),
		outboxRows:     d("xerosync_outbox_rows", "Unfinished outbox rows (pending, in_flight, failed) by state and tenant; done and cancelled are counted by xerosync status, not on every scrape.", "state", "tenant_id"),
		oldestPending:  d("xerosync_outbox_oldest_pending_age_seconds", "Age of the tenant's oldest pending or in-flight outbox row; 0 when none.", "tenant_id"),
		oldestInFlight: d("xerosync_outbox_oldest_in_flight_age_seconds", fmt.Sprintf("How long the tenant's oldest in-flight row has been in flight; 0 when none. Over %.0f s its outcome is not being recorded (a lock on the row?): /healthz is degraded.", outbox.StuckInFlight.Seconds()), "tenant_id"),
		captureLag:     d("xerosync_capture_lag_seconds", "Now minus the source commit time of the last captured transaction (heartbeats included)."),
		heartbeatAge:   d("xerosync_heartbeat_age_seconds", "Time since a heartbeat last came back through the slot."),
		retainedWAL:    d("xerosync_replication_slot_retained_wal_bytes", "WAL the slot keeps on disk: pg_current_wal_lsn() - restart_lsn."),
		confirmedLag:   d("xerosync_replication_slot_confirmed_lag_bytes", "pg_current_wal_lsn() - confirmed_flush_lsn."),
		slotActive:     d("xerosync_replication_slot_active", "1 if a process is consuming the slot."),
		failoverReady:  d("xerosync_replication_slot_failover_ready", "1 if the slot would survive a failover to a standby (PostgreSQL 17+: a failover slot, every slot in synchronized_standby_slots streamed); xerosync status says why not."),
		walStatus:      d("xerosync_replication_slot_wal_status", "1 for the slot's current wal_status (missing: no such slot).", "status"),
		safeWAL:        d("xerosync_replication_safe_wal_size_bytes", "WAL that may still be written before the slot is lost (absent when max_slot_wal_keep_size is unlimited)."),
		spillBytes:     d("xerosync_replication_spill_bytes_total", "Bytes of decoded transactions spilled to disk (pg_stat_replication_slots.spill_bytes)."),
		spillTxns:      d("xerosync_replication_spill_txns_total", "Transactions spilled to disk (pg_stat_replication_slots.spill_txns)."),
		captureChanges: d("xerosync_capture_changes_total", "Row changes captured by this process while leading."),
		captureTxns:    d("xerosync_capture_transactions_total", "Source transactions captured by this process while leading."),
		rateRemaining:  d("xerosync_xero_rate_limit_remaining", "Calls left in Xero's budget, as its last response said (limit: minute, day, app_minute).", "tenant_id", "limit"),
		rateReset:      d("xerosync_xero_rate_limit_reset_seconds", "Seconds until the tenant's Xero budget window resets, as estimated (never early; limit: minute, day); absent when unknown.", "tenant_id", "limit"),
		budgetWaiting:  d("xerosync_xero_budget_waiting", "1 for why the tenant's rows wait on Xero's budget (reason: day_pacing, live_paced, backfill_held, day_spent, minute_spent, rate_limited), 0 for the other reasons; all 0 when they do not wait.", "tenant_id", "reason"),
		tokenExpiry:    d("xerosync_xero_token_expiry_seconds", "Seconds until the tenant's token expires (token: access, refresh); the refresh token dies unused after 60 days.", "tenant_id", "token"),
		healthStatus:   d("xerosync_health_status", "1 for what GET /healthz of this process says now (status: ok, degraded, down), 0 for the others.", "status"),
		connection:     d("xerosync_tenant_connection", "1 for the tenant's Xero connection state (state: connected, auth_failed, disconnected), 0 for the others.", "tenant_id", "state"),
		failedRows:     d("xerosync_outbox_failed_rows", "Failed outbox rows by tenant and last_error_code (absent when a tenant has none).", "tenant_id", "code"),
	}
}

// newCounters builds the metrics counted as things happen (the others are read at scrape
// time by metricsCollector).
func newCounters() (xeroCalls, deliveries *prometheus.CounterVec) {
	xeroCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xerosync_xero_calls_total",
		Help: "HTTP exchanges with Xero by operation and status (0: no response).",
	}, []string{"operation", "status"})
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xerosync_delivery_attempts_total",
		Help: "Recorded push attempts by entity, result (done, pending: to retry, failed) and error code.",
	}, []string{"entity", "result", "code"})
	return xeroCalls, deliveries
}

// collectors is everything GET /metrics serves.
func (r *runner) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		newMetricsCollector(r),
		r.xeroCalls, r.deliveries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.databaseUp, c.leader, c.streaming, c.outboxRows, c.oldestPending, c.oldestInFlight, c.captureLag,
		c.heartbeatAge, c.retainedWAL, c.confirmedLag, c.slotActive, c.failoverReady, c.walStatus, c.safeWAL,
		c.spillBytes, c.spillTxns, c.captureChanges, c.captureTxns, c.rateRemaining, c.tokenExpiry, c.rateReset, c.budgetWaiting,
		c.healthStatus, c.connection, c.failedRows,
	} {
		ch <- d
	}
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	capture := c.r.capture.Load() // nil unless this daemon leads
	gauge(c.leader, boolValue(capture != nil))
	if capture != nil {
		cs := capture.Status()
		gauge(c.streaming, boolValue(cs.Streaming))
		counter(c.captureChanges, float64(cs.Changes))
		counter(c.captureTxns, float64(cs.Transactions))
	} else {
		gauge(c.streaming, 0)
	}

	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	st, err := ReadStatus(ctx, c.r.pool, c.r.cfg.Database.Slot, "", false)
	// Every status is its own series, 1 for the current one, so that an alert can say
	// status="down" and a graph can stack them (as wal_status below).
	health := c.r.healthOf(st, err).Status
	for _, hs := range []string{StatusOK, StatusDegraded, StatusDown} {
		gauge(c.healthStatus, boolValue(hs == health), hs)
	}
	if err != nil {
		c.r.log.Debug("metrics: cannot read the database", tint.Err(err))
		gauge(c.databaseUp, 0)
		return
	}
	gauge(c.databaseUp, 1)
	for _, t := range st.Tenants {
		for _, cs := range []string{"connected", "auth_failed", "disconnected"} {
			gauge(c.connection, boolValue(cs == t.Connection), t.TenantID, cs)
		}
		for code, n := range t.FailuresByCode {
			gauge(c.failedRows, float64(n), t.TenantID, code)
		}
		for state, n := range t.Rows {
			gauge(c.outboxRows, float64(n), state, t.TenantID)
		}
		gauge(c.oldestPending, t.OldestPendingSeconds, t.TenantID)
		gauge(c.oldestInFlight, t.OldestInFlightSeconds, t.TenantID)
		if t.AccessTokenExpiresAt != nil {
			gauge(c.tokenExpiry, time.Until(*t.AccessTokenExpiresAt).Seconds(), t.TenantID, "access")
		}
		if t.RefreshTokenExpiresAt != nil {
			gauge(c.tokenExpiry, time.Until(*t.RefreshTokenExpiresAt).Seconds(), t.TenantID, "refresh")
		}
		reset := func(limit string, at time.Time) {
			if !at.IsZero() {
				gauge(c.rateReset, max(time.Until(at).Seconds(), 0), t.TenantID, limit)
			}
		}
		if client := c.r.xeroClient.Load(); client != nil && t.XeroTenantID != "" {
			b := client.Budgets(t.XeroTenantID)
			gauge(c.rateRemaining, float64(b.MinuteRemaining), t.TenantID, "minute")
			gauge(c.rateRemaining, float64(b.DayRemaining), t.TenantID, "day")
			gauge(c.rateRemaining, float64(b.AppMinuteRemaining), t.TenantID, "app_minute")
			reset("minute", b.MinuteResetAt)
			reset("day", b.DayResetAt)
		} else if b := t.Budget; b != nil {
			// Not delivering here (a standby): what the leader last saved.
			if b.MinuteRemaining != nil && b.MinuteResetAt != nil {
				gauge(c.rateRemaining, float64(*b.MinuteRemaining), t.TenantID, "minute")
				reset("minute", *b.MinuteResetAt)
			}
			if b.DayRemaining != nil && b.DayResetAt != nil {
				gauge(c.rateRemaining, float64(*b.DayRemaining), t.TenantID, "day")
				reset("day", *b.DayResetAt)
			}
		}
		kind, _, _ := strings.Cut(t.Waiting, ":")
		for _, reason := range []string{outbox.WaitPacing, outbox.WaitLivePaced, outbox.WaitBackfillHeld, outbox.WaitDaySpent,
			outbox.WaitMinuteSpent, outbox.WaitRateLimited} {
			gauge(c.budgetWaiting, boolValue(reason == kind), t.TenantID, reason)
		}
	}
	s := st.Slot
	current := s.WALStatus
	if !s.Exists {
		current = "missing"
	}
	// Every value of pg_replication_slots.wal_status, plus "missing" for a slot that does
	// not exist, is its own series (1 for the current one, 0 for the others), so an alert
	// can match status="lost" without knowing the previous value.
	for _, ws := range []string{"reserved", "extended", "unreserved", "lost", "missing"} {
		gauge(c.walStatus, boolValue(ws == current), ws)
	}
	gauge(c.slotActive, boolValue(s.Active))
	gauge(c.failoverReady, boolValue(s.Failover.Ready))
	optional := func(d *prometheus.Desc, v *float64, kind prometheus.ValueType) {
		if v != nil {
			ch <- prometheus.MustNewConstMetric(d, kind, *v)
		}
	}
	optional(c.retainedWAL, s.RetainedWALBytes, prometheus.GaugeValue)
	optional(c.confirmedLag, s.ConfirmedLagBytes, prometheus.GaugeValue)
	optional(c.safeWAL, s.SafeWALSizeBytes, prometheus.GaugeValue)
	optional(c.spillBytes, s.SpillBytes, prometheus.CounterValue)
	optional(c.spillTxns, s.SpillTxns, prometheus.CounterValue)
	optional(c.captureLag, s.CaptureLagSeconds, prometheus.GaugeValue)
	optional(c.heartbeatAge, s.HeartbeatAgeSeconds, prometheus.GaugeValue)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
