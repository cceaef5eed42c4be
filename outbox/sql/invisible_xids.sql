-- Which of the source transactions $1 (32-bit xids, as pgoutput's Begin gives them) this
-- statement's snapshot does not see yet. A commit is decoded once it is flushed, but it is
-- visible to other sessions only when its backend leaves the proc array (after a synchronous
-- standby answered, for one). pg_xact_status would already say 'committed' then (it reads the
-- commit log): only the snapshot tells. The 64-bit xid takes the epoch of the snapshot's
-- xmax, one less when that would put it at or after xmax (the counter wrapped since).
SELECT x
  FROM (SELECT pg_current_snapshot() AS snap) s
 CROSS JOIN LATERAL (SELECT pg_snapshot_xmax(s.snap)::text::bigint AS next) n
 CROSS JOIN unnest($1::bigint[]) AS x
 CROSS JOIN LATERAL (SELECT ((n.next >> 32) << 32) | x AS fx) f
 WHERE NOT pg_visible_in_snapshot(
         (CASE WHEN f.fx >= n.next THEN f.fx - 4294967296 ELSE f.fx END)::text::xid8, s.snap)
