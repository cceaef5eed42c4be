-- When the lane's timer should fire next: the earliest backed-off row still in the future.
-- (Due rows that are not heads wait for an outcome or a flag, which wake the lane anyway.)
SELECT min(next_attempt_at) FROM xerosync.outbox
 WHERE tenant_id = $1 AND state = 'pending' AND next_attempt_at > $2
   -- A captured row is due at its created_at, in the past: this adds nothing but lets the
   -- partial index outbox_next_attempt serve the query.
   AND next_attempt_at > created_at
