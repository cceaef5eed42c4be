-- The contact directory's state for one organisation: no row when it was never filled.
-- $1 xero tenant id.
SELECT modified_since FROM xerosync.contact_directory_state WHERE xero_tenant_id = $1
