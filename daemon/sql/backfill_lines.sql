-- `backfill`: the lines of the claimed invoices (an issued invoice's lines never change).
SELECT invoice_id::text, position, description, quantity::text, unit_price::text,
       discount_rate::text, revenue_category, tax_component, item_code
  FROM finance.invoice_lines
 WHERE invoice_id = ANY($1::uuid[])
 ORDER BY invoice_id, position
