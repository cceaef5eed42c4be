-- `connect`: the Softbooq tenant (it must exist: linking an unknown id would queue nothing
-- and confuse every later command), its current link if any, and whether anything of it was
-- ever queued or linked (a tenant with Xero links may not move to another organisation).
SELECT t.name,
       coalesce(c.state, ''),
       coalesce(c.xero_tenant_id, ''),
       coalesce(c.org_name, ''),
       EXISTS (SELECT 1 FROM xerosync.entities e WHERE e.tenant_id = t.id)
           OR EXISTS (SELECT 1 FROM xerosync.outbox o WHERE o.tenant_id = t.id),
       (SELECT count(*) FROM xerosync.outbox o
         WHERE o.tenant_id = t.id AND o.state IN ('pending', 'in_flight', 'failed'))
  FROM core.tenants t
  LEFT JOIN xerosync.connections c ON c.tenant_id = t.id
 WHERE t.id = $1::uuid
