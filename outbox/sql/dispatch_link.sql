-- Links: the Xero id of a Softbooq entity, once known. Contacts and payments have no
-- entities row until linked; an invoice's row was written with its issue.
-- $1 entities, $2 entity ids, $3 tenant, $4 xero ids, $5 now.
INSERT INTO xerosync.entities AS x (entity, entity_id, tenant_id, xero_id, updated_at)
SELECT e, id, $3, xid, $5 FROM unnest($1::text[], $2::uuid[], $4::uuid[]) AS u(e, id, xid)
ON CONFLICT (entity, entity_id) DO UPDATE SET xero_id = EXCLUDED.xero_id, updated_at = EXCLUDED.updated_at
