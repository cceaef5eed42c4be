-- Which other Softbooq customer of the tenant was last pushed with this contact name, and
-- its Xero contact: to say in a ContactNameInUse error who holds the name.
SELECT entity_id::text, xero_id::text FROM (
    SELECT DISTINCT ON (o.entity_id) o.entity_id, e.xero_id, o.payload->>'name' AS name
      FROM xerosync.outbox o
      JOIN xerosync.entities e ON e.entity = 'contact' AND e.entity_id = o.entity_id
     WHERE o.tenant_id = $1 AND o.entity = 'contact' AND o.entity_id <> $2 AND o.state = 'done'
       AND e.xero_id IS NOT NULL AND lower(o.payload->>'name') = lower($3)
     ORDER BY o.entity_id, o.id DESC
) t
LIMIT 1
