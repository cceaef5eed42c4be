-- `resync`: the stored position of the slot and the commit time of the last source
-- transaction captured there. No row: xerosync never captured on this slot.
SELECT lsn::text, commit_time FROM xerosync.checkpoint WHERE slot_name = $1
