-- The refresh lock: whoever holds this row lock is the only one allowed to present the row's
-- refresh token to Xero (XERO.md §1: one writer, store before use).
SELECT state, token_sealed, refresh_obtained_at
FROM xerosync.connections
WHERE tenant_id = $1
FOR UPDATE
