-- A connection marked auth_failed only because its token set did not open with an earlier
-- key (last_error starts with $4) is connected again once it opens: the tokens themselves
-- were never rejected by Xero.
UPDATE xerosync.connections
SET state      = 'connected',
    last_error = NULL,
    updated_at = $2
WHERE tenant_id = $1
  AND state = 'auth_failed'
  AND token_sealed = $3
  AND starts_with(last_error, $4)
