CREATE OR REPLACE FUNCTION m10_recovery.claim_work_by_ids(
    p_worker_id     text,
    p_work_ids      bigint[],
    p_lease_seconds integer     DEFAULT 300,
    p_now           timestamptz DEFAULT NULL
) RETURNS SETOF m10_recovery.claimed_work
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_lease timestamptz;
BEGIN
    IF p_worker_id IS NULL OR p_worker_id !~ '[^[:space:]]' OR length(p_worker_id) > 200 THEN
        RAISE EXCEPTION 'p_worker_id must be a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_work_ids IS NULL OR array_position(p_work_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_work_ids must be an array of ids without NULL' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_work_ids) > 10000 THEN
        RAISE EXCEPTION 'at most 10000 work ids per claim, got %', cardinality(p_work_ids)
            USING ERRCODE = '54000';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400 (one day), got %',
                        coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    v_lease := v_now + make_interval(secs => p_lease_seconds);

    -- Pending items are claimed whatever their available_at: the stream entry, not the retry
    -- backoff, says when the item is due. A claim whose lease ran out is claimable again, except on
    -- its last attempt, where it goes to dead as in complete_and_claim.
    RETURN QUERY
    WITH picked AS (
        SELECT w.id
          FROM unnest(p_work_ids) AS i(id)
          -- A join, so each id is a primary-key lookup (not a partial-index scan of the backlog).
          JOIN m10_recovery.work_queue w ON w.id = i.id
         WHERE w.state = 'pending' OR (w.state = 'claimed' AND w.available_at <= v_now)
         ORDER BY w.id
           FOR UPDATE OF w SKIP LOCKED
    ), changed AS (
        UPDATE m10_recovery.work_queue w
           SET state         = CASE WHEN w.attempts < w.max_attempts THEN 'claimed' ELSE 'dead' END,
               attempts      = least(w.attempts + 1, w.max_attempts),
               claimed_at    = CASE WHEN w.attempts < w.max_attempts THEN v_now ELSE w.claimed_at END,
               claimed_by    = CASE WHEN w.attempts < w.max_attempts THEN p_worker_id ELSE w.claimed_by END,
               available_at  = CASE WHEN w.attempts < w.max_attempts THEN v_lease ELSE w.available_at END,
               processed_at  = CASE WHEN w.attempts < w.max_attempts THEN NULL ELSE v_now END,
               error_message = CASE WHEN w.attempts < w.max_attempts THEN w.error_message
                                    ELSE format('lease expired on attempt %s of %s (worker %s)',
                                                w.attempts, w.max_attempts, w.claimed_by) END
         WHERE w.id = ANY (ARRAY(SELECT p.id FROM picked p))  -- primary-key lookups, never a hash join
        RETURNING w.id, w.candidate_id, w.method, w.payload, w.priority, w.attempts, w.max_attempts,
                  w.created_at, w.claimed_at, w.available_at, w.state
    )
    SELECT c.id, c.candidate_id, c.method, c.payload, c.priority::integer, c.attempts::integer,
           c.max_attempts::integer, c.created_at, c.claimed_at, c.available_at
      FROM changed c
     WHERE c.state = 'claimed'
     ORDER BY c.id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.claim_work_by_ids(text, bigint[], integer, timestamptz) IS
'Claim the named items for p_worker_id (the stream worker''s claim: the stream says which items are
due). Only items still pending (whatever their available_at) or whose lease expired are claimed, with
FOR UPDATE SKIP LOCKED, so an item another worker holds, completed (deleted) or dead is skipped and a
completed item is never handed out twice. Each claim is a lease of p_lease_seconds (1 .. 86400) and
counts an attempt; an expired item on its last attempt goes to dead instead. At most 10000 ids
(54000). Returns one row per claimed item; work_item_states tells why the others were not.
evaluate_work_by_ids claims, evaluates and completes in one statement.';
