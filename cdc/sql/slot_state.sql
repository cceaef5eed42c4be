-- `resync`: the slot as resync judges it. Whether it was invalidated is said differently by
-- each version: wal_status 'lost' (13+), conflicting (16+, a standby's slot whose rows were
-- removed), invalidation_reason (17+); the last two are read through to_jsonb so that one
-- statement runs on 15 too.
SELECT slot_type, coalesce(plugin, ''), coalesce(database, ''), current_database(),
       coalesce(wal_status, ''), coalesce(active_pid, 0),
       coalesce((to_jsonb(s) ->> 'conflicting')::boolean, false),
       coalesce(to_jsonb(s) ->> 'invalidation_reason', '')
  FROM pg_replication_slots s
 WHERE slot_name = $1
