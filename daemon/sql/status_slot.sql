-- The replication slot as PostgreSQL sees it, and our stored capture position (LESSONS 10).
-- Byte distances are measured from the current WAL position: restart_lsn is what the slot
-- pins on disk, confirmed_flush_lsn is what we have confirmed. Both lsn columns are NULL
-- once the slot is lost; the spill counters come from pg_stat_replication_slots
-- (PostgreSQL 14+) and are cumulative. Ages use the server's clock, not ours.
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
       extract(epoch FROM now() - c.heartbeat_at)::float8
  FROM (SELECT $1::text AS slot_name) want
  LEFT JOIN pg_replication_slots s ON s.slot_name = want.slot_name
  LEFT JOIN pg_stat_replication_slots st ON st.slot_name = want.slot_name
  LEFT JOIN xerosync.checkpoint c ON c.slot_name = want.slot_name
