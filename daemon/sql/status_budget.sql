-- Xero's budgets per organisation as the dispatcher last saved them (outbox, budget.go): the
-- counts are conservative, and the reason a lane waits is shown only while the daemon keeps
-- saving (it saves every second), so a stopped daemon's last reason is not shown as current.
SELECT xero_tenant_id, minute_remaining, minute_reset_at, day_remaining, day_reset_at, day_limit,
       CASE WHEN saved_at > now() - interval '10 seconds' THEN coalesce(waiting, '') ELSE '' END,
       saved_at
  FROM xerosync.xero_budget
 WHERE xero_tenant_id <> ''
