-- Failed outbox rows by tenant and error code. $1 as in queue_stats.sql.
SELECT tenant_id::text, coalesce(last_error_code, 'unknown'), count(*)
  FROM xerosync.outbox
 WHERE state = 'failed' AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
 GROUP BY 1, 2
 ORDER BY 1, 2
