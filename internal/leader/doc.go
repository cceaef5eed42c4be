// Package leader elects one leader among the processes that share a key (xerosync: the
// replication slot), with a PostgreSQL session advisory lock held on a dedicated connection
// (LESSONS 9). It owns that connection and the loop around it; what a leader does is the
// caller's, given as Config.Lead.
//
// # States
//
// An Elector is in one state at a time; only its Run goroutine moves it, and Snapshot reads
// it from any goroutine (xerosync's /healthz and systemd watchdog do).
//
//	Starting ─┬─ the lock is free ─────────────▶ Leading
//	          ├─ another session holds it ──────▶ Standby
//	          └─ the connection fails ──────────▶ Lost
//	Standby  ─┬─ the lock is free at a poll ────▶ Leading
//	          └─ a poll fails ──────────────────▶ Lost
//	Leading  ─── a ping fails, or Lead fails ───▶ Lost     (once Lead has returned)
//	Lost     ─┬─ after Poll, reconnected ───────▶ Leading or Standby, as from Starting
//	          └─ the reconnect fails ───────────▶ Lost     (with the new error)
//	any      ─── ctx ends, or a Fatal error ────▶ Stopped
//
// What each state guarantees:
//   - Starting: Run has not connected yet (the zero state, also before Run). Lead is not
//     running; nothing has failed.
//   - Standby: connected; another session holds the lock. The lock is tried every Poll, so a
//     lock that PostgreSQL frees (its leader stopped, or died) is taken within Poll. Lead is
//     not running.
//   - Leading: this session holds the lock and Lead runs. The connection is pinged every
//     Poll, each ping bounded by QueryTimeout; when a ping fails the lock may already be
//     someone else's, so Lead's context is cancelled at once, and the session ends when Lead
//     has returned. The state stays Leading until then: Lead never runs outside Leading.
//   - Lost: the last session ended with an error (Snapshot.Err): the connection could not be
//     made, a lock poll or ping failed, or Lead returned an error. The connection is closed,
//     which releases the lock if PostgreSQL had not already. After Poll a new session
//     connects; a session that fails again stays Lost with the new error. Lead is not
//     running.
//   - Stopped: Run has returned: ctx ended (the lock is released by closing its connection)
//     or an error Config.Fatal picked out stopped it (Snapshot.Err).
//
// Two electors with the same key never both lead while both their connections work, because
// PostgreSQL grants a session lock to one session. A leader whose connection is cut may not
// learn it for up to Poll+QueryTimeout, while PostgreSQL frees the lock as soon as it sees
// the session gone: the caller needs a second fence for that window (xerosync: the
// replication slot, which PostgreSQL lets only one process consume).
package leader
