// Package cdc follows Softbooq's database through logical replication (pgoutput, protocol
// version 1) and hands every committed source transaction to a Sink inside one database
// transaction that also records the transaction's end LSN in xerosync.checkpoint.
//
// What it guarantees:
//   - Exactly-once capture. A transaction's changes and its position commit together; a
//     transaction whose commit LSN is below the stored position is skipped whole on replay, so
//     neither a crash nor a slot that re-sends can skip or repeat a change.
//   - The slot is confirmed only up to what is durable: standby updates carry write = received
//     and flush = apply = the stored position, all three set explicitly (pglogrepl would copy
//     a zero flush position from write).
//   - The slot keeps moving when the watched tables are idle: a transactional logical message
//     (the heartbeat) is emitted every few seconds and consumed like any transaction, and
//     keepalives received with nothing in progress advance the stored position to the
//     server's WAL end before it is confirmed. The heartbeat's arrival is tracked, so a silent
//     stall shows in Status.
//   - It never trusts a position it cannot justify: a missing or lost slot, a slot ahead of
//     our position, or a slot with no position of ours stops with a SetupError that says what
//     an administrator must do. It never recreates a slot silently: Recreate (`xerosync
//     resync`) does, on an administrator's word, with an exported snapshot whose start is
//     stored in the transaction that queued what the lost slot held.
//   - Memory is bounded by the chunk size, not by the size of a source transaction: changes
//     are handed to the Sink in chunks, all inside the one database transaction.
//
// The pgoutput decoding (Decoder) is pure and fuzz-tested; Capture owns the connections.
package cdc
