-- One row per tenant xerosync knows of: its Xero connection, if any, and its outbox by state.
-- A tenant with rows but no connection row is reported as disconnected. $1 is a tenant id, or
-- NULL for every tenant. $2: also count done and cancelled rows, a scan of the whole outbox;
-- without it, only the partial indexes outbox_pending and outbox_unfinished are read, so
-- /healthz and /metrics cost the same whatever the history. No Softbooq table is read, so
-- this needs nothing beyond schema xerosync.
WITH by_state AS (
    SELECT tenant_id, state, count(*) AS n, min(created_at) AS oldest
      FROM xerosync.outbox
     WHERE state = 'pending' AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
     GROUP BY tenant_id, state
    UNION ALL
    SELECT tenant_id, state, count(*), min(created_at)
      FROM xerosync.outbox
     WHERE state IN ('in_flight', 'failed') AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
     GROUP BY tenant_id, state
    UNION ALL
    SELECT tenant_id, state, count(*), NULL
      FROM xerosync.outbox
     WHERE $2::boolean AND state IN ('done', 'cancelled') AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
     GROUP BY tenant_id, state
), queue AS (
    SELECT tenant_id,
           sum(n) FILTER (WHERE state = 'pending')   AS pending,
           sum(n) FILTER (WHERE state = 'in_flight') AS in_flight,
           sum(n) FILTER (WHERE state = 'done')      AS done,
           sum(n) FILTER (WHERE state = 'failed')    AS failed,
           sum(n) FILTER (WHERE state = 'cancelled') AS cancelled,
           min(oldest) FILTER (WHERE state IN ('pending', 'in_flight')) AS oldest_pending
      FROM by_state
     GROUP BY tenant_id
)
SELECT tenant_id::text,
       coalesce(c.state, 'disconnected'),
       coalesce(c.org_name, ''),
       coalesce(c.xero_tenant_id, ''),
       c.access_expires_at,
       -- Xero refresh tokens die after 60 days unused.
       c.refresh_obtained_at + interval '60 days',
       coalesce(c.last_error, ''),
       coalesce(q.pending, 0)::bigint,
       coalesce(q.in_flight, 0)::bigint,
       coalesce(q.done, 0)::bigint,
       coalesce(q.failed, 0)::bigint,
       coalesce(q.cancelled, 0)::bigint,
       coalesce(extract(epoch FROM now() - q.oldest_pending)::float8, 0)
  FROM xerosync.connections c
  FULL JOIN queue q USING (tenant_id)
 WHERE $1::uuid IS NULL OR tenant_id = $1::uuid
 ORDER BY tenant_id
