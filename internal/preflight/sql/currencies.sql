-- `xerosync check`: the currencies of the tenant's invoices, drafts included, with how many use each.
SELECT upper(rtrim(currency)), count(*)
  FROM finance.invoices
 WHERE tenant_id = $1::uuid AND status <> 'void'
 GROUP BY 1
 ORDER BY 1
