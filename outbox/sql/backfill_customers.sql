-- `backfill`: the customers of the claimed invoices whose contact was never queued nor
-- linked, as the enqueuer decides it (a contact row with a payload hash in the outbox, or an
-- entities row): their upsert goes before the invoice.
SELECT c.id::text, c.name, coalesce(c.first_name, ''), coalesce(c.last_name, ''),
       coalesce(c.email, ''), coalesce(c.phone, ''), coalesce(c.tax_number, ''),
       coalesce(c.address_line1, ''), coalesce(c.address_line2, ''), coalesce(c.city, ''),
       coalesce(c.region, ''), coalesce(c.postal_code, ''), coalesce(rtrim(c.country_code), ''),
       c.archived_at IS NOT NULL
  FROM crm.customers c
 WHERE c.id = ANY($1::uuid[])
   AND NOT EXISTS (SELECT 1 FROM xerosync.entities e WHERE e.entity = 'contact' AND e.entity_id = c.id)
   AND NOT EXISTS (SELECT 1 FROM xerosync.outbox o
                    WHERE o.entity = 'contact' AND o.entity_id = c.id AND o.payload_hash IS NOT NULL)
