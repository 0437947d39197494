CREATE OR REPLACE FUNCTION m10_recovery.decide_candidate(
    p_candidate_id bigint,
    p_decision     text,
    p_actor        text,
    p_note         text        DEFAULT NULL,
    p_now          timestamptz DEFAULT NULL
) RETURNS TABLE (
    candidate_id bigint,
    decision     text,
    decided_by   text,
    decided_at   timestamptz
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now      timestamptz := coalesce(p_now, now());
    v_decision text;
    v_cand     m10_recovery.recovery_candidates%ROWTYPE;
BEGIN
    IF p_candidate_id IS NULL THEN
        RAISE EXCEPTION 'p_candidate_id is required' USING ERRCODE = '22023';
    END IF;
    IF p_actor IS NULL OR p_actor !~ '[^[:space:]]' OR length(p_actor) > 200 THEN
        RAISE EXCEPTION 'p_actor is required: who decides, a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_note IS NOT NULL AND length(p_note) > 4000 THEN
        RAISE EXCEPTION 'p_note must be at most 4000 characters, got %', length(p_note) USING ERRCODE = '22023';
    END IF;
    v_decision := CASE lower(btrim(p_decision))
                      WHEN 'approved' THEN 'approved' WHEN 'approve' THEN 'approved'
                      WHEN 'rejected' THEN 'rejected' WHEN 'reject' THEN 'rejected'
                      WHEN 'pending' THEN 'pending' END;
    IF v_decision IS NULL THEN
        RAISE EXCEPTION 'p_decision must be approved or rejected, got %', coalesce(quote_literal(p_decision), 'NULL')
            USING ERRCODE = '22023';
    END IF;

    SELECT * INTO v_cand FROM m10_recovery.recovery_candidates c WHERE c.id = p_candidate_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'candidate % does not exist', p_candidate_id USING ERRCODE = 'P0002';
    END IF;

    IF v_decision = 'pending' THEN
        RAISE EXCEPTION 'candidate %: a decision cannot be set to pending (it is %)', v_cand.id, v_cand.decision
            USING ERRCODE = '55000',
                  HINT = 'A decision only moves from pending to approved or rejected, and never back.';
    END IF;
    IF v_cand.decision <> 'pending' THEN
        -- The same decision repeated by the same actor is a retry (say, after a lost reply): answer
        -- with the recorded decision and change nothing. Anything else on a decided candidate is refused.
        IF v_cand.decision = v_decision AND v_cand.decided_by = p_actor THEN
            candidate_id := v_cand.id;
            decision := v_cand.decision;
            decided_by := v_cand.decided_by;
            decided_at := v_cand.decided_at;
            RETURN NEXT;
            RETURN;
        END IF;
        RAISE EXCEPTION 'candidate % is already % (by % at %): cannot %', v_cand.id, v_cand.decision,
                        v_cand.decided_by, v_cand.decided_at,
                        CASE v_decision WHEN 'approved' THEN 'approve' ELSE 'reject' END
                        || CASE v_decision WHEN v_cand.decision THEN ' it again as ' || p_actor ELSE ' it' END
            USING ERRCODE = '55000',
                  HINT = 'Only a pending candidate can be approved or rejected; decisions are final.';
    END IF;
    IF v_decision = 'approved' AND (v_cand.evaluation_state <> 'evaluated' OR v_cand.suggested_action IS NULL) THEN
        RAISE EXCEPTION 'candidate % cannot be approved: %', v_cand.id,
                        CASE WHEN v_cand.evaluation_state <> 'evaluated'
                             THEN 'it has not been evaluated (evaluation_state ' || v_cand.evaluation_state || ')'
                             ELSE 'no rule suggested an action' END
            USING ERRCODE = '55000',
                  HINT = 'There is no action to approve; evaluate it first, or reject it.';
    END IF;

    UPDATE m10_recovery.recovery_candidates c
       SET decision      = v_decision,
           decided_by    = p_actor,
           decided_at    = v_now,
           decision_note = p_note,
           updated_at    = v_now
     WHERE c.id = v_cand.id;

    INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
    VALUES (v_cand.id, 'decided', p_actor,
            jsonb_build_object('decision', v_decision, 'previous_decision', v_cand.decision,
                               'note', p_note, 'action', v_cand.suggested_action,
                               'confidence', v_cand.confidence,
                               'evaluation_state', v_cand.evaluation_state),
            v_now);
    PERFORM m10_recovery.publish_outbox(
        'recovery.candidate.decided',
        jsonb_build_object('candidate_id', v_cand.id, 'decision', v_decision, 'decided_by', p_actor,
                           'action', v_cand.suggested_action, 'confidence', v_cand.confidence),
        'candidate', v_cand.id::text, v_now);

    candidate_id := v_cand.id;
    decision := v_decision;
    decided_by := p_actor;
    decided_at := v_now;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION m10_recovery.decide_candidate(bigint, text, text, text, timestamptz) IS
'Approve or reject a candidate''s suggestion. p_decision is approved or rejected (approve and reject
are accepted too); p_actor (who decides) is required, p_note is kept (at most 4000 characters). The
decision moves only from pending to approved or rejected, once: approved -> rejected, rejected ->
approved, any decision -> pending, and deciding a decided candidate again as another actor are
refused with 55000. Repeating the same decision as the same actor is an idempotent retry: it returns
the recorded decision (the first note stands) and changes nothing. A candidate that is not evaluated,
or for which no rule suggested an action, can be rejected but not approved (55000). Writes the
provenance event decided with the actor, note and the action decided on. Unknown id: P0002; bad
decision or missing actor: 22023.';
