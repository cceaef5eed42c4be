-- The saved Xero budgets (budget.go), restored before the dispatcher's first call.
SELECT xero_tenant_id, coalesce(minute_remaining, -1), minute_reset_at,
       coalesce(day_remaining, -1), day_reset_at, day_reset_exact, coalesce(day_limit, 0), saved_at,
       pace_tokens, pace_day_seen
  FROM xerosync.xero_budget
