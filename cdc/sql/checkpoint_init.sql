-- Marks a slot as being created by us, before it exists, so a crash in between is recognised.
INSERT INTO xerosync.checkpoint (slot_name, lsn) VALUES ($1, NULL) ON CONFLICT (slot_name) DO NOTHING
