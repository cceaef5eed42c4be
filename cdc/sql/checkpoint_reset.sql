-- `resync`: the new slot's start, written in the transaction that queued what the old slot
-- missed. Unlike checkpoint_write.sql it may move the position anywhere (a new slot after a
-- pg_upgrade or a failover): the slot it belongs to is new. commit_time and heartbeat_at are
-- kept: they say when capture last saw a source commit and a heartbeat.
INSERT INTO xerosync.checkpoint (slot_name, lsn) VALUES ($1, $2::pg_lsn)
ON CONFLICT (slot_name) DO UPDATE SET lsn = EXCLUDED.lsn, updated_at = now()
