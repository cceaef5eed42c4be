-- `backfill`: the tenant's invoices to queue, in issue-date order, a batch at a time. $1
-- tenant, $2 since, $3/$4 the (date, id) after which this batch starts (NULL: from the
-- start), $5 the batch size.
--
-- An invoice qualifies when it was issued (issued, paid, or void after it was issued:
-- SPEC §1 pushes a voided invoice's issue and void so Xero's numbers have no gaps), is dated
-- on or after $2 (issue_date, else the day it was issued), is not in Xero (no Xero id in
-- xerosync.entities), and has no issue row (whatever its state: a cancelled issue stays
-- cancelled). That is what makes backfill idempotent; and because "in Xero" is read from the
-- entities, not from the rows, an invoice whose rows were pruned or truncated before its
-- push is queued again, and one already pushed never is.
SELECT i.id::text, coalesce(i.issue_date, i.issued_at::date)::text
  FROM finance.invoices i
 WHERE i.tenant_id = $1::uuid
   AND (i.status IN ('issued', 'paid') OR (i.status = 'void' AND i.issued_at IS NOT NULL))
   AND coalesce(i.issue_date, i.issued_at::date) >= $2::date
   AND ($3::date IS NULL OR (coalesce(i.issue_date, i.issued_at::date), i.id) > ($3::date, $4::uuid))
   AND NOT EXISTS (SELECT 1 FROM xerosync.entities e
                    WHERE e.entity = 'invoice' AND e.entity_id = i.id AND e.xero_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o
                    WHERE o.entity = 'invoice' AND o.entity_id = i.id AND o.action = 'issue')
 ORDER BY coalesce(i.issue_date, i.issued_at::date), i.id
 LIMIT $5
