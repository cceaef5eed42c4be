-- A tenant's rows still to push (or failed), for what disconnect tells the operator.
SELECT count(*)
  FROM xerosync.outbox
 WHERE tenant_id = $1::uuid AND state IN ('pending', 'in_flight', 'failed')
