-- A new authorisation for a tenant replaces whatever the row held.
INSERT INTO xerosync.connections AS c (
    tenant_id, state, xero_tenant_id, xero_connection_id, org_name,
    token_sealed, previous_token_sealed, token_rotated_at, access_expires_at,
    refresh_obtained_at, last_error, connected_at, updated_at)
VALUES ($1, 'connected', $2, $3, $4, $5, NULL, $6, $7, $6, NULL, $6, $6)
ON CONFLICT (tenant_id) DO UPDATE SET
    state                 = 'connected',
    xero_tenant_id        = EXCLUDED.xero_tenant_id,
    xero_connection_id    = EXCLUDED.xero_connection_id,
    org_name              = EXCLUDED.org_name,
    token_sealed          = EXCLUDED.token_sealed,
    -- A new authorisation: the old token set belongs to another grant and is no use as a
    -- fallback for this one.
    previous_token_sealed = NULL,
    token_rotated_at      = EXCLUDED.token_rotated_at,
    access_expires_at     = EXCLUDED.access_expires_at,
    refresh_obtained_at   = EXCLUDED.refresh_obtained_at,
    last_error            = NULL,
    connected_at          = EXCLUDED.connected_at,
    updated_at            = EXCLUDED.updated_at
