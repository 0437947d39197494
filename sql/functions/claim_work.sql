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
BEGIN
    -- complete_and_claim also takes 0 (complete only); a claim of nothing is a caller's mistake.
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'p_batch_size must be between 1 and 10000, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- The claim lives in complete_and_claim, the workers' hot path; a plain claim completes nothing.
    RETURN QUERY
    SELECT * FROM m10_recovery.complete_and_claim(p_worker_id, '{}'::bigint[], p_batch_size,
                                                  p_lease_seconds, p_method, p_now);
END;
$$;

COMMENT ON FUNCTION m10_recovery.claim_work(text, integer, integer, text, timestamptz) IS
'Claim up to p_batch_size items for p_worker_id with FOR UPDATE SKIP LOCKED, so concurrent workers
never wait for or share an item: first items whose lease expired, then pending items whose time has
come, highest priority first, then oldest. Each claim is a lease of p_lease_seconds (1 .. 86400): an
item not completed by then is claimed again by the next worker, and attempts counts every claim. An
item whose lease expires on its last attempt goes to the dead state instead. p_method restricts the
claim to one method. Returns one row per claimed item, with a work_id column.';
