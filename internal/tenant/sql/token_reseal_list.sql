-- Every stored token set, whatever the connection's state.
SELECT tenant_id::text, token_sealed, previous_token_sealed
FROM xerosync.connections
WHERE token_sealed IS NOT NULL
   OR previous_token_sealed IS NOT NULL
ORDER BY tenant_id
