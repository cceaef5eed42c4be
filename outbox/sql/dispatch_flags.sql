-- Operator flags (SPEC §3), applied with a current-state predicate each.
--   cancel_requested: a failed or pending row is given up (cancelled), which releases its
--     dependents (a dependent whose parent never reached Xero then fails with a reason).
--   retry_requested: a failed or pending row is due now; attempts and history are kept. A
--     failed row's key generation moves on: Xero would replay the failure cached under the
--     old key for 6 minutes, and the operator retries because something changed in Xero.
-- A flag on a row that is in_flight waits for the attempt's outcome; a flag on a finished
-- row is cleared without effect. Returns the tenants to wake. $1 now.
WITH cancelled AS (
    UPDATE xerosync.outbox
       SET state = 'cancelled', cancel_requested = false, retry_requested = false, updated_at = $1
     WHERE (retry_requested OR cancel_requested) AND cancel_requested AND state IN ('failed', 'pending')
 RETURNING tenant_id
), retried AS (
    UPDATE xerosync.outbox
       SET state = 'pending', next_attempt_at = $1, retry_requested = false, updated_at = $1,
           key_generation = key_generation + CASE WHEN state = 'failed' THEN 1 ELSE 0 END
     WHERE (retry_requested OR cancel_requested) AND retry_requested AND NOT cancel_requested
       AND state IN ('failed', 'pending')
 RETURNING tenant_id
), finished AS (
    UPDATE xerosync.outbox
       SET retry_requested = false, cancel_requested = false
     WHERE (retry_requested OR cancel_requested) AND state IN ('done', 'cancelled')
 RETURNING tenant_id
)
SELECT DISTINCT tenant_id::text FROM (
    SELECT tenant_id FROM cancelled UNION ALL SELECT tenant_id FROM retried
) t
