CREATE OR REPLACE FUNCTION m10_recovery.complete_outbox(
    p_outbox_ids   bigint[],
    p_processor_id text,
    p_now          timestamptz DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_count integer;
BEGIN
    IF p_outbox_ids IS NULL OR p_processor_id IS NULL THEN
        RAISE EXCEPTION 'p_outbox_ids and p_processor_id are required' USING ERRCODE = '22023';
    END IF;
    -- Only the holder: a processor whose lease was taken over must not mark the new holder's
    -- delivery done (the new holder delivers again; the receiver dedups by event_id).
    UPDATE m10_recovery.outbox o
       SET processed_at = v_now, next_retry_at = v_now, updated_at = v_now
     WHERE o.id = ANY (p_outbox_ids)
       AND o.processed_at IS NULL
       AND o.claimed_by = p_processor_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION m10_recovery.complete_outbox(bigint[], text, timestamptz) IS
'Mark the events in p_outbox_ids delivered (processed_at = now) in one statement. Only events still
held by p_processor_id are marked: an event already processed, dead-lettered or taken over by
another processor after this one''s lease expired is left alone. Returns how many were marked.
claimed_by keeps the processor that delivered the event.';
