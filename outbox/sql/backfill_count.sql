-- `backfill`: how many invoices backfill_candidates.sql will return in all, for progress.
SELECT count(*)
  FROM finance.invoices i
 WHERE i.tenant_id = $1::uuid
   AND (i.status IN ('issued', 'paid') OR (i.status = 'void' AND i.issued_at IS NOT NULL))
   AND coalesce(i.issue_date, i.issued_at::date) >= $2::date
   AND NOT EXISTS (SELECT 1 FROM xerosync.entities e
                    WHERE e.entity = 'invoice' AND e.entity_id = i.id AND e.xero_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o
                    WHERE o.entity = 'invoice' AND o.entity_id = i.id AND o.action = 'issue')
