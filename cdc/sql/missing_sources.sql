-- Source tables that do not exist (a Softbooq migration renamed or dropped one), each with the
-- tables now in any publication that are not source tables: a renamed table keeps its place
-- in a publication, so that is where it went.
SELECT t,
       coalesce((SELECT string_agg(DISTINCT p.schemaname || '.' || p.tablename, ', ')
                   FROM pg_publication_tables p
                  WHERE p.schemaname || '.' || p.tablename <> ALL ($1::text[])), '')
  FROM unnest($1::text[]) AS t
 WHERE to_regclass(t) IS NULL
