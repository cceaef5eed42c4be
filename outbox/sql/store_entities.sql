-- Stores what was queued of invoices (issued, voided), new entities and known ones alike.
INSERT INTO xerosync.entities AS x (entity, entity_id, tenant_id, issued, voided)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::bool[], $5::bool[])
ON CONFLICT (entity, entity_id) DO UPDATE
   SET issued = excluded.issued, voided = excluded.voided, updated_at = now()
