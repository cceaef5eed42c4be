-- Queries of TokenStore over xerosync.connections (created by internal/migrate 0001).
-- Each query starts with a "-- name: X" line. Times are parameters, not now(), so a test's
-- clock and the database agree.

-- name: lock
-- The refresh lock: whoever holds this row lock is the only one allowed to present the
-- row's refresh token to Xero (XERO.md §1: one writer, store before use).
SELECT state, token_sealed, access_expires_at, refresh_obtained_at
FROM xerosync.connections
WHERE tenant_id = $1
FOR UPDATE;

-- name: store_refreshed
UPDATE xerosync.connections
SET previous_token_sealed = token_sealed,
    token_sealed          = $2,
    token_rotated_at      = $3,
    refresh_obtained_at   = $3,
    access_expires_at     = $4,
    last_error            = NULL,
    updated_at            = $3
WHERE tenant_id = $1;

-- name: mark_auth_failed
UPDATE xerosync.connections
SET state      = 'auth_failed',
    last_error = $2,
    updated_at = $3
WHERE tenant_id = $1;

-- name: save
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
    updated_at            = EXCLUDED.updated_at;

-- name: get
SELECT tenant_id::text, state, coalesce(xero_tenant_id, ''), coalesce(xero_connection_id, ''),
       coalesce(org_name, ''), token_sealed IS NOT NULL, token_rotated_at, access_expires_at,
       refresh_obtained_at, coalesce(last_error, ''), connected_at, updated_at
FROM xerosync.connections
WHERE tenant_id = $1;

-- name: list
SELECT tenant_id::text, state, coalesce(xero_tenant_id, ''), coalesce(xero_connection_id, ''),
       coalesce(org_name, ''), token_sealed IS NOT NULL, token_rotated_at, access_expires_at,
       refresh_obtained_at, coalesce(last_error, ''), connected_at, updated_at
FROM xerosync.connections
ORDER BY tenant_id;

-- name: idle
-- Connections whose refresh token has gone unused long enough to risk Xero's 60-day expiry.
SELECT tenant_id::text
FROM xerosync.connections
WHERE state = 'connected'
  AND token_sealed IS NOT NULL
  AND (refresh_obtained_at IS NULL OR refresh_obtained_at < $1)
ORDER BY refresh_obtained_at NULLS FIRST;

-- name: disconnect
UPDATE xerosync.connections
SET state                 = 'disconnected',
    token_sealed          = NULL,
    previous_token_sealed = NULL,
    access_expires_at     = NULL,
    last_error            = NULL,
    updated_at            = $2
WHERE tenant_id = $1;
