-- Queue statistics per tenant and state, and the age of the oldest row not yet done.
SELECT tenant_id::text, state, count(*),
       min(created_at) FILTER (WHERE state IN ('pending', 'in_flight'))
  FROM xerosync.outbox
 GROUP BY tenant_id, state
 ORDER BY tenant_id, state
