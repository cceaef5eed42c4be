-- Backfill (claimInvoices in entities.go): records that an issue (and for a void invoice, its
-- void) is queued, and returns the invoices this transaction claimed (backfill_candidates.sql
-- says which qualify). An invoice whose issue capture queued in the meantime is not returned:
-- if capture's transaction is still open, this insert waits for it and then finds the row
-- issued. Capture reads the same flags (store_entities.sql writes them), so it never queues
-- these invoices' issue or void again.
INSERT INTO xerosync.entities AS x (entity, entity_id, tenant_id, issued, voided, updated_at)
SELECT 'invoice', i.id, i.tenant_id, true, i.status = 'void', now()
  FROM finance.invoices i
 WHERE i.id = ANY($1::uuid[])
ON CONFLICT (entity, entity_id) DO UPDATE
   SET issued = true, voided = EXCLUDED.voided, updated_at = now()
 WHERE NOT x.issued
    -- Queued once, but its row is gone before it reached Xero (the outbox pruned or
    -- truncated by hand): queued again. Should capture's own issue race with this, the
    -- dispatcher finishes the second row without a call once the first has a Xero id.
    OR (x.xero_id IS NULL AND NOT EXISTS (
            SELECT 1 FROM xerosync.outbox o
             WHERE o.entity = 'invoice' AND o.entity_id = x.entity_id AND o.action = 'issue'))
RETURNING entity_id::text
