INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, depends_entity,
                             depends_entity_id, payload, source, commit_lsn, commit_idx)
SELECT t::uuid, e, id::uuid, a, de, did::uuid, p::jsonb, $8, lsn::pg_lsn, idx
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
              $9::text[], $10::int[]) AS r(t, e, id, a, de, did, p, lsn, idx)
