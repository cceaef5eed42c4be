-- Creates the slot. On PostgreSQL 17 and later it is a failover slot: a standby with
-- sync_replication_slots keeps a copy of it, so it survives a promotion. The call is built
-- per version because the failover argument does not exist before 17.
SELECT CASE WHEN current_setting('server_version_num')::int >= 170000
            THEN 'SELECT lsn::text FROM pg_create_logical_replication_slot($1, ''pgoutput'', failover => true)'
            ELSE 'SELECT lsn::text FROM pg_create_logical_replication_slot($1, ''pgoutput'')' END
