// Package daemon owns the xerosync command line and the wiring of the running daemon. It is
// the only package that reads the process's arguments and environment (through Main's
// parameters, never os.Getenv), loads the configuration, builds the logger, and decides exit
// codes; every other package is handed what it needs.
//
// Main runs one command (`xerosync [--config FILE] COMMAND [flags]`, SPEC §4) and returns its
// exit code: 0 on success, 2 for usage and configuration problems (every configuration
// problem is printed, one per line, naming its key), 1 for any other failure, with a message
// that says what to do next.
//
// `run` guarantees:
//   - Every goroutine it starts is owned by one errgroup and joined before Main returns: the
//     HTTP server (/healthz, /status, /metrics), the leadership loop and, while this process
//     leads, capture; a clean stop (ctx cancelled, SIGTERM) returns exit code 0.
//   - At most one daemon per slot does work. Leadership is a session advisory lock held on a
//     dedicated connection (LESSONS 9, internal/leader); a standby polls for it every second. Capture runs only
//     while that connection is alive: when it drops, capture is cancelled at once and the
//     daemon goes back to standby. The slot itself is the second fence: PostgreSQL lets only
//     one process consume it.
//   - Problems only an administrator can fix (a cdc.SetupError: missing privileges, a lost or
//     foreign slot) stop the daemon with exit code 1 and the SQL or action that fixes them,
//     rather than being retried forever behind a green health check.
//   - Health says what is true: /healthz answers 503 when the database is unreachable, or,
//     while leading, when the replication stream is down, the heartbeat has not come back
//     through the slot in time, or the slot is lost, missing or held by another process.
//     Database-backed metrics are read when Prometheus scrapes, with a short timeout.
//   - systemd is told READY=1 once HTTP listens and the database is reachable and migrated,
//     WATCHDOG=1 while the daemon's loops make progress, and STOPPING=1 when it stops.
//   - Secrets never reach logs or output: the database URL is logged only redacted.
//
// The operator commands that talk to Xero guarantee (connect and disconnect run the OAuth
// flow, through xero/oauthcallback, and print; the rules and every write of
// xerosync.connections are internal/tenant's, whose result structs they print):
//   - connect links exactly one Xero organisation to one Softbooq tenant (an organisation in
//     use by another tenant is refused, tenant.PlanLink), stores the token set only sealed,
//     and removes the consent's other connections unless another tenant uses them. A new or
//     disconnected tenant's capture window starts at the WAL position of the connect; a
//     connected or auth_failed tenant keeps its window, so nothing captured meanwhile is
//     dropped.
//   - disconnect removes the connection and revokes the tokens while they still work, then
//     forgets them and closes the capture window in one transaction; queued rows stay. It
//     does not revoke when the same Xero user authorised an organisation another tenant
//     uses, because Xero's revocation removes all of that user's connections
//     (tenant.PlanDisconnect).
//   - backfill refuses a start date on or before Xero's lock dates unless forced, then calls
//     outbox.Backfill, which queues (idempotent and resumable: an invoice once, shared with
//     capture, a payment once, after capture has read past it), and prints its progress
//     and summary. Like retry, it writes no outbox or entity row itself: package outbox is
//     their only writer.
//   - check only reads; it exits 1 when it prints a problem.
//
// resync (after the slot was lost) holds the leadership lock for as long as it runs, so it
// never works beside a leading daemon and none leads meanwhile; it refuses when the lock is
// held. cdc.Recreate replaces the slot and stores its start, outbox.Resync queues in its
// exported snapshot, both in one transaction; the command prints what they return.
package daemon
