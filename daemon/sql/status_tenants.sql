-- One row per tenant xerosync knows of: its Xero connection, if any, and its outbox by state.
-- A tenant with rows but no connection row is reported as disconnected. $1 is a tenant id, or
-- NULL for every tenant. Counting uses the (state, tenant_id) index; no Softbooq table is read,
-- so this needs nothing beyond schema xerosync.
WITH queue AS (
    SELECT tenant_id,
           count(*) FILTER (WHERE state = 'pending')   AS pending,
           count(*) FILTER (WHERE state = 'in_flight') AS in_flight,
           count(*) FILTER (WHERE state = 'done')      AS done,
           count(*) FILTER (WHERE state = 'failed')    AS failed,
           count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
           min(created_at) FILTER (WHERE state IN ('pending', 'in_flight')) AS oldest_pending
      FROM xerosync.outbox
     WHERE $1::uuid IS NULL OR tenant_id = $1::uuid
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
       coalesce(q.pending, 0),
       coalesce(q.in_flight, 0),
       coalesce(q.done, 0),
       coalesce(q.failed, 0),
       coalesce(q.cancelled, 0),
       coalesce(extract(epoch FROM now() - q.oldest_pending)::float8, 0)
  FROM xerosync.connections c
  FULL JOIN queue q USING (tenant_id)
 WHERE $1::uuid IS NULL OR tenant_id = $1::uuid
 ORDER BY tenant_id
