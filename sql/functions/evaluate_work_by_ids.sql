CREATE OR REPLACE FUNCTION m10_recovery.evaluate_work_by_ids(
    p_worker_id     text,
    p_work_ids      bigint[],
    p_lease_seconds integer     DEFAULT 300,
    p_now           timestamptz DEFAULT NULL
) RETURNS TABLE (
    work_id      bigint,
    candidate_id bigint
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_work       bigint[];
    v_candidate  bigint[];
    v_evaluate   bigint[];
BEGIN
    SELECT array_agg(c.work_id ORDER BY c.work_id), array_agg(c.candidate_id ORDER BY c.work_id),
           array_agg(DISTINCT c.candidate_id) FILTER (WHERE c.candidate_id IS NOT NULL)
      INTO v_work, v_candidate, v_evaluate
      FROM m10_recovery.claim_work_by_ids(p_worker_id, p_work_ids, p_lease_seconds, p_now) c;
    IF v_work IS NULL THEN
        RETURN;
    END IF;
    IF v_evaluate IS NOT NULL THEN
        PERFORM m10_recovery.evaluate_candidates(v_evaluate, p_worker_id, p_now);
    END IF;
    -- The rows are locked by this transaction since the claim: the completion cannot miss one.
    PERFORM m10_recovery.complete_claimed_work(p_worker_id, v_work);
    RETURN QUERY SELECT * FROM unnest(v_work, v_candidate);
END;
$$;

COMMENT ON FUNCTION m10_recovery.evaluate_work_by_ids(text, bigint[], integer, timestamptz) IS
'The stream worker''s batch in one statement: claim the named items (claim_work_by_ids: only still
pending or expired ones, SKIP LOCKED), evaluate their candidates (evaluate_candidates, actor
p_worker_id) and complete them (delete). Claim, evaluation and completion commit together, so an
item is evaluated at most once however many stream entries name it, and an error (a poison
candidate) undoes the whole batch. Returns the items evaluated and completed (work_id, candidate_id);
the others were not claimable (work_item_states says why).';
