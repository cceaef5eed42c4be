-- `resync`: drops an invalidated slot (or, with --force, a healthy one) before making a new
-- one. It fails if a process holds the slot meanwhile: nothing is dropped under a consumer.
SELECT pg_drop_replication_slot($1)
