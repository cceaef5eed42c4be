-- Disconnect, in the token store's transaction (committed with the state change): close the
-- tenant's capture window at the WAL position of now. Changes committed before it are still
-- queued when capture reaches them; nothing committed after it is (SPEC §1). Rows already in
-- the outbox are not touched.
UPDATE xerosync.connections
   SET queue_until_lsn = pg_current_wal_lsn(), updated_at = now()
 WHERE tenant_id = $1::uuid
