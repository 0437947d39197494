CREATE OR REPLACE FUNCTION m10_recovery.evaluate_work_by_ids(
    p_worker_id text,
    p_work_ids  bigint[],
    p_now       timestamptz DEFAULT NULL
) RETURNS TABLE (
    work_id      bigint,
    candidate_id bigint
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_work      bigint[];
    v_candidate bigint[];
    v_evaluate  bigint[];
BEGIN
    IF p_worker_id IS NULL OR p_worker_id !~ '[^[:space:]]' OR length(p_worker_id) > 200 THEN
        RAISE EXCEPTION 'p_worker_id must be a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_work_ids IS NULL OR array_position(p_work_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_work_ids must be an array of ids without NULL' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_work_ids) > 10000 THEN
        RAISE EXCEPTION 'at most 10000 work ids per call, got %', cardinality(p_work_ids)
            USING ERRCODE = '54000';
    END IF;
    -- The claim is the row lock: it lives exactly as long as this transaction, which also evaluates
    -- and completes, so it never needs to be written (no UPDATE, no lease) and a crash undoes all.
    SELECT array_agg(l.id ORDER BY l.id), array_agg(l.candidate_id ORDER BY l.id),
           array_agg(DISTINCT l.candidate_id) FILTER (WHERE l.candidate_id IS NOT NULL)
      INTO v_work, v_candidate, v_evaluate
      FROM (SELECT w.id, w.candidate_id
              FROM (SELECT DISTINCT x FROM unnest(p_work_ids) AS x) AS i(id)
              -- A join, so each id is a primary-key lookup: "id = ANY" would be read off a partial
              -- index of the queue (a scan of the whole backlog per batch).
              JOIN m10_recovery.work_queue w ON w.id = i.id
             WHERE w.state = 'pending' OR (w.state = 'claimed' AND w.available_at <= v_now)
               FOR UPDATE OF w SKIP LOCKED) l;
    IF v_work IS NULL THEN
        RETURN;
    END IF;
    IF v_evaluate IS NOT NULL THEN
        PERFORM m10_recovery.evaluate_candidates(v_evaluate, p_worker_id, v_now);
    END IF;
    DELETE FROM m10_recovery.work_queue w WHERE w.id = ANY (v_work);
    RETURN QUERY SELECT * FROM unnest(v_work, v_candidate);
END;
$$;

COMMENT ON FUNCTION m10_recovery.evaluate_work_by_ids(text, bigint[], timestamptz) IS
'The stream worker''s batch in one statement: lock the named items that are still pending (whatever
their available_at) or whose lease expired (FOR UPDATE SKIP LOCKED: held, completed or dead items
are skipped), evaluate their candidates (evaluate_candidates, actor p_worker_id) and complete them
(delete). The row lock is the claim, so nothing is written for it; claim, evaluation and completion
commit together, so an item is evaluated at most once however many stream entries name it, and an
error (a poison candidate) undoes the whole batch. At most 10000 ids (54000). Returns the items
evaluated and completed (work_id, candidate_id); work_item_states says why the others were not.';
