-- Rows queued by `xerosync resync` (a lost slot recovered from an exported snapshot) say so,
-- apart from capture's and backfill's: an operator reading the outbox after a recovery sees
-- what the recovery queued.
ALTER TABLE xerosync.outbox
    DROP CONSTRAINT outbox_source_check,
    ADD CONSTRAINT outbox_source_check CHECK (source IN ('wal', 'backfill', 'resync'));
