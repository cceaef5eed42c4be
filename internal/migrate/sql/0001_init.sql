-- Schema xerosync: everything the daemon keeps of its own. Softbooq's tables are never touched.

CREATE SCHEMA IF NOT EXISTS xerosync;

-- Capture position. One row per replication slot: the end LSN of the last source transaction
-- whose outbox rows are committed. It is written in the same transaction as those rows, so it
-- is exactly what is durable (LESSONS 1). NULL lsn: the slot is being created and nothing has
-- been consumed from it yet.
CREATE TABLE xerosync.checkpoint (
    slot_name       text PRIMARY KEY,
    lsn             pg_lsn,
    commit_time     timestamptz,        -- source commit time of the last captured transaction
    heartbeat_at    timestamptz,        -- when the last heartbeat message came back through the slot
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A Softbooq tenant's link to one Xero organisation, and its token set (sealed with AEAD).
CREATE TABLE xerosync.connections (
    tenant_id               uuid PRIMARY KEY,
    state                   text NOT NULL DEFAULT 'connected'
                            CHECK (state IN ('connected', 'auth_failed', 'disconnected')),
    xero_tenant_id          text,
    xero_connection_id      text,
    org_name                text,
    token_sealed            bytea,          -- current token set
    previous_token_sealed   bytea,          -- token set before the last rotation (Xero's 30-minute grace)
    token_rotated_at        timestamptz,
    access_expires_at       timestamptz,
    refresh_obtained_at     timestamptz,    -- refresh tokens die after 60 days unused
    last_error              text,
    -- Capture queues a tenant's changes committed in [queue_from_lsn, queue_until_lsn):
    -- connect sets the start to the WAL position of the moment it connects, disconnect sets
    -- the end. Capture runs behind the database, so "connected now" is not the test; the
    -- position of the change is. NULL means unbounded.
    queue_from_lsn          pg_lsn,
    queue_until_lsn         pg_lsn,
    connected_at            timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- One Xero organisation per Softbooq tenant, and one tenant per organisation, enforced here
-- and not only by `connect`'s check (two connects racing).
CREATE UNIQUE INDEX connections_one_tenant_per_org ON xerosync.connections (xero_tenant_id)
    WHERE state IN ('connected', 'auth_failed');

-- Softbooq entities we know in Xero, and what was queued of invoices.
--   xero_id: the ContactID / InvoiceID / PaymentID once known (the link).
--   invoice: issued / voided say whether an issue / void row has been queued.
-- (What a contact was last queued with is the payload_hash of its last outbox row.)
CREATE TABLE xerosync.entities (
    entity          text NOT NULL CHECK (entity IN ('contact', 'invoice', 'payment')),
    entity_id       uuid NOT NULL,
    tenant_id       uuid NOT NULL,
    issued          boolean NOT NULL DEFAULT false,
    voided          boolean NOT NULL DEFAULT false,
    xero_id         uuid,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, entity_id)
);

-- The transactional outbox: one row per thing to push, in capture (commit) order.
CREATE TABLE xerosync.outbox (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    entity              text NOT NULL CHECK (entity IN ('contact', 'invoice', 'payment')),
    entity_id           uuid NOT NULL,
    action              text NOT NULL CHECK (action IN ('upsert', 'issue', 'void', 'pay')),
    state               text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'cancelled')),
    -- The entity this row waits for (an invoice's contact, a payment's or void's invoice).
    depends_entity      text CHECK (depends_entity IN ('contact', 'invoice')),
    depends_entity_id   uuid,
    -- The Softbooq snapshot to push, captured at commit. json, not jsonb: it is written once
    -- per change and read whole by the dispatcher, so jsonb's parse on insert buys nothing.
    payload             json NOT NULL,
    payload_hash        bytea,              -- contact rows: hash of the Xero-held fields
    -- Where the change came from: (commit_lsn, commit_idx) is unique, so a re-sent source
    -- transaction can never queue twice (LESSONS 2). Backfilled rows have source 'backfill'.
    source              text NOT NULL DEFAULT 'wal' CHECK (source IN ('wal', 'backfill')),
    commit_lsn          pg_lsn,
    commit_idx          integer,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_attempt_at     timestamptz,
    last_error_code     text,
    last_error          text,
    errors              jsonb NOT NULL DEFAULT '[]',   -- one entry per failed attempt
    idempotency_key     text,
    xero_id             uuid,
    retry_requested     boolean NOT NULL DEFAULT false,
    cancel_requested    boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (commit_lsn, commit_idx)
);
-- Per entity, in order: the last queued contact fields (capture), and "is an earlier row of
-- this entity unfinished?" (the dispatcher's claim). An entity has few rows, so one index
-- over all of them serves both; every index here is paid for by each captured change.
CREATE INDEX outbox_entity ON xerosync.outbox (entity_id, id);
CREATE INDEX outbox_flags ON xerosync.outbox (id) WHERE retry_requested OR cancel_requested;
