-- Xero payments already linked to a Softbooq payment: a reconcile must not claim one of
-- them for another row (two equal payments of one invoice are two payments).
SELECT xero_id::text FROM xerosync.entities
 WHERE entity = 'payment' AND xero_id = ANY($1::uuid[])
