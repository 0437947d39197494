CREATE OR REPLACE FUNCTION m10_recovery.dead_letter_outbox(
    p_outbox_id bigint,
    p_reason    text,
    p_now       timestamptz DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_moved bigint;
BEGIN
    IF p_outbox_id IS NULL OR p_reason IS NULL OR p_reason !~ '[^[:space:]]' THEN
        RAISE EXCEPTION 'p_outbox_id and a non-blank p_reason are required' USING ERRCODE = '22023';
    END IF;
    -- Delete and insert in one statement: the event is in exactly one of the two tables.
    WITH gone AS (
        DELETE FROM m10_recovery.outbox o
         WHERE o.id = p_outbox_id AND o.processed_at IS NULL
        RETURNING o.*
    )
    INSERT INTO m10_recovery.outbox_dead_letter
           (id, event_id, event_type, aggregate_type, aggregate_id, payload, retry_count, reason,
            last_error, processor_id, created_at, dead_at)
    SELECT g.id, g.event_id, g.event_type, g.aggregate_type, g.aggregate_id, g.payload, g.retry_count,
           left(p_reason, 8192), g.last_error, g.claimed_by, g.created_at, coalesce(p_now, now())
      FROM gone g
    RETURNING id INTO v_moved;
    IF v_moved IS NOT NULL THEN
        RETURN true;
    END IF;
    IF EXISTS (SELECT 1 FROM m10_recovery.outbox WHERE id = p_outbox_id)
       OR EXISTS (SELECT 1 FROM m10_recovery.outbox_dead_letter WHERE id = p_outbox_id) THEN
        RETURN false;  -- already processed, or already dead
    END IF;
    RAISE EXCEPTION 'outbox event % does not exist', p_outbox_id USING ERRCODE = 'P0002';
END;
$$;

COMMENT ON FUNCTION m10_recovery.dead_letter_outbox(bigint, text, timestamptz) IS
'Move an unprocessed outbox event to outbox_dead_letter with p_reason (kept to 8192 characters),
keeping its id, event_id, retry_count and last_error, so replay_outbox can put the same event back.
Used by fail_outbox and claim_outbox; an operator may call it to give up on an event. Returns true
when moved, false when the event was already processed or dead. Unknown id: P0002.';
