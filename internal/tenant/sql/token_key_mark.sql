-- A connection whose token set does not open with the key. Only the very token set that was
-- tried is marked: a connect that stored a new one meanwhile wins.
UPDATE xerosync.connections
SET state      = 'auth_failed',
    last_error = $2,
    updated_at = $3
WHERE tenant_id = $1
  AND state = 'connected'
  AND token_sealed = $4
