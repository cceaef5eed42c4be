-- Link, just before the token set is saved: open the tenant's capture window. Capture
-- queues a tenant's changes committed in [queue_from_lsn, queue_until_lsn).
--   * A new or disconnected tenant starts at the WAL position of now: what happened before is
--     history, which `backfill` covers. Until Save flips the state, a disconnected row with
--     no end queues nothing, so no change from before now slips in.
--   * A connected or auth_failed tenant keeps its window: capture went on queueing its
--     changes while its tokens were dead, and moving the start would drop changes committed
--     before now that capture (which runs behind the database) has not read yet.
INSERT INTO xerosync.connections AS c (tenant_id, state, queue_from_lsn, queue_until_lsn, updated_at)
VALUES ($1::uuid, 'disconnected', pg_current_wal_lsn(), NULL, now())
ON CONFLICT (tenant_id) DO UPDATE SET
    queue_from_lsn  = CASE WHEN c.state IN ('connected', 'auth_failed') AND c.queue_until_lsn IS NULL
                           THEN coalesce(c.queue_from_lsn, pg_current_wal_lsn())
                           ELSE pg_current_wal_lsn() END,
    queue_until_lsn = NULL,
    updated_at      = now()
