-- `resync`: tenants disconnected after the lost slot's position $1: their window closed
-- somewhere in the lost WAL, at a point the snapshot cannot place their changes against.
SELECT tenant_id::text
  FROM xerosync.connections
 WHERE queue_until_lsn IS NOT NULL AND queue_until_lsn > $1::pg_lsn
 ORDER BY tenant_id
