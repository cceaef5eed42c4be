-- Has the slot's confirmed position reached $2? (confirmOnStop waits for the walsender to
-- take the final standby status before the connection closes.)
SELECT coalesce(confirmed_flush_lsn >= $2::pg_lsn, true) FROM pg_replication_slots WHERE slot_name = $1
