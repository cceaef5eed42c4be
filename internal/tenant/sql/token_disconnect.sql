UPDATE xerosync.connections
SET state                 = 'disconnected',
    token_sealed          = NULL,
    previous_token_sealed = NULL,
    access_expires_at     = NULL,
    last_error            = NULL,
    updated_at            = $2
WHERE tenant_id = $1
