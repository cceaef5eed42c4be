-- The lines of invoices being issued. An issued invoice's lines never change afterwards, so
-- reading them in the capture transaction gives the snapshot that was issued.
SELECT invoice_id::text, position, description, quantity::text, unit_price::text,
       discount_rate::text, revenue_category, tax_component, item_code
  FROM finance.invoice_lines
 WHERE invoice_id = ANY($1::uuid[])
 ORDER BY invoice_id, position
