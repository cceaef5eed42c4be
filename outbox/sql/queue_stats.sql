-- A tenant's outbox rows by state (failed rows also by error code), and how long its oldest
-- unfinished (pending or in-flight) row has waited. $1 is a tenant id, or NULL for every
-- tenant. $2: also count done and cancelled rows, a scan of the whole outbox; without it only
-- the partial indexes outbox_pending (0002) and outbox_unfinished (0003) are read, so what is
-- polled (/healthz, /metrics) costs the same whatever the history. The last column is how
-- long the oldest in-flight row has been in flight (since its attempt began): a row stuck
-- there holds back its entity and its dependents, so health reports it.
SELECT tenant_id::text, state, NULL, count(*),
       extract(epoch FROM now() - min(created_at))::float8, NULL::float8
  FROM xerosync.outbox
 WHERE state = 'pending' AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
 GROUP BY tenant_id, state
UNION ALL
SELECT tenant_id::text, state, coalesce(last_error_code, 'unknown'), count(*),
       extract(epoch FROM now() - min(created_at))::float8,
       extract(epoch FROM now() - min(coalesce(last_attempt_at, updated_at)))::float8
  FROM xerosync.outbox
 WHERE state IN ('in_flight', 'failed') AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
 GROUP BY tenant_id, state, last_error_code
UNION ALL
SELECT tenant_id::text, state, NULL, count(*), NULL, NULL
  FROM xerosync.outbox
 WHERE $2::boolean AND state IN ('done', 'cancelled') AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
 GROUP BY tenant_id, state
