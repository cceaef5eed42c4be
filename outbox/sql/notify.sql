-- Wakes the dispatcher when the transaction that queued rows (capture's or a backfill batch) commits
-- (NOTIFY is transactional). writeRows runs it after every COPY.
SELECT pg_notify('xerosync_outbox', t) FROM unnest($1::text[]) AS t
