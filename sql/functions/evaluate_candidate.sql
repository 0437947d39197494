CREATE OR REPLACE FUNCTION m10_recovery.evaluate_candidate(
    p_candidate_id bigint,
    p_actor        text        DEFAULT 'evaluator',
    p_now          timestamptz DEFAULT NULL
) RETURNS TABLE (
    candidate_id     bigint,
    suggested_action text,
    confidence       numeric,
    rule_name        text,
    auto_approved    boolean
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now            timestamptz := coalesce(p_now, now());
    v_cand           m10_recovery.recovery_candidates%ROWTYPE;
    -- settings
    v_threshold      double precision;
    v_strength       double precision;
    v_half_life      double precision;
    v_z              double precision;
    v_min_signature  double precision;
    v_settings       jsonb;
    -- rule search
    v_message        text;
    v_message_source text;
    v_locked_action  text;
    v_rule           record;
    v_value          text;
    v_matched        boolean;
    v_error          text;
    v_tried          jsonb := '[]'::jsonb;
    v_invalid        jsonb := '[]'::jsonb;
    v_first_match    jsonb;
    v_used           jsonb;
    v_action         text;
    v_score          numeric;
    -- statistics
    v_stats          record;
    v_sig_stats      record;
    v_code_stats     record;
    v_scope          text;
    v_successes      double precision := 0;
    v_failures       double precision := 0;
    v_alpha0         double precision;
    v_beta0          double precision;
    v_alpha          double precision;
    v_beta           double precision;
    v_mean           double precision;
    v_sd             double precision;
    v_lower          double precision;
    v_confidence     numeric(5, 4);
    v_kept           boolean := false;
    -- approval
    v_catalog        m10_recovery.suggestion_action%ROWTYPE;
    v_auto           boolean := false;
    v_auto_reason    text;
    v_details        jsonb;
BEGIN
    IF p_candidate_id IS NULL THEN
        RAISE EXCEPTION 'p_candidate_id is required' USING ERRCODE = '22023';
    END IF;
    IF p_actor IS NULL OR p_actor !~ '[^[:space:]]' OR length(p_actor) > 200 THEN
        RAISE EXCEPTION 'p_actor must be a non-empty name of at most 200 characters' USING ERRCODE = '22023';
    END IF;

    -- The row lock orders this evaluation with decisions, claims and other evaluations of the row.
    SELECT * INTO v_cand FROM m10_recovery.recovery_candidates c WHERE c.id = p_candidate_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'candidate % does not exist', p_candidate_id USING ERRCODE = 'P0002';
    END IF;

    -- Settings: JSON numbers; a missing row takes the documented default, a bad value is an error.
    SELECT jsonb_object_agg(s.key, s.value) INTO v_settings
      FROM m10_recovery.settings s
     WHERE s.key IN ('auto_approve_threshold', 'prior_strength', 'history_half_life_days',
                     'lower_bound_z', 'min_signature_outcomes');
    v_settings := coalesce(v_settings, '{}'::jsonb);
    v_threshold := CASE WHEN jsonb_typeof(v_settings -> 'auto_approve_threshold') = 'number'
                        THEN (v_settings ->> 'auto_approve_threshold')::double precision
                        WHEN v_settings ? 'auto_approve_threshold' THEN NULL ELSE 0.9 END;
    v_strength := CASE WHEN jsonb_typeof(v_settings -> 'prior_strength') = 'number'
                       THEN (v_settings ->> 'prior_strength')::double precision
                       WHEN v_settings ? 'prior_strength' THEN NULL ELSE 4 END;
    v_half_life := CASE WHEN jsonb_typeof(v_settings -> 'history_half_life_days') = 'number'
                        THEN (v_settings ->> 'history_half_life_days')::double precision
                        WHEN v_settings ? 'history_half_life_days' THEN NULL ELSE 30 END;
    v_z := CASE WHEN jsonb_typeof(v_settings -> 'lower_bound_z') = 'number'
                THEN (v_settings ->> 'lower_bound_z')::double precision
                WHEN v_settings ? 'lower_bound_z' THEN NULL ELSE 1 END;
    v_min_signature := CASE WHEN jsonb_typeof(v_settings -> 'min_signature_outcomes') = 'number'
                            THEN (v_settings ->> 'min_signature_outcomes')::double precision
                            WHEN v_settings ? 'min_signature_outcomes' THEN NULL ELSE 3 END;
    IF v_threshold IS NULL OR NOT (v_threshold BETWEEN 0 AND 1) THEN
        RAISE EXCEPTION 'setting auto_approve_threshold must be a number between 0 and 1, got %',
                        v_settings -> 'auto_approve_threshold' USING ERRCODE = '22023';
    END IF;
    IF v_strength IS NULL OR NOT (v_strength > 0 AND v_strength <= 1e6) THEN
        RAISE EXCEPTION 'setting prior_strength must be a number above 0 (at most 1e6), got %',
                        v_settings -> 'prior_strength' USING ERRCODE = '22023';
    END IF;
    IF v_half_life IS NULL OR NOT (v_half_life > 0 AND v_half_life <= 1e6) THEN
        RAISE EXCEPTION 'setting history_half_life_days must be a number of days above 0, got %',
                        v_settings -> 'history_half_life_days' USING ERRCODE = '22023';
    END IF;
    IF v_z IS NULL OR NOT (v_z BETWEEN 0 AND 10) THEN
        RAISE EXCEPTION 'setting lower_bound_z must be a number between 0 and 10, got %',
                        v_settings -> 'lower_bound_z' USING ERRCODE = '22023';
    END IF;
    IF v_min_signature IS NULL OR NOT (v_min_signature BETWEEN 0 AND 1e6) THEN
        RAISE EXCEPTION 'setting min_signature_outcomes must be a number between 0 and 1e6, got %',
                        v_settings -> 'min_signature_outcomes' USING ERRCODE = '22023';
    END IF;

    -- Rules match the raw message when there is one (a 5xx status or a host name is in it), else
    -- the parameterised template.
    v_message := coalesce(v_cand.error_message, v_cand.message_template);
    v_message_source := CASE WHEN v_cand.error_message IS NULL THEN 'message_template' ELSE 'error_message' END;

    -- A decided candidate keeps the action it was decided on: what was approved is what runs, and a
    -- rejection stays a rejection of that action. Its confidence is recomputed from the first
    -- matching rule that names the same action.
    IF v_cand.decision <> 'pending' AND v_cand.suggested_action IS NOT NULL THEN
        v_locked_action := v_cand.suggested_action;
    END IF;

    -- Rules in priority order (higher first, then id); the first match wins. Every rule tried goes
    -- to the provenance; a rule whose regex does not compile is skipped and named there.
    FOR v_rule IN
        SELECT r.id, r.name, r.priority, r.match_field, r.match_kind, r.pattern, r.action_code, r.score
          FROM m10_recovery.suggestion_rules r
         WHERE r.enabled
         ORDER BY r.priority DESC, r.id
    LOOP
        v_value := CASE v_rule.match_field WHEN 'error_code' THEN v_cand.error_code ELSE v_message END;
        v_error := NULL;
        IF v_rule.match_kind = 'regex' THEN
            BEGIN
                v_matched := m10_recovery.match_rule(v_rule.match_kind, v_rule.pattern, v_value);
            EXCEPTION WHEN invalid_regular_expression THEN
                GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT;
                v_matched := false;
            END;
        ELSE
            v_matched := m10_recovery.match_rule(v_rule.match_kind, v_rule.pattern, v_value);
        END IF;
        v_tried := v_tried || jsonb_build_array(
            jsonb_build_object('id', v_rule.id, 'name', v_rule.name, 'priority', v_rule.priority,
                               'match_field', v_rule.match_field, 'match_kind', v_rule.match_kind,
                               'pattern', v_rule.pattern, 'action', v_rule.action_code,
                               'score', v_rule.score, 'matched', v_matched)
            || CASE WHEN v_error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', v_error) END);
        IF v_error IS NOT NULL THEN
            v_invalid := v_invalid || jsonb_build_array(
                jsonb_build_object('id', v_rule.id, 'name', v_rule.name, 'pattern', v_rule.pattern,
                                   'error', v_error));
        END IF;
        CONTINUE WHEN NOT v_matched;
        IF v_first_match IS NULL THEN
            v_first_match := jsonb_build_object('id', v_rule.id, 'name', v_rule.name, 'action', v_rule.action_code);
        END IF;
        IF v_locked_action IS NULL OR v_rule.action_code = v_locked_action THEN
            v_used := jsonb_build_object(
                'id', v_rule.id, 'name', v_rule.name, 'priority', v_rule.priority,
                'match_field', v_rule.match_field, 'match_kind', v_rule.match_kind,
                'pattern', v_rule.pattern, 'score', v_rule.score, 'action', v_rule.action_code);
            v_action := v_rule.action_code;
            v_score := v_rule.score;
            EXIT;
        END IF;
    END LOOP;

    IF v_used IS NOT NULL THEN
        -- Beta prior from the rule score, worth prior_strength pseudo-outcomes.
        -- (in numeric, so a score of 0.9 gives a beta of 0.4, not 0.3999999999999999)
        v_alpha0 := (v_score::numeric * v_strength::numeric)::double precision;
        v_beta0 := ((1 - v_score::numeric) * v_strength::numeric)::double precision;

        FOR v_stats IN
            SELECT * FROM m10_recovery.action_statistics(v_cand.error_signature, v_cand.error_code, v_action,
                                                         v_half_life, v_now)
        LOOP
            IF v_stats.scope = 'signature' THEN
                v_sig_stats := v_stats;
            ELSE
                v_code_stats := v_stats;
            END IF;
        END LOOP;
        -- The signature's own history when it has enough outcomes, else the wider error code's.
        IF v_sig_stats.outcomes >= v_min_signature THEN
            v_scope := 'signature';
            v_successes := v_sig_stats.weighted_successes;
            v_failures := v_sig_stats.weighted_failures;
        ELSE
            v_scope := 'error_code';
            v_successes := v_code_stats.weighted_successes;
            v_failures := v_code_stats.weighted_failures;
        END IF;

        v_alpha := v_alpha0 + v_successes;
        v_beta := v_beta0 + v_failures;
        v_mean := v_alpha / (v_alpha + v_beta);
        v_sd := sqrt(v_alpha * v_beta / ((v_alpha + v_beta) ^ 2 * (v_alpha + v_beta + 1)));
        v_lower := greatest(0, least(1, v_mean - v_z * v_sd));
        -- Stored with 4 decimals, truncated: a lower bound is never rounded up.
        v_confidence := trunc(v_lower::numeric, 4);
    ELSIF v_locked_action IS NOT NULL THEN
        -- No rule names the decided action any more: keep the suggestion and confidence as they are.
        v_kept := true;
        v_action := v_cand.suggested_action;
        v_confidence := v_cand.confidence;
    END IF;

    -- Auto-approval: only a pending decision, only an automated action that needs no approval, only
    -- at or above the threshold (compared with the stored, truncated confidence).
    IF v_action IS NOT NULL THEN
        SELECT * INTO v_catalog FROM m10_recovery.suggestion_action a WHERE a.action_code = v_action;
    END IF;
    v_auto_reason := CASE
        WHEN v_cand.decision <> 'pending' THEN 'decision is already ' || v_cand.decision
        WHEN v_used IS NULL THEN 'no rule matched'
        WHEN NOT v_catalog.automated THEN 'action is not automated'
        WHEN v_catalog.requires_approval THEN 'action requires approval'
        WHEN v_confidence < v_threshold THEN 'confidence below the threshold'
        ELSE 'confidence at or above the threshold' END;
    v_auto := coalesce(v_cand.decision = 'pending' AND v_used IS NOT NULL AND v_catalog.automated
                       AND NOT v_catalog.requires_approval AND v_confidence >= v_threshold, false);

    UPDATE m10_recovery.recovery_candidates c
       SET suggested_action = v_action,
           confidence       = v_confidence,
           evaluation_state = 'evaluated',
           evaluated_at     = v_now,
           updated_at       = v_now,
           decision         = CASE WHEN v_auto THEN 'approved' ELSE c.decision END,
           decided_by       = CASE WHEN v_auto THEN 'system:auto' ELSE c.decided_by END,
           decided_at       = CASE WHEN v_auto THEN v_now ELSE c.decided_at END,
           decision_note    = CASE WHEN v_auto
                                   THEN format('auto-approved: confidence %s >= threshold %s', v_confidence, v_threshold)
                                   ELSE c.decision_note END
     WHERE c.id = v_cand.id;

    v_details := jsonb_build_object(
        'input', jsonb_build_object(
            'error_code', v_cand.error_code,
            'error_signature', v_cand.error_signature,
            'signature_version', v_cand.signature_version,
            'message_template', left(v_cand.message_template, 2000),
            'message_matched', v_message_source,
            'message', left(v_message, 2000),
            'occurrence_count', v_cand.occurrence_count),
        'now', v_now,
        'rules_tried', v_tried,
        'invalid_rules', v_invalid,
        'rule', v_used,
        'rule_name', v_used ->> 'name',
        'pattern', v_used ->> 'pattern',
        'score', v_score,
        'action', v_action,
        'previous', jsonb_build_object('suggested_action', v_cand.suggested_action,
                                       'confidence', v_cand.confidence,
                                       'evaluation_state', v_cand.evaluation_state,
                                       'decision', v_cand.decision),
        'settings', jsonb_build_object('prior_strength', v_strength, 'history_half_life_days', v_half_life,
                                       'lower_bound_z', v_z, 'auto_approve_threshold', v_threshold,
                                       'min_signature_outcomes', v_min_signature),
        'auto_approval', jsonb_build_object(
            'approved', v_auto, 'reason', v_auto_reason, 'threshold', v_threshold,
            'automated', v_catalog.automated, 'requires_approval', v_catalog.requires_approval,
            'decision_before', v_cand.decision));
    IF v_locked_action IS NOT NULL THEN
        v_details := v_details || jsonb_build_object(
            'decided_action_kept', v_locked_action,
            'first_matching_rule', v_first_match,
            'confidence_kept', v_kept);
    END IF;
    IF v_used IS NOT NULL THEN
        v_details := v_details || jsonb_build_object(
            'prior', jsonb_build_object('strength', v_strength, 'alpha', v_alpha0, 'beta', v_beta0),
            'history', jsonb_build_object(
                'scope', v_scope,
                'min_signature_outcomes', v_min_signature,
                'half_life_days', v_half_life,
                'signature', jsonb_build_object(
                    'outcomes', v_sig_stats.outcomes, 'succeeded', v_sig_stats.succeeded,
                    'failed', v_sig_stats.failed, 'rolled_back', v_sig_stats.rolled_back,
                    'skipped', v_sig_stats.skipped,
                    'weighted_successes', v_sig_stats.weighted_successes,
                    'weighted_failures', v_sig_stats.weighted_failures),
                'error_code', jsonb_build_object(
                    'outcomes', v_code_stats.outcomes, 'succeeded', v_code_stats.succeeded,
                    'failed', v_code_stats.failed, 'rolled_back', v_code_stats.rolled_back,
                    'skipped', v_code_stats.skipped,
                    'weighted_successes', v_code_stats.weighted_successes,
                    'weighted_failures', v_code_stats.weighted_failures),
                'weighted_successes', v_successes,
                'weighted_failures', v_failures),
            'posterior', jsonb_build_object('alpha', v_alpha, 'beta', v_beta, 'mean', v_mean, 'sd', v_sd,
                                            'z', v_z, 'lower_bound', v_lower),
            'mean', v_mean,
            'lower_bound', v_lower);
    END IF;
    v_details := v_details || jsonb_build_object('confidence', v_confidence);

    INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
    VALUES (v_cand.id, 'evaluated', p_actor, v_details, v_now);
    IF v_auto THEN
        INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
        VALUES (v_cand.id, 'auto_approved', 'system:auto',
                jsonb_build_object('decision', 'approved', 'action', v_action, 'confidence', v_confidence,
                                   'threshold', v_threshold, 'rule_name', v_used ->> 'name',
                                   'evaluated_by', p_actor),
                v_now);
    END IF;

    candidate_id := v_cand.id;
    suggested_action := v_action;
    confidence := v_confidence;
    rule_name := v_used ->> 'name';
    auto_approved := v_auto;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION m10_recovery.evaluate_candidate(bigint, text, timestamptz) IS
'Suggest an action for a candidate and say how sure we are. Enabled rules are tried by priority
(higher first, then id); the first that matches wins (match_rule: exact, prefix, or case-insensitive
regex on error_code or on the message, which is error_message when present, else message_template).
A rule whose regex is invalid is skipped and listed in the provenance (invalid_rules), never failing
the evaluation. Confidence: a Beta prior from the rule score (alpha = score * prior_strength, beta =
(1 - score) * prior_strength) updated with the outcomes of (error_signature, action) in
execution_outcomes, or of (error_code, action) when the signature has fewer than
min_signature_outcomes (setting, default 3) outcomes; each outcome weighs 0.5 ^ (age_days /
history_half_life_days); succeeded counts as a success, failed and rolled_back as failures, skipped is
ignored. The stored confidence is the lower bound mean - z * sd of the posterior (z = lower_bound_z),
clipped to [0, 1] and truncated to 4 decimals, so thin evidence ranks below the same mean with more
evidence. No matching rule: suggested_action and confidence NULL. A pending decision is approved by
''system:auto'' (provenance auto_approved) when the action is automated, needs no approval and the
confidence is at or above auto_approve_threshold. A decided candidate is re-evaluated but keeps its
decision and its action: its confidence is recomputed from the first matching rule with that action
(kept as it was when none matches). Every input, rule tried and number goes to the provenance
(event evaluated). auto_approved is true only when this call approved it. Unknown id: P0002.';
