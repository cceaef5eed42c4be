-- The token sets the key check tries to open: those of connections that are in use or may be
-- again (a disconnected connection holds none).
SELECT tenant_id::text, state, token_sealed, coalesce(last_error, '')
FROM xerosync.connections
WHERE state IN ('connected', 'auth_failed')
  AND token_sealed IS NOT NULL
ORDER BY tenant_id
