-- `backfill`: one backfill of a tenant at a time, per transaction, so two operators running
-- it together cannot both queue the same contact or payment.
SELECT pg_advisory_xact_lock(hashtext('xerosync:backfill:' || $1::text))
