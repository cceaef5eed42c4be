-- `resync`: the tenant's invoices void now whose issue was queued before and whose void was
-- not: capture would have queued the void.
SELECT i.id::text, i.number
  FROM finance.invoices i
  JOIN xerosync.entities e ON e.entity = 'invoice' AND e.entity_id = i.id AND e.issued AND NOT e.voided
 WHERE i.tenant_id = $1::uuid AND i.status = 'void'
 ORDER BY coalesce(i.voided_at, i.updated_at), i.id
