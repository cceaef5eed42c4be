-- Wakes the dispatcher when the capture transaction commits (NOTIFY is transactional).
SELECT pg_notify('xerosync_outbox', t) FROM unnest($1::text[]) AS t
