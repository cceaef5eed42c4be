-- Whether the slot survives a failover to a standby (PostgreSQL 17+; the README's "Failover"):
-- the slot was created with failover = true, the primary names its standbys' physical slots
-- in synchronized_standby_slots (so no change reaches us before they have it), and each of
-- those slots is being streamed now. Columns and settings that do not exist before 17 read as
-- NULL (through to_jsonb and current_setting's missing_ok).
SELECT current_setting('server_version_num')::int / 10000,
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
