-- A logical slot and, to tell whether it is this database's, the database we are in.
SELECT plugin, coalesce(database, ''), current_database(), confirmed_flush_lsn::text,
       coalesce(wal_status, ''), coalesce(active_pid, 0)
  FROM pg_replication_slots
 WHERE slot_name = $1 AND slot_type = 'logical'
