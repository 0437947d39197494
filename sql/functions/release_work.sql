CREATE OR REPLACE FUNCTION m10_recovery.release_work(
    p_worker_id text,
    p_work_ids  bigint[]
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_released integer;
BEGIN
    IF p_worker_id IS NULL OR p_worker_id !~ '[^[:space:]]' OR length(p_worker_id) > 200 THEN
        RAISE EXCEPTION 'p_worker_id must be a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_work_ids IS NULL THEN
        RAISE EXCEPTION 'p_work_ids must be an array of work ids, got NULL' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_work_ids) > 10000 THEN
        RAISE EXCEPTION 'p_work_ids holds % ids; the limit is 10000 per call', cardinality(p_work_ids)
            USING ERRCODE = '54000';
    END IF;
    -- The claim is taken back, so it does not count as an attempt; created_at puts the item back
    -- among the items that were due with it, not behind everything enqueued since.
    UPDATE m10_recovery.work_queue w
       SET state        = 'pending',
           attempts     = w.attempts - 1,
           available_at = least(w.created_at, now()),
           claimed_at   = NULL,
           claimed_by   = NULL
     WHERE w.id = ANY (p_work_ids)
       AND CASE WHEN w.state = 'claimed' THEN w.claimed_by = p_worker_id END;
    GET DIAGNOSTICS v_released = ROW_COUNT;
    RETURN v_released;
END;
$$;

COMMENT ON FUNCTION m10_recovery.release_work(text, bigint[]) IS
'Give back items that p_worker_id claimed and did not start (a worker shutting down with a batch
claimed ahead): they are pending and claimable at once, in their old place, and the claim does not
count as an attempt. Ids the worker does not hold (completed, dead, taken over after a lease expiry)
are left unchanged. Returns how many items were released.';
