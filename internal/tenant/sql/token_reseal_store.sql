UPDATE xerosync.connections
SET token_sealed          = $2,
    previous_token_sealed = $3,
    updated_at            = $4
WHERE tenant_id = $1
