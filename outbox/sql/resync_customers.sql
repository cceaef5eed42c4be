-- `resync`: the tenant's customers, and whether each was inserted or updated since the
-- tenant connected ($2). A customer whose contact was queued before is compared by its hash
-- whatever its timestamps; one never queued is queued only if it changed since the connect,
-- as capture would have queued its insert or update (older ones are backfill's history).
SELECT id::text, greatest(created_at, updated_at) >= $2
  FROM crm.customers
 WHERE tenant_id = $1::uuid
 ORDER BY created_at, id
