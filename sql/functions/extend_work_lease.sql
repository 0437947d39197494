CREATE OR REPLACE FUNCTION m10_recovery.extend_work_lease(
    p_work_id       bigint,
    p_worker_id     text,
    p_lease_seconds integer     DEFAULT 300,
    p_now           timestamptz DEFAULT NULL
) RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now     timestamptz := coalesce(p_now, now());
    v_expires timestamptz;
BEGIN
    IF p_work_id IS NULL OR p_worker_id IS NULL THEN
        RAISE EXCEPTION 'p_work_id and p_worker_id are required' USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400 (one day), got %',
                        coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- Only a lease that is still running can be extended: once it expired another worker may
    -- already have the item, and extending would hand one item to two workers.
    UPDATE m10_recovery.work_queue
       SET available_at = v_now + make_interval(secs => p_lease_seconds)
     WHERE id = p_work_id
       AND state = 'claimed'
       AND claimed_by = p_worker_id
       AND available_at > v_now
    RETURNING available_at INTO v_expires;
    -- A completed item is deleted: an id the sequence issued gets NULL ("stop"), like a lost lease.
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM m10_recovery.work_queue WHERE id = p_work_id)
       AND NOT p_work_id BETWEEN 1 AND coalesce(pg_sequence_last_value('m10_recovery.work_queue_id_seq'), 0) THEN
        RAISE EXCEPTION 'work item % does not exist', p_work_id USING ERRCODE = 'P0002';
    END IF;
    RETURN v_expires;
END;
$$;

COMMENT ON FUNCTION m10_recovery.extend_work_lease(bigint, text, integer, timestamptz) IS
'Heartbeat for a long-running item: move the end of p_worker_id''s lease to now + p_lease_seconds
and return it. Returns NULL (nothing changed) when the worker no longer holds the item, its lease has
already expired or the item was completed: the worker should stop, because the item may be someone
else''s now. Raises P0002 for an id that was never issued.';
