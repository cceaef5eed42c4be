-- RetryByID (`xerosync retry --id N`): exactly what an operator's UPDATE does; the dispatcher picks the
-- flag up, puts the row back to pending and clears it (SPEC §3). Only a row that can still be
-- sent (failed, or pending in backoff) is flagged; the state predicate is the current-state
-- guard of LESSONS 8. The row's state is returned whether or not it was flagged.
WITH flagged AS (
    UPDATE xerosync.outbox
       SET retry_requested = true, updated_at = now()
     WHERE id = $1 AND state IN ('failed', 'pending')
 RETURNING id
)
SELECT o.state, EXISTS (SELECT 1 FROM flagged)
  FROM xerosync.outbox o
 WHERE o.id = $1
