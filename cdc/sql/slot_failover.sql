-- Whether the slot must be made a failover slot: on PostgreSQL 17 and later, a slot created
-- before xerosync asked for failover (pg_replication_slots.failover exists only from 17 on).
SELECT current_setting('server_version_num')::int >= 170000
       AND NOT coalesce((to_jsonb(s) ->> 'failover')::boolean, false)
  FROM pg_replication_slots s
 WHERE slot_name = $1
