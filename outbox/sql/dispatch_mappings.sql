-- A tenant's mappings (SPEC §1), small tables read whole once per claim.
SELECT 'account', revenue_category, account_code FROM integrations.xero_account_mappings WHERE tenant_id = $1
UNION ALL
SELECT 'tax', tax_component, tax_type FROM integrations.xero_tax_mappings WHERE tenant_id = $1
UNION ALL
SELECT 'payment', method, account_code FROM integrations.xero_payment_accounts WHERE tenant_id = $1
