CREATE OR REPLACE FUNCTION m10_recovery.complete_and_claim(
    p_worker_id     text,
    p_completed_ids bigint[],
    p_batch_size    integer     DEFAULT 10,
    p_lease_seconds integer     DEFAULT 300,
    p_method        text        DEFAULT NULL,
    p_now           timestamptz DEFAULT NULL
) RETURNS SETOF m10_recovery.claimed_work
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    -- claim_work validates every argument; it runs last, and an error there undoes the completion.
    IF cardinality(p_completed_ids) > 0 THEN
        DELETE FROM m10_recovery.work_queue
         WHERE id = ANY (p_completed_ids)
           AND state = 'claimed'
           AND claimed_by = p_worker_id;
    END IF;
    RETURN QUERY
    SELECT * FROM m10_recovery.claim_work(p_worker_id, p_batch_size, p_lease_seconds, p_method, p_now);
END;
$$;

COMMENT ON FUNCTION m10_recovery.complete_and_claim(text, bigint[], integer, integer, text, timestamptz) IS
'Complete the items in p_completed_ids (successes: they are deleted) and claim the next batch, in one
round trip and one commit, so a worker loop pays one commit per batch instead of two. Only items
still claimed by p_worker_id are completed; the others (taken over after a lease expiry, or already
finished) are left unchanged. Failures go through complete_work. Arguments after p_completed_ids are
claim_work''s.';
