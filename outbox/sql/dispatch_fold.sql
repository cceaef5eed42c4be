-- Later upserts of a contact that were sent folded into their head: done with it. $1 the
-- folded rows' ids, $2 the Xero id each is done with (its head's; NULL keeps the row's).
-- Only rows still pending (an operator may have cancelled one meanwhile; that stands).
UPDATE xerosync.outbox o
   SET state = 'done', xero_id = coalesce(f.xero_id, o.xero_id), last_error_code = NULL, last_error = NULL,
       updated_at = $3
  FROM unnest($1::bigint[], $2::uuid[]) AS f(id, xero_id)
 WHERE o.id = f.id AND o.state = 'pending'
