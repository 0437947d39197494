CREATE OR REPLACE FUNCTION m10_recovery.dead_letter_work(
    p_work_id bigint,
    p_reason  text,
    p_now     timestamptz DEFAULT NULL
) RETURNS TABLE (
    state      text,
    last_error text
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := coalesce(p_now, now());
    v_item m10_recovery.work_queue%ROWTYPE;
BEGIN
    IF p_work_id IS NULL OR p_reason IS NULL OR p_reason !~ '[^[:space:]]' THEN
        RAISE EXCEPTION 'p_work_id and a non-empty p_reason are required' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO v_item FROM m10_recovery.work_queue w WHERE w.id = p_work_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'completed'::text, NULL::text;
        RETURN;
    END IF;
    IF v_item.state = 'dead' THEN
        RETURN QUERY SELECT 'dead'::text, v_item.error_message;
        RETURN;
    END IF;
    IF v_item.state = 'claimed' AND v_item.available_at > v_now THEN
        -- A worker holds a running lease: the item is being worked on, not poisoned.
        RETURN QUERY SELECT 'claimed'::text, v_item.error_message;
        RETURN;
    END IF;
    UPDATE m10_recovery.work_queue w
       SET state = 'dead', processed_at = v_now,
           error_message = left(format('dead-lettered: %s', p_reason)
                                || coalesce('; last error: ' || v_item.error_message, ''), 8192)
     WHERE w.id = p_work_id;
    RETURN QUERY SELECT 'dead'::text, v_item.error_message;
END;
$$;

COMMENT ON FUNCTION m10_recovery.dead_letter_work(bigint, text, timestamptz) IS
'Mark a work item dead-lettered: a pending item, or one whose lease expired, goes to the dead state
with error_message "dead-lettered: <p_reason>; last error: <its previous error>". Returns the state
afterwards and the last error before: dead (also when it already was), completed (the item is gone:
nothing to dead-letter) or claimed (a worker holds a running lease: left alone). requeue_dead_work or
a stream replay brings it back.';
