-- Startup: rows a previous run left in_flight may or may not have reached Xero. They are not
-- sent blindly again (LESSONS 8): they go back to pending marked for reconcile, with a new key
-- generation, and are looked up in Xero first. The state predicate keeps this from touching a
-- row that another process finished meanwhile (river#1302).
UPDATE xerosync.outbox
   SET state = 'pending', reconcile = true, key_generation = key_generation + 1,
       next_attempt_at = $1, updated_at = $1
 WHERE state = 'in_flight'
