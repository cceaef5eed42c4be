-- `backfill`: what a backfill from $2 would queue, for its cost estimate (printed before
-- anything is queued) and its progress: the invoices backfill_candidates.sql will return in
-- all, their customers with no contact in Xero or queued (each is linked or created, in steps
-- of 50), and their payments.
WITH inv AS (
    SELECT i.id, i.customer_id
      FROM finance.invoices i
     WHERE i.tenant_id = $1::uuid
       AND (i.status IN ('issued', 'paid') OR (i.status = 'void' AND i.issued_at IS NOT NULL))
       AND coalesce(i.issue_date, i.issued_at::date) >= $2::date
       AND NOT EXISTS (SELECT 1 FROM xerosync.entities e
                        WHERE e.entity = 'invoice' AND e.entity_id = i.id AND e.xero_id IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o
                        WHERE o.entity = 'invoice' AND o.entity_id = i.id AND o.action = 'issue'))
SELECT (SELECT count(*) FROM inv),
       (SELECT count(DISTINCT inv.customer_id) FROM inv
         WHERE NOT EXISTS (SELECT 1 FROM xerosync.entities e
                            WHERE e.entity = 'contact' AND e.entity_id = inv.customer_id AND e.xero_id IS NOT NULL)
           AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o
                            WHERE o.entity = 'contact' AND o.entity_id = inv.customer_id)),
       (SELECT count(*) FROM finance.payments p JOIN inv ON inv.id = p.invoice_id)
