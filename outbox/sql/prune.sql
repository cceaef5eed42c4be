-- Retention (outbox.retention): delete up to $2 finished rows (done or cancelled) last
-- changed before $1. Kept whatever their age, because something still reads them:
--   * the newest row of each contact: capture compares a customer's change with its hash
--     (last_contact_hashes.sql), so pruning it would queue one needless upsert;
--   * the rows of an entity something unfinished depends on or belongs to (an invoice whose
--     payment failed, say): xerosync.failed shows their number and name.
-- Whether a record is in Xero is decided from xerosync.entities, never from these rows, so
-- nothing pruned is pushed again (backfill and the dispatcher both read the entities).
WITH unfinished AS (
    SELECT entity_id AS id FROM xerosync.outbox WHERE state IN ('pending', 'in_flight', 'failed')
    UNION
    SELECT depends_entity_id FROM xerosync.outbox
     WHERE state IN ('pending', 'in_flight', 'failed') AND depends_entity_id IS NOT NULL
)
DELETE FROM xerosync.outbox
 WHERE id IN (
    SELECT o.id FROM xerosync.outbox o
     WHERE o.state IN ('done', 'cancelled') AND o.updated_at < $1
       AND o.entity_id NOT IN (SELECT id FROM unfinished)
       AND NOT (o.entity = 'contact' AND NOT EXISTS (
                SELECT 1 FROM xerosync.outbox l WHERE l.entity_id = o.entity_id AND l.id > o.id))
     ORDER BY o.id
     LIMIT $2)
