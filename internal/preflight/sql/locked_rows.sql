-- `xerosync check`: queued invoices and payments that Xero will refuse because they are dated on or
-- before the lock date $2 (they fail with PeriodLocked).
SELECT count(*) FILTER (WHERE action = 'issue'),
       count(*) FILTER (WHERE action = 'pay')
  FROM xerosync.outbox
 WHERE tenant_id = $1::uuid
   AND state IN ('pending', 'in_flight', 'failed')
   AND ((action = 'issue' AND (payload->>'issue_date')::date <= $2::date)
     OR (action = 'pay' AND (payload->>'paid_on')::date <= $2::date))
