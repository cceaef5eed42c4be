-- The dispatcher's state on top of 0001's outbox (package outbox, dispatcher.go).

-- reconcile: the row's last attempt has an unknown outcome (a crash left it in_flight, a
-- timeout, a lost response, a 5xx on a write). It is looked up in Xero before it is sent
-- again, because Xero keeps an Idempotency-Key for only 6 minutes (XERO.md §0 item 8).
-- key_generation: part of the Idempotency-Key. It moves on every unknown outcome, so the
-- send after a reconcile that found nothing goes under a new key (Xero caches a 5xx under
-- the old one), while a plain retry of the same request (429, offline) reuses its key.
ALTER TABLE xerosync.outbox
    ADD COLUMN reconcile      boolean NOT NULL DEFAULT false,
    ADD COLUMN key_generation integer NOT NULL DEFAULT 0;

-- The claim: a tenant's pending rows in id order (the dispatcher claims heads, oldest first).
CREATE INDEX outbox_pending ON xerosync.outbox (tenant_id, id) WHERE state = 'pending';
-- "Is there an earlier unfinished row of this entity?", asked per candidate head, for its
-- own entity and for the entity it depends on, is served by 0001's outbox_entity.
-- The dispatcher's timer: the next time a backed-off row becomes due. Only backed-off rows
-- are in it (a captured row's next_attempt_at is its created_at), so capture pays nothing.
CREATE INDEX outbox_next_attempt ON xerosync.outbox (tenant_id, next_attempt_at)
    WHERE state = 'pending' AND next_attempt_at > created_at;

-- Failed rows as an operator reads them (SPEC §3). number: the Softbooq invoice number (of
-- the invoice, or of the invoice a payment or void is for); name: the customer's name (of
-- the contact, or of an invoice's customer, as last queued). Everything comes from our own
-- schema, never from Softbooq's tables: a view over those would block Softbooq's own
-- migrations of the columns it reads.
CREATE VIEW xerosync.failed AS
SELECT o.id,
       o.tenant_id,
       c.org_name,
       o.entity,
       o.entity_id,
       o.action,
       CASE
           WHEN o.entity = 'invoice' THEN o.payload->>'number'
           WHEN o.entity = 'payment' THEN (
               SELECT i.payload->>'number' FROM xerosync.outbox i
                WHERE i.entity = 'invoice' AND i.entity_id = o.depends_entity_id AND i.action = 'issue'
                ORDER BY i.id DESC LIMIT 1)
       END AS number,
       CASE
           WHEN o.entity = 'contact' THEN o.payload->>'name'
           WHEN o.entity = 'invoice' THEN (
               SELECT k.payload->>'name' FROM xerosync.outbox k
                WHERE k.entity = 'contact' AND k.entity_id = (o.payload->>'customer_id')::uuid
                ORDER BY k.id DESC LIMIT 1)
       END AS name,
       o.last_error_code,
       o.last_error,
       o.attempts,
       o.retry_requested,
       o.cancel_requested,
       o.created_at,
       o.updated_at
  FROM xerosync.outbox o
  LEFT JOIN xerosync.connections c ON c.tenant_id = o.tenant_id
 WHERE o.state = 'failed';
