-- Xero's rate budgets as the dispatcher last knew them (package outbox, budget.go; issue #12),
-- so that a process started after a kill -9 does not spend a minute or a day that the one
-- before it already spent, and so that `xerosync status`, run apart from the daemon, can say
-- what is left. One row per Xero organisation, and one with xero_tenant_id '' for the app's
-- minute across all organisations. Counts are conservative: the daemon saves what Xero had
-- left less the calls in flight and the calls it may still make before its next save, and
-- it makes no more than that (xero/budgetstate.go). NULL: unknown.
CREATE TABLE xerosync.xero_budget (
    xero_tenant_id   text PRIMARY KEY,
    minute_remaining integer,
    minute_reset_at  timestamptz,
    day_remaining    integer,
    day_reset_at     timestamptz,
    -- The day's reset came from Xero's Retry-After; otherwise it is our estimate, which can
    -- be up to a day late, and an exhausted day is probed rather than waited out.
    day_reset_exact  boolean NOT NULL DEFAULT false,
    day_limit        integer,         -- the day's size as far as seen (1,000 on Starter)
    -- Why the organisation's lane waits, when it waits on budget (pacing, backfill held
    -- back for live rows, the day spent); NULL when it does not.
    waiting          text,
    -- The lane's pacing bucket (outbox/pace.go) and the day count it was last charged at,
    -- so that a restart neither refills it (a restart every hour would spend a busy day on
    -- small batches) nor empties it (a burst after a restart would crawl).
    pace_tokens      double precision,
    pace_day_seen    integer,
    saved_at         timestamptz NOT NULL
);
