-- A done row is final (issue 10, defect 5). Its record is in Xero, and Xero keeps an
-- Idempotency-Key for only 6 minutes, so a done row set back to pending by hand would be sent
-- again as a new request: a second payment. The dispatcher also refuses to send an issue or
-- a payment whose entity already has a Xero id (reconcile.go), but an operator at a psql
-- prompt deserves to be told at once, by the UPDATE itself, not to find out later.
-- Operators change retry_requested and cancel_requested; the daemon changes state.
CREATE FUNCTION xerosync.outbox_done_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'xerosync.outbox row % is done: it is in Xero (xero_id %), and setting it to % would push it again', OLD.id, coalesce(OLD.xero_id::text, 'none'), NEW.state
        USING ERRCODE = 'check_violation',
              HINT = 'To change the record in Xero, change it in Softbooq (a change to a Xero-held field queues a new row); see README, "Changing the outbox by hand".';
END
$$;

CREATE TRIGGER outbox_done_is_final
    BEFORE UPDATE OF state ON xerosync.outbox
    FOR EACH ROW WHEN (OLD.state = 'done' AND NEW.state IS DISTINCT FROM 'done')
    EXECUTE FUNCTION xerosync.outbox_done_is_final();
