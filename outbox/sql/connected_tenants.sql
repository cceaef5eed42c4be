-- Tenants whose changes may be queued, and the WAL range in which they are: connected or
-- waiting for a reconnect (auth_failed) from queue_from_lsn on, until a disconnect. A tenant
-- never connected queues nothing (SPEC §1).
SELECT tenant_id::text, coalesce(queue_from_lsn, '0/0')::text, queue_until_lsn::text
  FROM xerosync.connections
 WHERE tenant_id = ANY($1::uuid[])
   AND (state IN ('connected', 'auth_failed') OR queue_until_lsn IS NOT NULL)
