-- Tenants' Xero connections, for status, with their organisation's Xero budget as the
-- dispatcher last saved it (outbox, budget.go; NULLs without one): the counts are
-- conservative, and the reason a lane waits is shown only while the daemon keeps saving (it
-- saves every second), so a stopped daemon's last reason is not shown as current. Their queues
-- come from outbox.Stats. $1 is a tenant id, or NULL for every tenant. Only schema xerosync is
-- read.
SELECT c.tenant_id::text,
       c.state,
       coalesce(c.org_name, ''),
       coalesce(c.xero_tenant_id, ''),
       c.access_expires_at,
       -- Xero refresh tokens die after 60 days unused.
       c.refresh_obtained_at + interval '60 days',
       coalesce(c.last_error, ''),
       b.minute_remaining, b.minute_reset_at, b.day_remaining, b.day_reset_at, b.day_limit,
       CASE WHEN b.saved_at > now() - interval '10 seconds' THEN coalesce(b.waiting, '') ELSE '' END,
       b.saved_at
  FROM xerosync.connections c
  LEFT JOIN xerosync.xero_budget b ON b.xero_tenant_id = c.xero_tenant_id AND b.xero_tenant_id <> ''
 WHERE $1::uuid IS NULL OR c.tenant_id = $1::uuid
