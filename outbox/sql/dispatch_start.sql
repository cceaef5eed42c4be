-- The claimed rows go in_flight, one attempt more, committed before any request is sent.
-- $1 ids, $2 now.
UPDATE xerosync.outbox
   SET state = 'in_flight', attempts = attempts + 1, idempotency_key = NULL,
       last_attempt_at = $2, updated_at = $2
 WHERE id = ANY($1::bigint[]) AND state = 'pending'
