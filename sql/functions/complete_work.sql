CREATE OR REPLACE FUNCTION m10_recovery.complete_work(
    p_work_id          bigint,
    p_success          boolean,
    p_error            text             DEFAULT NULL,
    p_worker_id        text             DEFAULT NULL,
    p_retry_in_seconds double precision DEFAULT NULL,
    p_now              timestamptz      DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_item  m10_recovery.work_queue%ROWTYPE;
    v_error text;
BEGIN
    IF p_work_id IS NULL OR p_success IS NULL THEN
        RAISE EXCEPTION 'p_work_id and p_success are required' USING ERRCODE = '22023';
    END IF;
    IF p_retry_in_seconds IS NOT NULL AND NOT (p_retry_in_seconds BETWEEN 0 AND 31536000) THEN
        RAISE EXCEPTION 'p_retry_in_seconds must be between 0 and 31536000, got %', p_retry_in_seconds
            USING ERRCODE = '22023';
    END IF;

    SELECT * INTO v_item FROM m10_recovery.work_queue WHERE id = p_work_id FOR UPDATE;
    IF NOT FOUND THEN
        -- Completed items are deleted; ids are never reused, so an id the sequence has issued
        -- belongs to an item that was completed: a repeated completion is a no-op, not an error.
        IF p_work_id BETWEEN 1 AND coalesce(pg_sequence_last_value('m10_recovery.work_queue_id_seq'), 0) THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'work item % does not exist', p_work_id USING ERRCODE = 'P0002';
    END IF;
    -- A worker whose lease was taken over, or a repeated outcome, must not overwrite anything.
    IF v_item.state = 'dead'
       OR (p_worker_id IS NOT NULL AND v_item.claimed_by IS DISTINCT FROM p_worker_id) THEN
        RETURN false;
    END IF;
    IF v_item.state <> 'claimed' THEN
        RAISE EXCEPTION 'work item % is not claimed (state %)', p_work_id, v_item.state
            USING ERRCODE = '55000',
                  HINT = 'Claim it with m10_recovery.claim_work before completing it.';
    END IF;

    IF p_success THEN
        DELETE FROM m10_recovery.work_queue WHERE id = p_work_id;
        RETURN true;
    END IF;

    -- Keep error text bounded: a 10 MB stack trace must not bloat the queue.
    v_error := left(coalesce(nullif(p_error, ''), 'failed without an error message'), 8192);
    IF v_item.attempts >= v_item.max_attempts THEN
        UPDATE m10_recovery.work_queue
           SET state = 'dead', processed_at = v_now, error_message = v_error
         WHERE id = p_work_id;
    ELSE
        UPDATE m10_recovery.work_queue
           SET state = 'pending', claimed_at = NULL, claimed_by = NULL, error_message = v_error,
               available_at = v_now + make_interval(secs => coalesce(
                   p_retry_in_seconds, m10_recovery.retry_delay(v_item.attempts)))
         WHERE id = p_work_id;
    END IF;
    RETURN true;
END;
$$;

COMMENT ON FUNCTION m10_recovery.complete_work(bigint, boolean, text, text, double precision, timestamptz) IS
'Record the outcome of a claimed item. Success deletes it (the queue keeps unfinished and dead work
only). Failure stores p_error (cut to 8192 characters) and schedules a retry after
retry_delay(attempts) (capped exponential backoff with jitter) or p_retry_in_seconds, or moves it to
the dead state once attempts reached max_attempts. Returns true when the outcome was recorded, false
(a no-op) when the item was already completed or is dead, or when p_worker_id is given and that
worker no longer holds it. Raises P0002 for an id that was never issued and 55000 for an item that
is not claimed.';
