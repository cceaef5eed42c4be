-- The replaced token set is not kept in previous_token_sealed: nothing reads it, and its
-- refresh token stays valid at Xero for the 30-minute grace, a live credential at rest for no
-- use.
UPDATE xerosync.connections
SET token_sealed        = $2,
    token_rotated_at    = $3,
    refresh_obtained_at = $3,
    access_expires_at   = $4,
    last_error          = NULL,
    updated_at          = $3
WHERE tenant_id = $1
