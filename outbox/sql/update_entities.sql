UPDATE xerosync.entities AS x
   SET issued = u.i, voided = u.v, updated_at = now()
  FROM unnest($1::text[], $2::uuid[], $3::bool[], $4::bool[]) AS u(e, id, i, v)
 WHERE x.entity = u.e AND x.entity_id = u.id
