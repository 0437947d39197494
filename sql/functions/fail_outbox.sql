CREATE OR REPLACE FUNCTION m10_recovery.fail_outbox(
    p_outbox_id        bigint,
    p_processor_id     text,
    p_error            text,
    p_retry_in_seconds double precision DEFAULT NULL,
    p_dead_letter      boolean          DEFAULT false,
    p_max_attempts     integer          DEFAULT 10,
    p_base_seconds     double precision DEFAULT 2,
    p_cap_seconds      double precision DEFAULT 600,
    p_now              timestamptz      DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_event m10_recovery.outbox%ROWTYPE;
    v_error text;
    v_tries integer;
BEGIN
    IF p_outbox_id IS NULL OR p_processor_id IS NULL THEN
        RAISE EXCEPTION 'p_outbox_id and p_processor_id are required' USING ERRCODE = '22023';
    END IF;
    IF p_retry_in_seconds IS NOT NULL AND NOT (p_retry_in_seconds BETWEEN 0 AND 86400) THEN
        RAISE EXCEPTION 'p_retry_in_seconds must be between 0 and 86400, got %', p_retry_in_seconds
            USING ERRCODE = '22023';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'p_max_attempts must be between 1 and 100, got %', coalesce(p_max_attempts::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_base_seconds IS NULL OR p_cap_seconds IS NULL OR NOT (p_base_seconds > 0)
       OR NOT (p_cap_seconds BETWEEN p_base_seconds AND 86400) THEN
        RAISE EXCEPTION 'need 0 < p_base_seconds <= p_cap_seconds <= 86400, got % and %', p_base_seconds, p_cap_seconds
            USING ERRCODE = '22023';
    END IF;

    SELECT * INTO v_event FROM m10_recovery.outbox o WHERE o.id = p_outbox_id FOR UPDATE;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM m10_recovery.outbox_dead_letter d WHERE d.id = p_outbox_id) THEN
            RETURN 'stale';
        END IF;
        RAISE EXCEPTION 'outbox event % does not exist', p_outbox_id USING ERRCODE = 'P0002';
    END IF;
    -- Processed, or taken over after this processor's lease expired: nothing of ours to record.
    IF v_event.processed_at IS NOT NULL OR v_event.claimed_by IS DISTINCT FROM p_processor_id THEN
        RETURN 'stale';
    END IF;

    v_error := left(coalesce(nullif(p_error, ''), 'failed without an error message'), 8192);
    v_tries := v_event.retry_count + 1;
    UPDATE m10_recovery.outbox o
       SET retry_count = v_tries, last_error = v_error, updated_at = v_now
     WHERE o.id = p_outbox_id;
    IF p_dead_letter OR v_tries >= p_max_attempts THEN
        PERFORM m10_recovery.dead_letter_outbox(
            p_outbox_id,
            CASE WHEN p_dead_letter THEN v_error ELSE format('gave up after %s attempts', v_tries) END,
            v_now);
        RETURN 'dead';
    END IF;
    UPDATE m10_recovery.outbox o
       SET claimed_by = NULL, claimed_at = NULL,
           next_retry_at = v_now + make_interval(secs => coalesce(
               p_retry_in_seconds, m10_recovery.outbox_retry_delay(v_tries, p_base_seconds, p_cap_seconds)))
     WHERE o.id = p_outbox_id;
    RETURN 'retry';
END;
$$;

COMMENT ON FUNCTION m10_recovery.fail_outbox(bigint, text, text, double precision, boolean, integer, double precision, double precision, timestamptz) IS
'Record a failed delivery of an event held by p_processor_id: retry_count + 1 and last_error =
p_error (cut to 8192 characters). Then, when p_dead_letter (the receiver said 410 Gone, no handler
serves the type) or retry_count reached p_max_attempts, the event moves to outbox_dead_letter with
the reason, and the result is ''dead''; otherwise it is released and due again after
p_retry_in_seconds (a receiver''s Retry-After, 0 .. 86400) or outbox_retry_delay(retry_count,
p_base_seconds, p_cap_seconds) (capped exponential backoff, full jitter), and the result is
''retry''. ''stale'' (nothing changed): the event was processed, dead-lettered, or taken over by
another processor after this one''s lease expired. Unknown id: P0002; bad arguments: 22023.';
