CREATE OR REPLACE FUNCTION m10_recovery.record_execution(
    p_candidate_id bigint,
    p_executor     text,
    p_outcome      text,
    p_details      jsonb       DEFAULT '{}',
    p_now          timestamptz DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now      timestamptz := coalesce(p_now, now());
    v_details  jsonb := coalesce(p_details, '{}'::jsonb);
    v_cand     m10_recovery.recovery_candidates%ROWTYPE;
    v_inserted bigint;
BEGIN
    IF p_candidate_id IS NULL THEN
        RAISE EXCEPTION 'p_candidate_id is required' USING ERRCODE = '22023';
    END IF;
    IF p_executor IS NULL OR p_executor !~ '[^[:space:]]' OR length(p_executor) > 200 THEN
        RAISE EXCEPTION 'p_executor must be a non-empty name of at most 200 characters' USING ERRCODE = '22023';
    END IF;
    IF p_outcome IS NULL OR p_outcome NOT IN ('succeeded', 'failed', 'skipped', 'rolled_back') THEN
        RAISE EXCEPTION 'p_outcome must be one of succeeded, failed, skipped, rolled_back, got %',
                        coalesce(quote_literal(p_outcome), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(v_details) <> 'object' THEN
        RAISE EXCEPTION 'p_details must be a JSON object, got a JSON %', jsonb_typeof(v_details)
            USING ERRCODE = '22023';
    END IF;
    IF octet_length(v_details::text) > 65536 THEN
        RAISE EXCEPTION 'p_details must be at most 64 KiB as JSON text, got % bytes', octet_length(v_details::text)
            USING ERRCODE = '22023';
    END IF;

    SELECT * INTO v_cand FROM m10_recovery.recovery_candidates c WHERE c.id = p_candidate_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'candidate % does not exist', p_candidate_id USING ERRCODE = 'P0002';
    END IF;

    -- Only the executor holding the claim records, and only once. A repeated call (its status is
    -- already the outcome), an executor whose expired lease another one took over, or a candidate
    -- never claimed: false, nothing changes. An executor whose lease expired but was not taken over
    -- still holds the claim, and its outcome is recorded (lease_expired in the provenance).
    IF v_cand.execution_status <> 'executing' OR v_cand.execution_claimed_by IS DISTINCT FROM p_executor THEN
        RETURN false;
    END IF;

    INSERT INTO m10_recovery.execution_outcomes
           (candidate_id, error_signature, error_code, action_code, outcome, executed_by, details, created_at)
    VALUES (v_cand.id, v_cand.error_signature, v_cand.error_code, v_cand.suggested_action, p_outcome,
            p_executor, v_details, v_now)
    ON CONFLICT (candidate_id) DO NOTHING
    RETURNING id INTO v_inserted;
    IF v_inserted IS NULL THEN
        RETURN false;  -- an outcome is recorded once (execution_outcomes_once_idx)
    END IF;

    UPDATE m10_recovery.recovery_candidates c
       SET execution_status      = p_outcome,
           execution_lease_until = NULL,
           updated_at            = v_now
     WHERE c.id = v_cand.id;

    INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
    VALUES (v_cand.id, 'executed', p_executor,
            jsonb_build_object('outcome', p_outcome, 'action', v_cand.suggested_action,
                               'outcome_id', v_inserted, 'lease_until', v_cand.execution_lease_until,
                               'lease_expired', v_cand.execution_lease_until <= v_now,
                               'details', v_details),
            v_now);
    PERFORM m10_recovery.publish_outbox(
        'recovery.execution.recorded',
        jsonb_build_object('candidate_id', v_cand.id, 'outcome', p_outcome, 'action', v_cand.suggested_action,
                           'executor', p_executor, 'outcome_id', v_inserted),
        'candidate', v_cand.id::text, v_now);
    RETURN true;
END;
$$;

COMMENT ON FUNCTION m10_recovery.record_execution(bigint, text, text, jsonb, timestamptz) IS
'Record the outcome of an execution claimed with claim_execution: p_outcome is succeeded, failed,
skipped or rolled_back; p_details a JSON object of at most 64 KiB. Only the executor holding the
claim (execution_status executing, execution_claimed_by = p_executor) records, and the outcome is
recorded once: it inserts the append-only execution_outcomes row (error_signature, error_code,
action_code, which the statistics of later evaluations read), sets execution_status to the outcome,
clears the lease and writes the provenance event executed. Returns true when recorded; false, with
nothing changed, for a repeated call, for an executor whose expired lease was taken over by another,
and for a candidate not being executed. An executor whose lease expired but was not taken over still
holds the claim and records. Unknown id: P0002; bad outcome, executor or details: 22023.';
