-- `resync`: the tenant's invoices whose issue the lost WAL would have queued and that have
-- none: issued or paid and changed since the tenant connected ($2: capture queues the issue
-- of an invoice never queued at any change of it while issued), or voided after an issue
-- made since then (a void of an invoice never issued queues nothing). An invoice whose issue
-- was queued, or that is in Xero, is left alone; claimInvoices decides the rest.
SELECT i.id::text
  FROM finance.invoices i
 WHERE i.tenant_id = $1::uuid
   AND ((i.status IN ('issued', 'paid') AND greatest(i.created_at, i.updated_at, i.issued_at) >= $2)
        OR (i.status = 'void' AND i.issued_at >= $2))
   AND NOT EXISTS (SELECT 1 FROM xerosync.entities e
                    WHERE e.entity = 'invoice' AND e.entity_id = i.id AND (e.issued OR e.xero_id IS NOT NULL))
 ORDER BY coalesce(i.issued_at, i.created_at), i.id
