-- Takes the leadership lock if it is free, without waiting (LESSONS 9). A session lock: it is
-- held for as long as this connection lives, and PostgreSQL drops it the moment the session
-- ends, whether the daemon stopped cleanly or was killed. The key is derived from the slot
-- name, so daemons sharing a slot (and only those) contend for it.
SELECT pg_try_advisory_lock(hashtext('xerosync:' || $1::text))
