-- `xerosync check`: the tenant's Xero mappings as the Softbooq UI saved them, by kind: 'account'
-- (revenue category → account code), 'payment' (payment method → account code) and 'tax'
-- (tax component → tax type). Lines without a tax component are sent with TaxType NONE
-- (SPEC §1), so when any exists, NONE is checked like a mapping (key NULL).
SELECT 'account', revenue_category, account_code
  FROM integrations.xero_account_mappings WHERE tenant_id = $1::uuid
UNION ALL
SELECT 'payment', method, account_code
  FROM integrations.xero_payment_accounts WHERE tenant_id = $1::uuid
UNION ALL
SELECT 'tax', tax_component, tax_type
  FROM integrations.xero_tax_mappings WHERE tenant_id = $1::uuid
UNION ALL
SELECT 'tax', NULL, 'NONE'
 WHERE EXISTS (SELECT 1 FROM finance.invoice_lines l
                WHERE l.tenant_id = $1::uuid AND l.tax_component IS NULL)
ORDER BY 1, 2 NULLS FIRST
