-- Tenants the dispatcher drains: connected, with an organisation and a token set. Rows of
-- auth_failed and disconnected tenants wait untouched (SPEC §3).
SELECT tenant_id::text, xero_tenant_id
  FROM xerosync.connections
 WHERE state = 'connected' AND xero_tenant_id IS NOT NULL AND token_sealed IS NOT NULL
