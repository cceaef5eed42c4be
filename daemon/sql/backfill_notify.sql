-- `backfill`: wakes the dispatcher when the batch commits, as capture does (NOTIFY is
-- transactional). $1 is outbox.NotifyChannel, $2 the tenant.
SELECT pg_notify($1, $2)
