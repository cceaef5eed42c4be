-- `backfill`: records that an issue (and for a void invoice, its void) is queued, and returns
-- the invoices this transaction claimed. An invoice whose issue capture queued in the
-- meantime is not returned: if capture's transaction is still open, this insert waits for it
-- and then finds the row issued. Capture reads the same flags, so it never queues these
-- invoices' issue or void again.
INSERT INTO xerosync.entities AS x (entity, entity_id, tenant_id, issued, voided, updated_at)
SELECT 'invoice', i.id, i.tenant_id, true, i.status = 'void', now()
  FROM finance.invoices i
 WHERE i.id = ANY($1::uuid[])
ON CONFLICT (entity, entity_id) DO UPDATE
   SET issued = true, voided = EXCLUDED.voided, updated_at = now()
 WHERE NOT x.issued
RETURNING entity_id::text
