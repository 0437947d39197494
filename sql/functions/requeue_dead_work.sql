CREATE OR REPLACE FUNCTION m10_recovery.requeue_dead_work(
    p_work_ids bigint[]    DEFAULT NULL,
    p_method   text        DEFAULT NULL,
    p_now      timestamptz DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    IF p_work_ids IS NULL AND p_method IS NULL THEN
        RAISE EXCEPTION 'name the items to requeue (p_work_ids) or a method (p_method)'
            USING ERRCODE = '22023',
                  HINT = 'To requeue every dead evaluate item: requeue_dead_work(p_method => ''evaluate'').';
    END IF;
    UPDATE m10_recovery.work_queue
       SET state = 'pending', attempts = 0, processed_at = NULL, claimed_at = NULL, claimed_by = NULL,
           available_at = coalesce(p_now, now())
     WHERE state = 'dead'
       AND (p_work_ids IS NULL OR id = ANY (p_work_ids))
       AND (p_method IS NULL OR method = p_method);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION m10_recovery.requeue_dead_work(bigint[], text, timestamptz) IS
'Give dead items a new set of attempts once their cause is fixed: the dead items among p_work_ids
(or every dead item of p_method) become pending and claimable now, with attempts reset and their
last error kept for reference. Returns how many were requeued; items that are not dead are left
alone. Naming neither ids nor a method is an error, so nothing is requeued by accident.';
