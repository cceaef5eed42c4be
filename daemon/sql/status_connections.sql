-- Tenants' Xero connections, for status; their queues come from outbox.Stats. $1 is a tenant
-- id, or NULL for every tenant. Only schema xerosync is read.
SELECT tenant_id::text,
       state,
       coalesce(org_name, ''),
       coalesce(xero_tenant_id, ''),
       access_expires_at,
       -- Xero refresh tokens die after 60 days unused.
       refresh_obtained_at + interval '60 days',
       coalesce(last_error, '')
  FROM xerosync.connections
 WHERE $1::uuid IS NULL OR tenant_id = $1::uuid
