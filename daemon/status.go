package daemon

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softbooq/xerosync/outbox"
)

var (
	//go:embed sql/status_connections.sql
	statusConnectionsSQL string
	//go:embed sql/status_slot.sql
	statusSlotSQL string
)

// DBTX is what the status queries need: a connection, a pool or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Status is what `xerosync status --json` prints and GET /status serves: read from the
// database alone, so the command and any daemon (leader or standby) report the same thing.
type Status struct {
	Slot    SlotStatus     `json:"slot"`
	Tenants []TenantStatus `json:"tenants"`
}

// SlotStatus is the replication slot and our capture position (LESSONS 10).
type SlotStatus struct {
	Name      string `json:"name"`
	Exists    bool   `json:"exists"`
	Active    bool   `json:"active"`
	ActivePID int32  `json:"active_pid,omitempty"`
	// WALStatus is pg_replication_slots.wal_status: reserved, extended, unreserved or lost.
	WALStatus string `json:"wal_status,omitempty"`
	// RetainedWALBytes is how much WAL the slot keeps on disk (current LSN − restart_lsn).
	RetainedWALBytes *float64 `json:"retained_wal_bytes,omitempty"`
	// ConfirmedLagBytes is current LSN − confirmed_flush_lsn.
	ConfirmedLagBytes *float64 `json:"confirmed_lag_bytes,omitempty"`
	// SafeWALSizeBytes is how much more WAL may be written before the slot is lost; absent
	// when max_slot_wal_keep_size is unlimited.
	SafeWALSizeBytes *float64 `json:"safe_wal_size_bytes,omitempty"`
	SpillBytes       *float64 `json:"spill_bytes,omitempty"`
	SpillTxns        *float64 `json:"spill_txns,omitempty"`
	// CapturedLSN is the end of the last source transaction whose outbox rows are committed.
	CapturedLSN string `json:"captured_lsn,omitempty"`
	// CaptureLagSeconds is now − the commit time of the last captured transaction (the
	// heartbeat is one, so this stays small when all is well and the tables are idle).
	CaptureLagSeconds   *float64 `json:"capture_lag_seconds,omitempty"`
	HeartbeatAgeSeconds *float64 `json:"heartbeat_age_seconds,omitempty"`
	// Failover says whether the slot would survive a failover to a standby.
	Failover FailoverStatus `json:"failover"`
}

// HealthTenant is a tenant as /healthz reports it (SPEC §4), and the head of its status.
type HealthTenant struct {
	TenantID   string `json:"tenant_id"`
	Connection string `json:"connection"` // connected, auth_failed or disconnected
	Pending    int64  `json:"pending"`
	Failed     int64  `json:"failed"`
	// StuckInFlightSeconds is how long the oldest in-flight row has been in flight, present
	// only when that is longer than outbox.StuckInFlight: its outcome is not being recorded,
	// and it holds back its entity and dependents (health degraded).
	StuckInFlightSeconds float64 `json:"stuck_in_flight_seconds,omitempty"`
	// Waiting says why the tenant's rows wait on Xero's budget, when they do: its first word
	// is one of outbox's Wait* kinds (day_pacing, live_paced, backfill_held, day_spent,
	// minute_spent, rate_limited).
	Waiting string `json:"waiting,omitempty"`
}

// BudgetStatus is an organisation's Xero budget as the dispatcher last saved it (every second
// while it runs): counts are what Xero had left at the least, nil when unknown.
type BudgetStatus struct {
	MinuteRemaining *int       `json:"minute_remaining"`
	MinuteResetAt   *time.Time `json:"minute_reset_at"`
	DayRemaining    *int       `json:"day_remaining"`
	DayResetAt      *time.Time `json:"day_reset_at"` // an estimate that is never early
	DayLimit        *int       `json:"day_limit"`    // the day's size as seen (1,000 on Starter)
	SavedAt         time.Time  `json:"saved_at"`
}

