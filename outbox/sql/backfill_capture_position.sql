-- `backfill`: whether capture has read the WAL up to $2: its stored position (the end of the
-- last source transaction whose outbox rows are committed) for the slot $1. No row: capture
-- has never run on this database. A NULL position: the slot exists but nothing was consumed.
SELECT lsn::text, coalesce(lsn >= $2::pg_lsn, false)
  FROM xerosync.checkpoint
 WHERE slot_name = $1
