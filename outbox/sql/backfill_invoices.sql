-- `backfill`: the headers of the claimed invoices, in issue-date order.
SELECT id::text, customer_id::text, number, status, rtrim(currency), issue_date::text,
       due_date::text, reference, amounts_tax
  FROM finance.invoices
 WHERE id = ANY($1::uuid[])
 ORDER BY coalesce(issue_date, issued_at::date), id
