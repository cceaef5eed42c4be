-- The stored capture position of a slot: no row = never started; NULL lsn = slot being created.
SELECT lsn::text FROM xerosync.checkpoint WHERE slot_name = $1