// TenantStatus is one tenant's connection and queue.
type TenantStatus struct {
	HealthTenant

	Organisation          string           `json:"organisation,omitempty"`
	XeroTenantID          string           `json:"xero_tenant_id,omitempty"`
	AccessTokenExpiresAt  *time.Time       `json:"access_token_expires_at,omitempty"`
	RefreshTokenExpiresAt *time.Time       `json:"refresh_token_expires_at,omitempty"`
	ConnectionError       string           `json:"connection_error,omitempty"`
	Rows                  map[string]int64 `json:"rows"` // by outbox state; done and cancelled only with history
	OldestPendingSeconds  float64          `json:"oldest_pending_age_seconds"`
	OldestInFlightSeconds float64          `json:"oldest_in_flight_age_seconds"`
	FailuresByCode        map[string]int64 `json:"failures_by_code,omitempty"`
	Budget                *BudgetStatus    `json:"xero_budget,omitempty"`
}

// ReadStatus reads Status; tenant narrows it to one tenant ("" for all). history also counts
// the done and cancelled rows, which scans the whole outbox: `status` and GET /status ask for
// it, the polled /healthz and /metrics do not (their cost must not grow with the history).
func ReadStatus(ctx context.Context, db DBTX, slot, tenant string, history bool) (*Status, error) {
	var tenantArg any
	if tenant != "" {
		tenantArg = tenant
	}
	st := &Status{Tenants: []TenantStatus{}}
	slotStatus, err := readSlotStatus(ctx, db, slot)
	if err != nil {
		return nil, err
	}
	st.Slot = *slotStatus

	// Tenants with a connection, and tenants with rows but none (reported disconnected).
	byID := map[string]*TenantStatus{}
	rows, err := db.Query(ctx, statusConnectionsSQL, tenantArg)
	if err != nil {
		return nil, fmt.Errorf("read connections: %w", err)
	}
	for rows.Next() {
		t := &TenantStatus{}
		b := &BudgetStatus{}
		var savedAt *time.Time // NULL: no budget saved for the organisation
		if err := rows.Scan(&t.TenantID, &t.Connection, &t.Organisation, &t.XeroTenantID,
			&t.AccessTokenExpiresAt, &t.RefreshTokenExpiresAt, &t.ConnectionError,
			&b.MinuteRemaining, &b.MinuteResetAt, &b.DayRemaining, &b.DayResetAt, &b.DayLimit,
			&t.Waiting, &savedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read connections: %w", err)
		}
		if savedAt != nil {
			b.SavedAt = *savedAt
			t.Budget = b
		}
		byID[t.TenantID] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read connections: %w", err)
	}
	queues, err := outbox.Stats(ctx, db, tenant, history)
	if err != nil {
		return nil, err
	}
	for id, q := range queues {
		t := byID[id]
		if t == nil {
			t = &TenantStatus{HealthTenant: HealthTenant{TenantID: id, Connection: "disconnected"}}
			byID[id] = t
		}
		t.Rows, t.FailuresByCode = q.Rows, q.FailuresByCode
		t.OldestPendingSeconds = q.OldestPendingAge.Seconds()
		t.OldestInFlightSeconds = q.OldestInFlightAge.Seconds()
		if q.OldestInFlightAge > outbox.StuckInFlight {
			t.StuckInFlightSeconds = t.OldestInFlightSeconds
		}
	}
	// Every state counted is present, zero when it has no rows.
	counted := []string{outbox.StatePending, outbox.StateInFlight, outbox.StateFailed}
	if history {
		counted = append(counted, outbox.StateDone, outbox.StateCancelled)
	}
	for _, t := range byID {
		if t.Rows == nil {
			t.Rows = map[string]int64{}
		}
		for _, state := range counted {
			t.Rows[state] += 0
		}
		t.Pending, t.Failed = t.Rows[outbox.StatePending], t.Rows[outbox.StateFailed]
		st.Tenants = append(st.Tenants, *t)
	}
	slices.SortFunc(st.Tenants, func(a, b TenantStatus) int { return strings.Compare(a.TenantID, b.TenantID) })
	return st, nil
}

func readSlotStatus(ctx context.Context, db DBTX, slot string) (*SlotStatus, error) {
	s := &SlotStatus{Name: slot}
	var lsn *string
	var version int
	err := db.QueryRow(ctx, statusSlotSQL, slot).Scan(&s.Exists, &s.Active, &s.ActivePID, &s.WALStatus,
		&s.RetainedWALBytes, &s.ConfirmedLagBytes, &s.SafeWALSizeBytes, &s.SpillBytes, &s.SpillTxns,
		&lsn, &s.CaptureLagSeconds, &s.HeartbeatAgeSeconds,
		&version, &s.Failover.SlotFailover, &s.Failover.StandbySlots)
	if err != nil {
		return nil, fmt.Errorf("read replication slot %s: %w", slot, err)
	}
	if lsn != nil {
		s.CapturedLSN = *lsn
	}
	s.Failover.Ready, s.Failover.Reason = judgeFailover(version, s.Exists, s.Failover.SlotFailover, s.Failover.StandbySlots)
	return s, nil
}

func statusFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	tenant := tenantFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON (the same document as GET /status)")
	watch := fs.Bool("watch", false, "print the status again every --interval until interrupted, in place on a terminal (unfinished rows only: counting done and cancelled rows scans the whole outbox)")
	interval := fs.Duration("interval", 2*time.Second, "with --watch: how often to read the status")
	return func(ctx context.Context) error {
		if err := checkTenant("status", tenant, false); err != nil {
			return err
		}
		if *interval <= 0 {
			return usagef("status", "status: --interval must be positive")
		}
		if *watch && *asJSON {
			return usagef("status", "status: --watch prints for a person; for a machine, poll xerosync status --json or GET /status")
		}
		cfg, _, conn, err := inv.setupDB(ctx)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		render := func(w io.Writer) error {
			// A watch is a polled path: like /healthz, it reads only the unfinished rows.
			st, err := ReadStatus(ctx, conn, cfg.Database.Slot, *tenant, !*watch)
			if err != nil {
				return fmt.Errorf("status: %w (has `xerosync migrate` been run?)", err)
			}
			if *asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if *tenant != "" && len(st.Tenants) == 0 {
				fmt.Fprintf(w, "tenant %s has no Xero connection and nothing queued\n", *tenant)
			}
			printStatus(w, st, *tenant == "")
			return nil
		}
		if !*watch {
			return render(inv.p.Stdout)
		}
		return watchStatus(ctx, inv.p.Stdout, isTerminal(inv.p.Stdout), *interval, render)
	}
}

