INSERT INTO xerosync.entities AS x (entity, entity_id, tenant_id, fields, issued, voided)
SELECT e, id::uuid, t::uuid, f::jsonb, i, v
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bool[]) AS r(e, id, t, f, i, v)
ON CONFLICT (entity, entity_id) DO UPDATE
   SET fields = excluded.fields, issued = excluded.issued, voided = excluded.voided, updated_at = now()
