-- `backfill`: the listed payments still neither in Xero nor queued, in the order listed.
SELECT p.id::text, p.invoice_id::text, p.amount::text, p.paid_on::text, p.method, p.reference
  FROM unnest($1::uuid[]) WITH ORDINALITY AS want(id, n)
  JOIN finance.payments p ON p.id = want.id
 WHERE NOT EXISTS (SELECT 1 FROM xerosync.entities x
                    WHERE x.entity = 'payment' AND x.entity_id = p.id AND x.xero_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o WHERE o.entity = 'payment' AND o.entity_id = p.id
                      AND o.state IN ('pending', 'in_flight', 'failed', 'cancelled'))
 ORDER BY want.n
