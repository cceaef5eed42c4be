-- Claim a tenant's ready heads (LESSONS 7). A row is ready when it is pending and due, no
-- earlier row of its entity is unfinished, and, if it depends on another entity (an invoice
-- on its contact, a payment or void on its invoice), no earlier row of that entity is
-- unfinished either. A failed row is unfinished: it holds back its own entity and its
-- dependents, nothing else. SKIP LOCKED applies among heads only, so it cannot reorder an
-- entity. The links (our own entity's and the parent's Xero id) are read in the same pass.
-- $1 tenant, $2 now, $3 limit.
SELECT o.id, o.entity, o.entity_id::text, o.action, o.payload::text, o.attempts,
       o.key_generation, o.reconcile,
       (SELECT e.xero_id::text FROM xerosync.entities e
         WHERE e.entity = o.entity AND e.entity_id = o.entity_id) AS own_xero_id,
       (SELECT e.xero_id::text FROM xerosync.entities e
         WHERE e.entity = o.depends_entity AND e.entity_id = o.depends_entity_id) AS parent_xero_id
  FROM xerosync.outbox o
 WHERE o.tenant_id = $1
   AND o.state = 'pending'
   AND o.next_attempt_at <= $2
   AND NOT EXISTS (
         SELECT 1 FROM xerosync.outbox p
          WHERE p.entity = o.entity AND p.entity_id = o.entity_id AND p.id < o.id
            AND p.state IN ('pending', 'in_flight', 'failed'))
   AND (o.depends_entity IS NULL OR NOT EXISTS (
         SELECT 1 FROM xerosync.outbox d
          WHERE d.entity = o.depends_entity AND d.entity_id = o.depends_entity_id AND d.id < o.id
            AND d.state IN ('pending', 'in_flight', 'failed')))
 ORDER BY o.id
 LIMIT $3
   FOR UPDATE OF o SKIP LOCKED
