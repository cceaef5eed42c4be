-- A transactional logical message: decoded through the slot like a transaction (we start
-- replication with messages 'true'), needs no table in the publication, and works even when
-- only other databases are busy (LESSONS 5).
SELECT pg_logical_emit_message(true, 'xerosync_heartbeat', now()::text)
