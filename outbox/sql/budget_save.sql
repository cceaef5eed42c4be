-- Save the Xero budgets (budget.go): one row per organisation and '' for the app, in one
-- statement a second. -1 and the zero time stand for unknown and are stored as NULL.
-- $1 ids, $2 minute remaining, $3 minute resets, $4 day remaining, $5 day resets,
-- $6 day reset exact, $7 day limits, $8 waiting reasons ('' for none), $9 saved at,
-- $10 pacing tokens, $11 the day count they were charged at (-1: no pacer).
INSERT INTO xerosync.xero_budget AS b
       (xero_tenant_id, minute_remaining, minute_reset_at, day_remaining, day_reset_at,
        day_reset_exact, day_limit, waiting, saved_at, pace_tokens, pace_day_seen)
SELECT id, nullif(mr, -1), nullif(mt, '0001-01-01 00:00:00+00'), nullif(dr, -1),
       nullif(dt, '0001-01-01 00:00:00+00'), de, nullif(dl, 0), nullif(w, ''), $9,
       CASE WHEN ps >= 0 THEN pt END, nullif(ps, -1)
  FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::timestamptz[],
              $6::boolean[], $7::int[], $8::text[], $10::float8[], $11::int[])
       AS u(id, mr, mt, dr, dt, de, dl, w, pt, ps)
    ON CONFLICT (xero_tenant_id) DO UPDATE
   SET minute_remaining = excluded.minute_remaining, minute_reset_at = excluded.minute_reset_at,
       day_remaining = excluded.day_remaining, day_reset_at = excluded.day_reset_at,
       day_reset_exact = excluded.day_reset_exact, day_limit = excluded.day_limit,
       waiting = excluded.waiting, saved_at = excluded.saved_at,
       -- A tenant without a lane now keeps its last bucket for the next one.
       pace_tokens = coalesce(excluded.pace_tokens, b.pace_tokens),
       pace_day_seen = coalesce(excluded.pace_day_seen, b.pace_day_seen)
