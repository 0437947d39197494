CREATE OR REPLACE FUNCTION m10_recovery.prepare_stream_replay(
    p_dead_letter_id text,
    p_work_id        bigint,
    p_now            timestamptz DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state text;
BEGIN
    IF p_dead_letter_id IS NULL OR p_dead_letter_id !~ '^[0-9]+-[0-9]+$' THEN
        RAISE EXCEPTION 'p_dead_letter_id must be a stream entry id like 1700000000000-0, got %',
                        coalesce(quote_literal(p_dead_letter_id), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_work_id IS NULL THEN
        RAISE EXCEPTION 'p_work_id is required' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM m10_recovery.stream_replays r WHERE r.dead_letter_id = p_dead_letter_id) THEN
        RETURN 'replayed';
    END IF;
    SELECT w.state INTO v_state FROM m10_recovery.work_queue w WHERE w.id = p_work_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'completed';
    END IF;
    IF v_state = 'dead' THEN
        PERFORM m10_recovery.requeue_dead_work(ARRAY[p_work_id], NULL, p_now);
    END IF;
    RETURN 'ready';
END;
$$;

COMMENT ON FUNCTION m10_recovery.prepare_stream_replay(text, bigint, timestamptz) IS
'First step of replaying dead-letter entry p_dead_letter_id (an entry id of the dead-letter stream)
for work item p_work_id: replayed when the entry was replayed before (do nothing), completed when the
item is no longer in the queue (nothing to replay), else ready: the item was requeued if dead (a new
set of attempts; the sweep of stream workers finds it even if the re-add then fails). The caller then
XADDs the entry and calls record_stream_replay, holding an advisory lock on the entry id throughout.';
