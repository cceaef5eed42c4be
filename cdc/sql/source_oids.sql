-- The OIDs of the source tables that exist, so that a relation message of one under another
-- name is recognised as that table renamed (the publication follows a table's OID, not its name).
SELECT t, to_regclass(t)::oid::bigint FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL
