-- The tables of a publication, and whether it publishes the operations we need.
SELECT p.pubinsert AND p.pubupdate AND p.pubdelete,
       coalesce(array_agg(t.schemaname || '.' || t.tablename) FILTER (WHERE t.tablename IS NOT NULL), '{}')
  FROM pg_publication p
  LEFT JOIN pg_publication_tables t ON t.pubname = p.pubname
 WHERE p.pubname = $1
 GROUP BY p.pubinsert, p.pubupdate, p.pubdelete
