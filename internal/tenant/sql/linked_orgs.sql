-- Xero organisations linked to a Softbooq tenant that still uses them (connected, or waiting
-- for a reconnect): `connect` never links one of them to a second tenant, and neither
-- `connect` nor `disconnect` removes their Xero connections.
SELECT lower(xero_tenant_id), tenant_id::text
  FROM xerosync.connections
 WHERE xero_tenant_id IS NOT NULL AND state IN ('connected', 'auth_failed')
