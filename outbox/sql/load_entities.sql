SELECT entity, entity_id::text, issued, voided
  FROM xerosync.entities
 WHERE (entity = 'contact' AND entity_id = ANY($1::uuid[]))
    OR (entity = 'invoice' AND entity_id = ANY($2::uuid[]))
