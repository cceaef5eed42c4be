-- Claim a tenant's ready heads (LESSONS 7). A row is ready when it is pending and due, no
-- earlier row of its entity is unfinished, and, if it depends on another entity (an invoice
-- on its contact, a payment or void on its invoice), no earlier row of that entity is
-- unfinished either. A failed row is unfinished: it holds back its own entity and its
-- dependents, nothing else. SKIP LOCKED applies among heads only, so it cannot reorder an
-- entity. The links (our own entity's and the parent's Xero id) are read in the same pass.
-- Live rows are claimed before backfill, each in id order, when the pace allows them ($4 live,
-- $5 backfill; pace.go): one pass, so an idle lane's wake-up costs one scan. Rows resync
-- queued are live changes whose WAL was lost: they are claimed as live.
-- $1 tenant, $2 now, $3 limit, $4 live allowed, $5 backfill allowed.
SELECT o.id, o.entity, o.entity_id::text, o.action,
       -- Folding (SPEC §1): a contact head is sent with the newest pending snapshot of that
       -- contact, and the later pending upserts it stands for are done with it. A snapshot
       -- is the whole contact, so the newest one is all Xero needs; and an operator's fix in
       -- Softbooq reaches Xero even when older, refused snapshots are still queued.
       coalesce(CASE WHEN o.entity = 'contact' THEN (
           SELECT l.payload::text FROM xerosync.outbox l
            WHERE l.entity = 'contact' AND l.entity_id = o.entity_id AND l.id > o.id AND l.state = 'pending'
            ORDER BY l.id DESC LIMIT 1) END, o.payload::text) AS payload,
       CASE WHEN o.entity = 'contact' THEN ARRAY(
           SELECT l.id FROM xerosync.outbox l
            WHERE l.entity = 'contact' AND l.entity_id = o.entity_id AND l.id > o.id AND l.state = 'pending'
            ORDER BY l.id) END AS folded,
       o.attempts, o.key_generation, o.reconcile, o.last_error_code,
       (SELECT e.xero_id::text FROM xerosync.entities e
         WHERE e.entity = o.entity AND e.entity_id = o.entity_id) AS own_xero_id,
       (SELECT e.xero_id::text FROM xerosync.entities e
         WHERE e.entity = o.depends_entity AND e.entity_id = o.depends_entity_id) AS parent_xero_id,
       o.source = 'backfill' AS backfill
  FROM xerosync.outbox o
 WHERE o.tenant_id = $1
   AND o.state = 'pending'
   AND CASE WHEN o.source = 'backfill' THEN $5::boolean ELSE $4::boolean END
   AND o.next_attempt_at <= $2
   AND NOT EXISTS (
         SELECT 1 FROM xerosync.outbox p
          WHERE p.entity = o.entity AND p.entity_id = o.entity_id AND p.id < o.id
            AND p.state IN ('pending', 'in_flight', 'failed'))
   AND (o.depends_entity IS NULL OR (
         NOT EXISTS (
           SELECT 1 FROM xerosync.outbox d
            WHERE d.entity = o.depends_entity AND d.entity_id = o.depends_entity_id AND d.id < o.id
              AND d.state IN ('pending', 'in_flight', 'failed'))
         -- A parent not yet in Xero whose push is still to come (queued after this row, say
         -- an operator's fix after a cancel) is waited for, not failed for.
         AND (EXISTS (
                SELECT 1 FROM xerosync.entities e
                 WHERE e.entity = o.depends_entity AND e.entity_id = o.depends_entity_id AND e.xero_id IS NOT NULL)
              OR NOT EXISTS (
                SELECT 1 FROM xerosync.outbox d
                 WHERE d.entity = o.depends_entity AND d.entity_id = o.depends_entity_id
                   AND d.state IN ('pending', 'in_flight', 'failed')))))
 ORDER BY o.source = 'backfill', o.id
 LIMIT $3
   FOR UPDATE OF o SKIP LOCKED
