UPDATE xerosync.connections
SET state      = 'auth_failed',
    last_error = $2,
    updated_at = $3
WHERE tenant_id = $1
