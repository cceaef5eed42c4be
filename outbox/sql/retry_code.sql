-- RetryByCode (`xerosync retry --tenant ID --code CODE`): flags every row of the tenant whose last error has
-- that code, for instance after enabling a currency in Xero (SPEC §3).
UPDATE xerosync.outbox
   SET retry_requested = true, updated_at = now()
 WHERE tenant_id = $1::uuid AND last_error_code = $2 AND state IN ('failed', 'pending')
