// Package outbox owns xerosync.outbox, xerosync.entities and xerosync.xero_budget: the enqueuer that turns captured
// Softbooq changes into outbox rows (it implements cdc.Sink), Backfill that queues a tenant's
// history, the operators' retry flags (RetryByCode, RetryByID), and the dispatcher that drains
// the rows to Xero. It also owns the contact directory (xerosync.contact_directory and
// xerosync.contact_directory_state, directory.go): each organisation's Xero contacts, kept
// fresh with If-Modified-Since, so that linking a new customer (SPEC §1) and reconciling a
// contact are lookups in PostgreSQL, not calls to Xero; the linking decision itself is pure
// (matchContact).
//
// It is the only writer of these tables (STYLE 13): no other package inserts, updates or
// deletes their rows, so the rules about them live here once. Every row enters through one
// COPY writer (writeRows), which also wakes the dispatcher on commit; "an invoice is issued
// once" is kept by the entity states capture stores and backfill claims side by side
// (entities.go); "a contact before its first invoice" and "only Xero-held fields count" are
// decided by the pure planning functions (plan.go, and planBackfillInvoices), table-tested
// without PostgreSQL like the mapping (mapping.go) and the matching (match.go). Operators may
// still set retry_requested and cancel_requested by hand in SQL (SPEC §3): those are their
// flags, which the dispatcher applies.
//
// The enqueuer's guarantees:
//   - Rows are written in the capture transaction, so they commit with the WAL position that
//     produced them: exactly once. Each row carries (commit_lsn, commit_idx), unique.
//   - Only what Xero holds counts: a customer update queues a contact upsert only when a
//     Xero-held field differs from what was last queued (the hash of its fields, kept on
//     the contact's outbox rows, because the WAL carries no old values under Softbooq's
//     default replica identity); unchanged TOASTed values are read from the table, never
//     taken as NULL.
//   - An invoice is issued once, when it first becomes issued (or arrives already paid), with
//     its lines read in the same transaction; a void follows only an issue; a payment only
//     for an issued invoice. Each row records what it waits for: an invoice its customer's
//     contact, a void or payment its invoice.
//   - Tenants without a Xero connection, or disconnected, queue nothing.
//   - Memory is bounded by the chunk cdc hands over; every database round trip is per chunk,
//     not per change.
//
// Backfill's guarantees: it is idempotent and resumable. An invoice is queued once, whether
// by capture or by backfill (its claim in xerosync.entities is the one capture reads), its
// customer's contact first when that was never queued nor linked, a void after the issue of
// an invoice voided since; a payment once, because backfill queues only the payments capture
// has read past in the WAL and left alone. Each batch is one transaction under a per-tenant
// advisory lock; a failure keeps what was committed, and a second run continues.
//
// Resync queues what a lost slot's WAL would have queued (`xerosync resync`). Its
// guarantees: inside the transaction of a new slot's exported snapshot (cdc.Recreate),
// for every tenant connected there, it queues what capture would have queued from the lost
// WAL and the outbox does not record, with the enqueuer's rules and reads (the contact hash,
// "a contact before its first invoice", backfill's invoice claim), and nothing already
// queued. Its rows commit with the new slot's start, so capture continues exactly after them.
//
// The dispatcher's guarantees (Dispatcher.Run; state machine pending → in_flight → done |
// failed | pending, and cancelled by an operator):
//   - In order: one lane per connected tenant claims heads, not rows (LESSONS 7): a row goes
//     only when no earlier row of its entity is unfinished (pending, in_flight, failed) and,
//     for an invoice, payment or void, no earlier row of the entity it depends on is
//     unfinished and that entity has a Xero id. A failed row holds back its entity and its
//     dependents, nothing else. FOR UPDATE SKIP LOCKED applies among heads only.
//   - Durable state: a row is committed in_flight (attempt counted) before its request, its
//     Idempotency-Key is stored on it before the request, and the outcome is written after,
//     each UPDATE guarded by the row's current state and attempt (LESSONS 8, river#1302).
//   - Nothing twice: the key is bound to the exact request (row ids, their key generation, a
//     hash of the body). A row whose outcome is unknown (timeout, lost response, 5xx, a crash
//     while in_flight) is reconciled against Xero before it is sent again — invoice by
//     InvoiceNumber, contact by ContactNumber then email, payment by invoice, amount, date and
//     reference, never claiming a Xero payment already linked to another row — and only a
//     row not found is sent again, under a new key. Rows left in_flight at start are
//     reconciled, never re-sent blindly.
//   - Failures: transient ones (network, timeout, 5xx, 429, organisation offline) go back to
//     pending with capped, jittered exponential backoff (about 1 s to 5 min, ±20 %) or Xero's
//     Retry-After; permanent ones fail the row with a SPEC code and Xero's own message, and
//     log one warning; a missing mapping fails the row before any call. Every failed or
//     unknown attempt is appended to the row's errors. An auth failure parks the tenant (connection
//     auth_failed) without burning attempts; a reconnected tenant gets its lane back at the
//     next tenant poll (tenantPoll, every second: SPEC §4 asks for 2 s).
//   - Batches of one kind, up to 50 elements, with per-element results mapped to rows by
//     position; the client keeps a tenant within Xero's rate limits.
//   - Xero's budget survives a restart: the client's view of each organisation's minute and
//     day is saved in xerosync.xero_budget every second and restored before the first call,
//     and the client admits only a few calls beyond the last save (budget.go), so a kill -9
//     costs no 429.
//   - Paced by the day budget (pace.go): at once while the day is plentiful, in fuller
//     batches as it tightens, so the day is not spent before it resets; live rows first, and
//     backfill only above the live share (LiveShare) of the day. Why a lane waits is saved
//     with the budget, for status.
//   - Prompt: LISTEN on NotifyChannel wakes a lane within milliseconds of a capture commit;
//     a timer covers backoffs; polling is only a slow safety net. Operators' retry and
//     cancel flags are applied within 2 s.
//   - Clean stop: when Run's context ends, requests already sent finish (for up to
//     DrainTimeout) and their outcomes are recorded; claimed rows not yet sent return to
//     pending without counting an attempt.
package outbox
