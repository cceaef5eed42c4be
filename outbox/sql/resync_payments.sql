-- `resync`: the tenant's payments with no outbox row at all and not in Xero, of invoices
-- whose issue is queued (resync's own included: this runs after them) and not voided: the
-- payments capture would have queued. Oldest first.
SELECT coalesce(array_agg(p.id::text ORDER BY p.created_at, p.id), '{}')
  FROM finance.payments p
  JOIN xerosync.entities e ON e.entity = 'invoice' AND e.entity_id = p.invoice_id AND e.issued AND NOT e.voided
 WHERE p.tenant_id = $1::uuid
   AND NOT EXISTS (SELECT 1 FROM xerosync.entities x
                    WHERE x.entity = 'payment' AND x.entity_id = p.id AND x.xero_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o WHERE o.entity = 'payment' AND o.entity_id = p.id)
