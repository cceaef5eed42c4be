-- An auth failure is a connection state, not a row failure (SPEC §3). Only a connection that
-- is still the connected one is marked: a reconnect (or a disconnect) meanwhile wins. The
-- refresh holds the row lock and has seen it connected, so there the predicate always holds;
-- the dispatcher marks without the lock, after a call Xero refused.
UPDATE xerosync.connections
   SET state = 'auth_failed', last_error = $2, updated_at = $3
 WHERE tenant_id = $1 AND state = 'connected'
