-- After a complete read (a fill) or a refresh: the next refresh asks for what changed since
-- $2, which never moves backwards.
-- $1 xero tenant id, $2 modified since, $3 now.
INSERT INTO xerosync.contact_directory_state AS s (xero_tenant_id, filled_at, modified_since, refreshed_at)
VALUES ($1, $3, $2, $3)
ON CONFLICT (xero_tenant_id) DO UPDATE
   SET modified_since = greatest(s.modified_since, EXCLUDED.modified_since), refreshed_at = EXCLUDED.refreshed_at
