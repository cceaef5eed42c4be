SELECT state, coalesce(xero_tenant_id, ''), coalesce(xero_connection_id, ''),
       coalesce(org_name, ''), coalesce(last_error, '')
FROM xerosync.connections
WHERE tenant_id = $1
