-- Stores the capture position. It only moves forward: the predicate makes a stale writer a
-- no-op instead of moving the position back (LESSONS 3, sequin#1843).
UPDATE xerosync.checkpoint
   SET lsn = $2::pg_lsn,
       commit_time = coalesce($3, commit_time),
       heartbeat_at = coalesce($4, heartbeat_at),
       updated_at = now()
 WHERE slot_name = $1 AND (lsn IS NULL OR lsn <= $2::pg_lsn)
