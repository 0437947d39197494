CREATE OR REPLACE FUNCTION m10_recovery.release_stalled_work(
    p_stalled_seconds integer     DEFAULT 300,
    p_now             timestamptz DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_count integer;
BEGIN
    IF p_stalled_seconds IS NULL OR p_stalled_seconds < 0 THEN
        RAISE EXCEPTION 'p_stalled_seconds must be zero or more, got %', coalesce(p_stalled_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    WITH stalled AS (
        SELECT w.id, w.attempts >= w.max_attempts AS exhausted
          FROM m10_recovery.work_queue w
         WHERE w.state = 'claimed'
           AND w.claimed_at < v_now - make_interval(secs => p_stalled_seconds)
           FOR UPDATE SKIP LOCKED
    )
    UPDATE m10_recovery.work_queue w
       SET state         = CASE WHEN s.exhausted THEN 'dead' ELSE 'pending' END,
           processed_at  = CASE WHEN s.exhausted THEN v_now END,
           claimed_at    = CASE WHEN s.exhausted THEN w.claimed_at END,
           claimed_by    = CASE WHEN s.exhausted THEN w.claimed_by END,
           available_at  = v_now,
           error_message = format('released after stalling on attempt %s of %s (worker %s)',
                                  w.attempts, w.max_attempts, w.claimed_by)
      FROM stalled s
     WHERE w.id = s.id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION m10_recovery.release_stalled_work(integer, timestamptz) IS
'Operator override of the lease: release every item claimed more than p_stalled_seconds ago and not
completed, so it can be claimed again at once (or move it to dead if that was its last attempt).
Returns how many items it released. Leases already return crashed workers'' items by themselves;
this is for an operator who knows the workers are gone. A worker that later completes a released
item with p_worker_id gets false from complete_work and changes nothing.';
