-- Health and metrics count the unfinished rows of each tenant on every poll. Pending rows are
-- in 0002's outbox_pending; this index holds the in-flight and failed ones. Capture pays
-- nothing for it (a captured row is pending); the dispatcher pays one entry per send. Rows
-- that are done or cancelled, the whole history, are counted only by `xerosync status` and
-- GET /status, which scan the table.
CREATE INDEX outbox_unfinished ON xerosync.outbox (tenant_id, state) WHERE state IN ('in_flight', 'failed');
