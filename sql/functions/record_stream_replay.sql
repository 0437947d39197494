CREATE OR REPLACE FUNCTION m10_recovery.record_stream_replay(
    p_dead_letter_id text,
    p_work_id        bigint,
    p_stream_id      text,
    p_now            timestamptz DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    IF p_dead_letter_id IS NULL OR p_dead_letter_id !~ '^[0-9]+-[0-9]+$'
       OR p_stream_id IS NULL OR p_stream_id !~ '^[0-9]+-[0-9]+$' THEN
        RAISE EXCEPTION 'p_dead_letter_id and p_stream_id must be stream entry ids like 1700000000000-0'
            USING ERRCODE = '22023';
    END IF;
    IF p_work_id IS NULL THEN
        RAISE EXCEPTION 'p_work_id is required' USING ERRCODE = '22023';
    END IF;
    INSERT INTO m10_recovery.stream_replays (dead_letter_id, work_id, stream_id, replayed_at)
    VALUES (p_dead_letter_id, p_work_id, p_stream_id, coalesce(p_now, now()))
    ON CONFLICT (dead_letter_id) DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count = 1;
END;
$$;

COMMENT ON FUNCTION m10_recovery.record_stream_replay(text, bigint, text, timestamptz) IS
'Record that dead-letter entry p_dead_letter_id was re-added to the evaluation stream as p_stream_id.
Called only after the re-add succeeded, so a failed re-add leaves the entry replayable. Returns false
when the entry was already recorded (a replay is recorded once).';
