CREATE OR REPLACE FUNCTION m10_recovery.claim_work(
    p_worker_id     text,
    p_batch_size    integer     DEFAULT 10,
    p_lease_seconds integer     DEFAULT 300,
    p_method        text        DEFAULT NULL,
    p_now           timestamptz DEFAULT NULL
) RETURNS SETOF m10_recovery.claimed_work
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
BEGIN
    IF p_worker_id IS NULL OR p_worker_id !~ '[^[:space:]]' OR length(p_worker_id) > 200 THEN
        RAISE EXCEPTION 'p_worker_id must be a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'p_batch_size must be between 1 and 10000, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400 (one day), got %',
                        coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A long job should extend its lease rather than take a huge one.';
    END IF;
    IF p_method IS NOT NULL AND NOT EXISTS (SELECT 1 FROM m10_recovery.work_methods m WHERE m.name = p_method) THEN
        RAISE EXCEPTION 'unknown work method %', quote_literal(p_method)
            USING ERRCODE = '22023',
                  HINT = 'Known methods are the rows of m10_recovery.work_methods.';
    END IF;

    -- An item whose lease ran out on its last allowed attempt is not handed out again: it goes to
    -- the dead state in the same statement, so a poison item cannot crash workers forever.
    RETURN QUERY
    WITH picked AS (
        SELECT w.id, w.attempts >= w.max_attempts AS exhausted
          FROM m10_recovery.work_queue w
         WHERE w.processed_at IS NULL
           AND w.available_at <= v_now
           AND (p_method IS NULL OR w.method = p_method)
         ORDER BY w.priority DESC, w.available_at, w.id
         LIMIT p_batch_size
           FOR UPDATE SKIP LOCKED
    ), changed AS (
        UPDATE m10_recovery.work_queue w
           SET state         = CASE WHEN p.exhausted THEN 'dead' ELSE 'claimed' END,
               attempts      = w.attempts + CASE WHEN p.exhausted THEN 0 ELSE 1 END,
               claimed_at    = CASE WHEN p.exhausted THEN w.claimed_at ELSE v_now END,
               claimed_by    = CASE WHEN p.exhausted THEN w.claimed_by ELSE p_worker_id END,
               available_at  = CASE WHEN p.exhausted THEN w.available_at
                                    ELSE v_now + make_interval(secs => p_lease_seconds) END,
               processed_at  = CASE WHEN p.exhausted THEN v_now END,
               error_message = CASE WHEN p.exhausted
                                    THEN format('lease expired on attempt %s of %s (worker %s)',
                                                w.attempts, w.max_attempts, w.claimed_by)
                                    ELSE w.error_message END
          FROM picked p
         WHERE w.id = p.id
        RETURNING w.*
    )
    SELECT c.id, c.candidate_id, c.method, c.payload, c.priority, c.attempts, c.max_attempts,
           c.created_at, c.claimed_at, c.available_at
      FROM changed c
     WHERE c.state = 'claimed'
     ORDER BY c.priority DESC, c.id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.claim_work(text, integer, integer, text, timestamptz) IS
'Claim up to p_batch_size available items (highest priority first, then oldest) for p_worker_id with
FOR UPDATE SKIP LOCKED, so concurrent workers never block on or share an item. Each claim is a lease
of p_lease_seconds (1 .. 86400): if the item is not completed by then it becomes claimable again,
and attempts counts every claim. An item whose lease expires on its last attempt is moved to the
dead state instead of being handed out. p_method restricts the claim to one method.
Returns one row per claimed item with a work_id column.';
