-- The directory's contacts that may link a customer: those with one of the customers' emails
-- (lower-cased), contact numbers (customer ids) or names (lower-cased; a name says who holds
-- it, never links).
-- $1 xero tenant id, $2 emails, $3 contact numbers, $4 names.
SELECT contact_id::text, name, email, contact_number, contact_status
  FROM xerosync.contact_directory
 WHERE xero_tenant_id = $1
   AND ((email <> '' AND email = ANY($2::text[]))
     OR (contact_number <> '' AND contact_number = ANY($3::text[]))
     OR lower(name) = ANY($4::text[]))
