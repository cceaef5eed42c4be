-- Current Xero-held fields of customers: for a contact an invoice needs but that was never
-- queued, and for unchanged TOASTed values we hold no copy of.
SELECT id::text, tenant_id::text, name, coalesce(first_name, ''), coalesce(last_name, ''),
       coalesce(email, ''), coalesce(phone, ''), coalesce(tax_number, ''),
       coalesce(address_line1, ''), coalesce(address_line2, ''), coalesce(city, ''),
       coalesce(region, ''), coalesce(postal_code, ''), coalesce(rtrim(country_code), ''),
       archived_at IS NOT NULL
  FROM crm.customers WHERE id = ANY($1::uuid[])