// watchStatus renders every interval until ctx ends (Ctrl-C), which is a clean stop. On a
// terminal each rendering replaces the last one in place, like watch(1); anywhere else
// (a pipe, a file, a log) the renderings follow each other, each under a timestamp, because
// cursor movements there are noise.
func watchStatus(ctx context.Context, w io.Writer, tty bool, interval time.Duration, render func(io.Writer) error) error {
	const (
		home      = "\x1b[H"  // cursor to the top left
		clearLine = "\x1b[K"  // erase to the end of the line
		clearDown = "\x1b[J"  // erase everything below the cursor
		clearAll  = "\x1b[2J" // once, so no earlier shell output stays below a short status
	)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for first := true; ; first = false {
		var buf strings.Builder
		fmt.Fprintf(&buf, "every %s, %s (Ctrl-C to stop)\n\n", interval, time.Now().UTC().Format(time.DateTime+" MST"))
		if err := render(&buf); err != nil {
			if ctx.Err() != nil {
				return nil // interrupted mid-read
			}
			return err
		}
		out := buf.String()
		if tty {
			// Overwrite line by line instead of clearing first: the screen never flashes blank.
			out = strings.ReplaceAll(out, "\n", clearLine+"\n") + clearDown
			if first {
				out = clearAll + home + out
			} else {
				out = home + out
			}
		} else if !first {
			out = "\n" + out
		}
		if _, err := io.WriteString(w, out); err != nil {
			return fmt.Errorf("status: write: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// printStatus writes the human form of Status.
func printStatus(w io.Writer, st *Status, withSlot bool) {
	if withSlot {
		s := st.Slot
		switch {
		case !s.Exists:
			fmt.Fprintf(w, "replication slot %s: does not exist (xerosync run creates it)\n", s.Name)
		default:
			active := "inactive (no daemon is streaming)"
			if s.Active {
				active = fmt.Sprintf("active (pid %d)", s.ActivePID)
			}
			fmt.Fprintf(w, "replication slot %s: %s, wal_status %s, retains %s, captured %s\n",
				s.Name, active, s.WALStatus, bytesText(s.RetainedWALBytes), cmp.Or(s.CapturedLSN, "nothing yet"))
			if s.CaptureLagSeconds != nil {
				fmt.Fprintf(w, "  last captured commit %s ago", secondsText(*s.CaptureLagSeconds))
				if s.HeartbeatAgeSeconds != nil {
					fmt.Fprintf(w, ", last heartbeat %s ago", secondsText(*s.HeartbeatAgeSeconds))
				}
				fmt.Fprintln(w)
			}
			if s.Failover.Ready {
				var names []string
				for _, sb := range s.Failover.StandbySlots {
					names = append(names, sb.Name)
				}
				fmt.Fprintf(w, "  failover: ready (a failover slot; standby slots %s are streaming)\n", strings.Join(names, ", "))
			} else {
				fmt.Fprintf(w, "  failover: not ready: %s\n", s.Failover.Reason)
			}
		}
	}
	if len(st.Tenants) == 0 {
		if withSlot {
			fmt.Fprintln(w, "no tenants are connected and nothing is queued; link one with xerosync connect --tenant ID")
		}
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tORGANISATION\tCONNECTION\tTOKEN EXPIRES\tPENDING\tIN FLIGHT\tDONE\tFAILED\tCANCELLED\tOLDEST PENDING")
	for _, t := range st.Tenants {
		expires := "-"
		if t.RefreshTokenExpiresAt != nil {
			expires = t.RefreshTokenExpiresAt.UTC().Format(time.DateOnly)
		}
		oldest := "-"
		if t.Rows["pending"]+t.Rows["in_flight"] > 0 {
			oldest = secondsText(t.OldestPendingSeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", t.TenantID, cmp.Or(t.Organisation, "-"),
			t.Connection, expires, t.Rows["pending"], t.Rows["in_flight"], t.Rows["done"], t.Rows["failed"],
			t.Rows["cancelled"], oldest)
	}
	tw.Flush()
	for _, t := range st.Tenants {
		if b := t.Budget; b != nil {
			fmt.Fprintf(w, "\ntenant %s xero budget: minute %s, day %s\n", t.TenantID,
				budgetText(b.MinuteRemaining, b.MinuteResetAt, nil), budgetText(b.DayRemaining, b.DayResetAt, b.DayLimit))
		}
		if t.Waiting != "" {
			fmt.Fprintf(w, "  waiting on budget: %s\n", t.Waiting)
		}
		if t.ConnectionError != "" && t.Connection == "auth_failed" {
			fmt.Fprintf(w, "\ntenant %s cannot reach Xero: %s\n  reconnect it with: xerosync connect --tenant %s\n", t.TenantID, t.ConnectionError, t.TenantID)
		}
		if len(t.FailuresByCode) == 0 {
			continue
		}
		var parts []string
		code := "CODE"
		for c, n := range t.FailuresByCode {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
			code = c
		}
		if len(parts) > 1 {
			code = "CODE"
		}
		slices.Sort(parts)
		fmt.Fprintf(w, "\ntenant %s failures: %s\n"+
			"  details: SELECT id, entity, entity_id, last_error_code, last_error FROM xerosync.outbox WHERE tenant_id = '%s' AND state = 'failed';\n"+
			"  after fixing the cause: xerosync retry --tenant %s --code %s\n",
			t.TenantID, strings.Join(parts, ", "), t.TenantID, t.TenantID, code)
	}
}

// budgetText is one window: "12 left, resets 09:41:00 UTC", or "unknown".
func budgetText(remaining *int, resetAt *time.Time, limit *int) string {
	if remaining == nil {
		return "unknown (learnt from the next call)"
	}
	out := fmt.Sprintf("%d", *remaining)
	if limit != nil {
		out += fmt.Sprintf(" of %d", *limit)
	}
	out += " left"
	if resetAt != nil {
		out += ", resets by " + resetAt.UTC().Format(time.DateTime+" MST")
	}
	return out
}

func secondsText(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func bytesText(b *float64) string {
	if b == nil {
		return "unknown"
	}
	v := *b
	for _, unit := range []string{"B", "kB", "MB", "GB"} {
		if v < 1024 || unit == "GB" {
			if unit == "B" {
				return fmt.Sprintf("%.0f %s", v, unit)
			}
			return fmt.Sprintf("%.1f %s", v, unit)
		}
		v /= 1024
	}
	panic("unreachable: the loop returns at GB")
}
