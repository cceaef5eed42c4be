-- `backfill`: the payments still to queue: those of the tenant's invoices dated on or after
-- $2 whose issue is queued (by backfill or capture) and that are not voided, that are not in
-- Xero (no Xero id in xerosync.entities: a payment whose done row was pruned is still
-- known) and have no unfinished or cancelled row of their own (a cancelled payment stays
-- cancelled). In invoice
-- order, then by payment date. Also returns the WAL position now, after this statement's
-- snapshot was taken: every payment listed committed before it (see queuePayments in backfill.go).
SELECT coalesce(array_agg(p.id::text ORDER BY coalesce(i.issue_date, i.issued_at::date), i.id,
                                            p.paid_on, p.created_at, p.id), '{}'),
       pg_current_wal_lsn()::text
  FROM finance.payments p
  JOIN finance.invoices i ON i.id = p.invoice_id
  JOIN xerosync.entities e ON e.entity = 'invoice' AND e.entity_id = i.id AND e.issued AND NOT e.voided
 WHERE p.tenant_id = $1::uuid
   AND i.status IN ('issued', 'paid')
   AND coalesce(i.issue_date, i.issued_at::date) >= $2::date
   AND NOT EXISTS (SELECT 1 FROM xerosync.entities x
                    WHERE x.entity = 'payment' AND x.entity_id = p.id AND x.xero_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o WHERE o.entity = 'payment' AND o.entity_id = p.id
                      AND o.state IN ('pending', 'in_flight', 'failed', 'cancelled'))
