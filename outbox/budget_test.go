package outbox_test

import (
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// budgetScale runs the simulator's clock, and the child's, ten times as fast: a minute
// window lasts 6 s.
const budgetScale = 10

// TestBudgetRestartChild is the dispatching process of TestBudgetSurvivesKillNine: one request
// per row, on the simulator's scaled clock, until it is killed.
func TestBudgetRestartChild(t *testing.T) {
	dbURL, simURL := os.Getenv("XEROSYNC_TEST_BUDGET_DB"), os.Getenv("XEROSYNC_TEST_BUDGET_SIM")
	if dbURL == "" || simURL == "" {
		t.Skip("started by TestBudgetSurvivesKillNine only")
	}
	simT0, _ := strconv.ParseInt(os.Getenv("XEROSYNC_TEST_BUDGET_SIM_T0"), 10, 64)
	realT0, _ := strconv.ParseInt(os.Getenv("XEROSYNC_TEST_BUDGET_REAL_T0"), 10, 64)
	runChildDispatcher(t, dbURL, simURL, os.Getenv("XEROSYNC_TEST_BUDGET_KEY"), 1, func(c *xero.Config) {
		// The simulator's clock, rebuilt from one reading of it and the scale.
		c.Now = func() time.Time {
			return time.Unix(0, simT0).Add(time.Since(time.Unix(0, realT0)) * budgetScale).UTC()
		}
	})
}

// A dispatcher that spent nearly all of a minute's budget and is killed with SIGKILL (no
// clean stop, no last save) is followed by one that knows what was spent: Xero answers no
// call of either with 429 (issue #12). Without the saved budget the second process's first
// call would be a probe into a spent minute.
func TestBudgetSurvivesKillNine(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs two dispatching processes")
	}
	s := newDispatchSetup(t, dsetupConfig{sim: xerosim.Config{TimeScale: budgetScale}})
	customer, _ := s.contact("Budget Ltd", "budget@example.com")
	for range 100 {
		s.invoice(customer)
	}
	child := func() *exec.Cmd {
		realT0, simT0 := time.Now(), s.sim.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestBudgetRestartChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "XEROSYNC_TEST_BUDGET_DB="+s.db.URL, "XEROSYNC_TEST_BUDGET_SIM="+s.srv.URL,
			"XEROSYNC_TEST_BUDGET_KEY="+hex.EncodeToString(s.key),
			"XEROSYNC_TEST_BUDGET_SIM_T0="+strconv.FormatInt(simT0.UnixNano(), 10),
			"XEROSYNC_TEST_BUDGET_REAL_T0="+strconv.FormatInt(realT0.UnixNano(), 10))
		cmd.Stdout, cmd.Stderr = tlog{t}, tlog{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := child()
	// Killed once it has spent the minute's 60 (without the saved budget the next process's
	// probe meets the spent minute: 19 × 429 in one run).
	waitFor(t, time.Minute, "60 calls made", func() bool { return s.sim.Stats().Requests >= 60 })
	_ = first.Process.Kill()
	_ = first.Wait()
	t.Logf("killed after %d requests", s.sim.Stats().Requests)

	second := child()
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	// It knows the minute is spent, and says so (status shows it) while it waits.
	waitFor(t, 10*time.Second, "the wait shown as minute_spent", func() bool {
		return strings.HasPrefix(s.scalar("SELECT coalesce(max(waiting), '') FROM xerosync.xero_budget"), outbox.WaitMinuteSpent)
	})
	waitFor(t, 2*time.Minute, "every row done", func() bool {
		return s.scalar("SELECT count(*)::text FROM xerosync.outbox WHERE state <> 'done'") == "0"
	})
	st := s.sim.Stats()
	if st.TooManyRequests != 0 {
		t.Fatalf("%d × 429 (%v) in %d requests", st.TooManyRequests, st.RateLimited, st.Requests)
	}
	t.Logf("%d requests, 0 × 429", st.Requests)
}

// Backfill uses what live traffic leaves (xero.live_share): on a day of 100 calls it stops
// at the live share and says so (xerosync.xero_budget.waiting, shown by status); live rows
// queued then go, paced over the rest of the day by what is left of it (a simulated day is
// 144 s here). No call is refused.
func TestBackfillLeavesTheLiveShare(t *testing.T) {
	t.Parallel()
	s := newDispatchSetup(t, dsetupConfig{sim: xerosim.Config{TimeScale: 600, Limits: xerosim.Limits{PerDay: 100}}})
	customer, _ := s.contact("Share Ltd", "share@example.com")
	for range 150 {
		s.invoice(customer) // the setup queues as backfill
	}
	s.start(func(c *outbox.DispatcherConfig) { c.BatchSize, c.Now = 1, s.sim.Now })
	waitFor(t, time.Minute, "backfill held back for live rows", func() bool {
		return strings.HasPrefix(s.scalar("SELECT coalesce(max(waiting), '') FROM xerosync.xero_budget"), outbox.WaitBackfillHeld)
	})
	spent := s.sim.Stats().Requests
	other, _ := s.contact("Live Ltd", "live@example.com")
	_, _, live := s.invoice(other)
	s.db.Exec(t, "UPDATE xerosync.outbox SET source = 'wal' WHERE entity_id IN (SELECT entity_id FROM xerosync.outbox WHERE id = $1) OR entity_id = $2", live, other)
	s.db.Exec(t, "SELECT pg_notify('xerosync_outbox', $1)", s.tenant)
	defer func() {
		if t.Failed() {
			t.Logf("waiting %q; rows %s; requests %d", s.scalar("SELECT coalesce(max(waiting), '') FROM xerosync.xero_budget"),
				s.scalar("SELECT string_agg(id || ':' || source || ':' || state || ':' || attempts || ':' || coalesce(last_error, ''), ' ') FROM xerosync.outbox WHERE id >= $1 - 2", live),
				s.sim.Stats().Requests)
		}
	}()
	waitFor(t, time.Minute, "the live invoice done", func() bool {
		return s.scalar("SELECT state FROM xerosync.outbox WHERE id = $1", live) == outbox.StateDone
	})
	st := s.sim.Stats()
	pending := s.scalar("SELECT count(*)::text FROM xerosync.outbox WHERE state = 'pending'")
	t.Logf("backfill stopped after %d of the day's 100 calls with %s rows pending; the live rows took %d more", spent, pending, st.Requests-spent)
	if st.TooManyRequests != 0 {
		t.Errorf("%d × 429 (%v)", st.TooManyRequests, st.RateLimited)
	}
	if spent > 85 || pending == "0" {
		t.Errorf("backfill spent %d of 100 calls (pending %s): the live share (20) was not kept", spent, pending)
	}
}
