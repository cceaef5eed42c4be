-- Invoice headers, for values the WAL marked as unchanged TOAST.
SELECT id::text, number, currency, issue_date::text, due_date::text, reference, amounts_tax
  FROM finance.invoices WHERE id = ANY($1::uuid[])
