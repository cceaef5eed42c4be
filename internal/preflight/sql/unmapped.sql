-- `xerosync check`: values the tenant's invoices and payments use that have no mapping, with how many
-- rows use them. Each would fail its outbox row with MappingMissing before any call to Xero.
-- Drafts count: they are what will be issued next.
SELECT 'account', l.revenue_category, count(*)
  FROM finance.invoice_lines l
 WHERE l.tenant_id = $1::uuid
   AND NOT EXISTS (SELECT 1 FROM integrations.xero_account_mappings m
                    WHERE m.tenant_id = l.tenant_id AND m.revenue_category = l.revenue_category)
 GROUP BY 2
UNION ALL
SELECT 'tax', l.tax_component, count(*)
  FROM finance.invoice_lines l
 WHERE l.tenant_id = $1::uuid AND l.tax_component IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM integrations.xero_tax_mappings m
                    WHERE m.tenant_id = l.tenant_id AND m.tax_component = l.tax_component)
 GROUP BY 2
UNION ALL
SELECT 'payment', p.method, count(*)
  FROM finance.payments p
 WHERE p.tenant_id = $1::uuid
   AND NOT EXISTS (SELECT 1 FROM integrations.xero_payment_accounts m
                    WHERE m.tenant_id = p.tenant_id AND m.method = p.method)
 GROUP BY 2
ORDER BY 1, 2
