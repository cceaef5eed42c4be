-- Contacts as Xero returned them (a directory read, or the elements of our own writes).
-- A copy older than the one held (by UpdatedDateUTC) does not overwrite it: a refresh that
-- started before our write may answer after it.
-- $1 xero tenant id, $2 contact ids, $3 names, $4 emails (lower-cased), $5 contact numbers,
-- $6 statuses, $7 UpdatedDateUTC (NULL when unknown), $8 now, $9 MergedToContactID (NULL: none).
INSERT INTO xerosync.contact_directory AS d
       (xero_tenant_id, contact_id, name, email, contact_number, contact_status, updated_date_utc, seen_at, merged_to)
SELECT $1, id, n, e, num, st, upd, $8, mt
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $9::uuid[]) AS u(id, n, e, num, st, upd, mt)
ON CONFLICT (xero_tenant_id, contact_id) DO UPDATE
   SET name = EXCLUDED.name, email = EXCLUDED.email, contact_number = EXCLUDED.contact_number,
       contact_status = EXCLUDED.contact_status, merged_to = EXCLUDED.merged_to,
       updated_date_utc = coalesce(EXCLUDED.updated_date_utc, d.updated_date_utc), seen_at = EXCLUDED.seen_at
 WHERE d.updated_date_utc IS NULL OR EXCLUDED.updated_date_utc IS NULL
    OR EXCLUDED.updated_date_utc >= d.updated_date_utc
