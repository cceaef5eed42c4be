-- When the lane's timer should fire next: the earliest backed-off row still in the future.
-- (Due rows that are not heads wait for an outcome or a flag, which wake the lane anyway.)
SELECT min(next_attempt_at) FROM xerosync.outbox
 WHERE tenant_id = $1 AND state = 'pending' AND next_attempt_at > $2
