-- `resync`: the tenants whose changes capture would queue at the new slot's start $1
-- (connected_tenants.sql's rule, at one position): connected, or auth_failed and waiting for
-- a reconnect, with a window open at $1; and when each connected. A tenant connected after $1
-- (connect running beside resync) is capture's from there on.
SELECT tenant_id::text, coalesce(connected_at, '-infinity'::timestamptz)
  FROM xerosync.connections
 WHERE state IN ('connected', 'auth_failed')
   AND queue_until_lsn IS NULL
   AND coalesce(queue_from_lsn, '0/0') <= $1::pg_lsn
 ORDER BY tenant_id
