-- Source tables the role cannot read.
SELECT t FROM unnest($1::text[]) AS t WHERE NOT has_table_privilege(t, 'SELECT')
