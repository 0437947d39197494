CREATE OR REPLACE FUNCTION m10_recovery.complete_claimed_work(
    p_worker_id text,
    p_work_ids  bigint[]
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    IF p_worker_id IS NULL OR p_work_ids IS NULL THEN
        RAISE EXCEPTION 'p_worker_id and p_work_ids are required' USING ERRCODE = '22023';
    END IF;
    DELETE FROM m10_recovery.work_queue
     WHERE id = ANY (p_work_ids)
       AND state = 'claimed'
       AND claimed_by = p_worker_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION m10_recovery.complete_claimed_work(text, bigint[]) IS
'Complete (delete) the items of p_work_ids that p_worker_id still holds, without claiming more (the
stream worker''s completion; complete_and_claim is the DB worker''s). Items taken over after a lease
expiry, already completed or dead are left unchanged. Returns how many were completed: a caller that
evaluated inside the same transaction rolls back when this is less than it claimed.';
