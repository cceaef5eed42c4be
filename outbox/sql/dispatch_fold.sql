-- Later upserts of a contact that were sent folded into their head: done with it. Only rows
-- still pending (an operator may have cancelled one meanwhile; that stands).
UPDATE xerosync.outbox
   SET state = 'done', xero_id = coalesce($2::uuid, xero_id), last_error_code = NULL, last_error = NULL,
       updated_at = $3
 WHERE id = ANY($1::bigint[]) AND state = 'pending'
