-- The outcome of an attempt, one array element per row. Every row carries the current-state
-- predicate (in_flight, at the attempt we made), so a late writer can never overwrite a row
-- an operator or another run has moved on (LESSONS 8, river#1302).
--   state: pending, done, failed; refund: the attempt did not count (auth, shutdown);
--   unknown: the outcome is unknown, reconcile before the next send under a new key;
--   history: the attempt's entry for errors[] (NULL: none).
WITH u AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::text[],
                         $6::text[], $7::uuid[], $8::jsonb[], $9::bool[], $10::bool[])
        AS u(id, attempts, state, next_at, code, err, xero_id, history, unknown, refund)
)
UPDATE xerosync.outbox o
   SET state           = u.state,
       attempts        = o.attempts - CASE WHEN u.refund THEN 1 ELSE 0 END,
       next_attempt_at = coalesce(u.next_at, o.next_attempt_at),
       last_error_code = CASE WHEN u.state = 'done' THEN NULL ELSE coalesce(u.code, o.last_error_code) END,
       last_error      = CASE WHEN u.state = 'done' THEN NULL ELSE coalesce(u.err, o.last_error) END,
       xero_id         = coalesce(u.xero_id, o.xero_id),
       errors          = CASE WHEN u.history IS NULL THEN o.errors ELSE o.errors || jsonb_build_array(u.history) END,
       reconcile       = CASE WHEN u.state = 'done' THEN false WHEN u.unknown THEN true ELSE o.reconcile END,
       key_generation  = o.key_generation + CASE WHEN u.unknown THEN 1 ELSE 0 END,
       updated_at      = $11
  FROM u
 WHERE o.id = u.id AND o.state = 'in_flight' AND o.attempts = u.attempts
RETURNING o.id
