-- The replication slot as PostgreSQL sees it, and our stored capture position (LESSONS 10).
-- Byte distances are measured from the current WAL position: restart_lsn is what the slot
-- pins on disk, confirmed_flush_lsn is what we have confirmed. Both lsn columns are NULL
-- once the slot is lost; the spill counters come from pg_stat_replication_slots
-- (PostgreSQL 14+) and are cumulative. Ages use the server's clock, not ours.
-- The last three columns say whether the slot survives a failover to a standby (PostgreSQL 17+;
-- the README's failover setup): the server's major version, the slot's failover flag, and the
-- physical slots named in synchronized_standby_slots (so no change reaches us before they have
-- it) with whether each is being streamed. Columns and settings that do not exist before 17
-- read as NULL (through to_jsonb and current_setting's missing_ok).
SELECT s.slot_name IS NOT NULL,
       coalesce(s.active, false),
       coalesce(s.active_pid, 0),
       coalesce(s.wal_status, ''),
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8,
       s.safe_wal_size::float8,
       st.spill_bytes::float8,
       st.spill_txns::float8,
       c.lsn::text,
       extract(epoch FROM now() - c.commit_time)::float8,
       extract(epoch FROM now() - c.heartbeat_at)::float8,
       current_setting('server_version_num')::int / 10000,
       (to_jsonb(s) ->> 'failover')::boolean,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'name', w.name,
                          'exists', p.slot_name IS NOT NULL,
                          'active', coalesce(p.active, false),
                          'lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), p.restart_lsn)) ORDER BY w.name)
                   FROM (SELECT trim(n) AS name
                           FROM unnest(string_to_array(current_setting('synchronized_standby_slots', true), ',')) AS n
                          WHERE trim(n) <> '') w
                   LEFT JOIN pg_replication_slots p ON p.slot_name = w.name AND p.slot_type = 'physical'),
                '[]'::jsonb)
  FROM (SELECT $1::text AS slot_name) want
  LEFT JOIN pg_replication_slots s ON s.slot_name = want.slot_name
  LEFT JOIN pg_stat_replication_slots st ON st.slot_name = want.slot_name
  LEFT JOIN xerosync.checkpoint c ON c.slot_name = want.slot_name
