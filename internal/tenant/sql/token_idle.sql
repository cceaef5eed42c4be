-- Connections whose refresh token has gone unused long enough to risk Xero's 60-day expiry.
SELECT tenant_id::text
FROM xerosync.connections
WHERE state = 'connected'
  AND token_sealed IS NOT NULL
  AND (refresh_obtained_at IS NULL OR refresh_obtained_at < $1)
ORDER BY refresh_obtained_at NULLS FIRST
