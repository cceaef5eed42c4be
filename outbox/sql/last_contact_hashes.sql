-- The hash of the fields each contact was last queued with (LESSONS 6: the WAL carries no old
-- values, so a new tuple is compared with what we last sent). Served by outbox_entity.
SELECT DISTINCT ON (entity_id) entity_id::text, payload_hash
  FROM xerosync.outbox
 WHERE entity = 'contact' AND entity_id = ANY($1::uuid[]) AND payload_hash IS NOT NULL
 ORDER BY entity_id, id DESC
