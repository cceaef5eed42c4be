-- The Idempotency-Key of a request, stored on its rows before it is sent.
-- $1 ids, $2 attempts, $3 key.
UPDATE xerosync.outbox o
   SET idempotency_key = $3
  FROM unnest($1::bigint[], $2::int[]) AS u(id, attempts)
 WHERE o.id = u.id AND o.state = 'in_flight' AND o.attempts = u.attempts
