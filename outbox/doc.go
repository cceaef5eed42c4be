// Package outbox owns xerosync.outbox: the enqueuer that turns captured Softbooq changes into
// outbox rows (it implements cdc.Sink), and the dispatcher that drains them to Xero.
//
// The enqueuer's guarantees:
//   - Rows are written in the capture transaction, so they commit with the WAL position that
//     produced them: exactly once. Each row carries (commit_lsn, commit_idx), unique.
//   - Only what Xero holds counts: a customer update queues a contact upsert only when a
//     Xero-held field differs from what was last queued (kept in xerosync.entities, because
//     the WAL carries no old values under Softbooq's default replica identity); unchanged
//     TOASTed values are taken from that copy, never read as NULL.
//   - An invoice is issued once, when it first becomes issued (or arrives already paid), with
//     its lines read in the same transaction; a void follows only an issue; a payment only
//     for an issued invoice. Each row records what it waits for: an invoice its customer's
//     contact, a void or payment its invoice.
//   - Tenants without a Xero connection, or disconnected, queue nothing.
//   - Memory is bounded by the chunk cdc hands over; every database round trip is per chunk,
//     not per change.
package outbox
