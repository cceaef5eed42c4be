-- The directory's contacts that may link a customer: those with one of the customers' emails
-- (lower-cased), contact numbers (customer ids) or names (lower-cased; a name says who holds
-- it, never links), and the contacts these were merged into in Xero, followed to the end of
-- a chain of merges (UNION stops a cycle).
-- $1 xero tenant id, $2 emails, $3 contact numbers, $4 names.
WITH RECURSIVE hit (contact_id, merged_to) AS (
    SELECT contact_id, merged_to
      FROM xerosync.contact_directory
     WHERE xero_tenant_id = $1
       AND ((email <> '' AND email = ANY($2::text[]))
         OR (contact_number <> '' AND contact_number = ANY($3::text[]))
         OR lower(name) = ANY($4::text[]))
    UNION
    SELECT d.contact_id, d.merged_to
      FROM xerosync.contact_directory d
      JOIN hit h ON d.xero_tenant_id = $1 AND d.contact_id = h.merged_to
)
SELECT d.contact_id::text, d.name, d.email, d.contact_number, d.contact_status, coalesce(d.merged_to::text, '')
  FROM xerosync.contact_directory d
 WHERE d.xero_tenant_id = $1 AND d.contact_id IN (SELECT contact_id FROM hit)
