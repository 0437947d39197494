CREATE OR REPLACE FUNCTION m10_recovery.claim_execution(
    p_executor      text,
    p_batch_size    integer     DEFAULT 1,
    p_lease_seconds integer     DEFAULT 300,
    p_now           timestamptz DEFAULT NULL
) RETURNS TABLE (
    candidate_id     bigint,
    suggested_action text,
    error_code       text,
    error_signature  text,
    lease_until      timestamptz
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_lease        timestamptz;
    v_max_attempts integer;
BEGIN
    IF p_executor IS NULL OR p_executor !~ '[^[:space:]]' OR length(p_executor) > 200 THEN
        RAISE EXCEPTION 'p_executor must be a non-empty name of at most 200 characters' USING ERRCODE = '22023';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_batch_size must be between 1 and 1000, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400 (one day), got %',
                        coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    v_lease := v_now + make_interval(secs => p_lease_seconds);
    SELECT coalesce((SELECT (value #>> '{}')::integer FROM m10_recovery.settings
                      WHERE key = 'max_execution_attempts'), 3)
      INTO v_max_attempts;

    -- A suggestion whose executor lost the lease max_execution_attempts times (it crashes or hangs
    -- every executor) is not handed out again: it fails, once, with an outcome the statistics see.
    WITH exhausted AS (
        SELECT c.id
          FROM m10_recovery.recovery_candidates c
         WHERE c.decision = 'approved'
           AND c.execution_status = 'executing'
           AND c.execution_lease_until <= v_now
           AND c.execution_attempts >= v_max_attempts
           AND NOT EXISTS (SELECT 1 FROM m10_recovery.execution_outcomes o WHERE o.candidate_id = c.id)
           FOR UPDATE OF c SKIP LOCKED
    ), failed AS (
        UPDATE m10_recovery.recovery_candidates c
           SET execution_status = 'failed', updated_at = v_now
          FROM exhausted e
         WHERE c.id = e.id
        RETURNING c.id, c.error_signature, c.error_code, c.suggested_action, c.execution_claimed_by,
                  c.execution_attempts
    ), outcome AS (
        INSERT INTO m10_recovery.execution_outcomes (candidate_id, error_signature, error_code, action_code,
                                                     outcome, executed_by, details, created_at)
        SELECT f.id, f.error_signature, f.error_code, f.suggested_action, 'failed', 'system:lease-expired',
               jsonb_build_object('reason', 'every executor lost its lease', 'attempts', f.execution_attempts,
                                  'last_executor', f.execution_claimed_by),
               v_now
          FROM failed f
    )
    INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
    SELECT f.id, 'executed', 'system:lease-expired',
           jsonb_build_object('outcome', 'failed', 'reason', 'every executor lost its lease',
                              'attempts', f.execution_attempts, 'max_execution_attempts', v_max_attempts,
                              'last_executor', f.execution_claimed_by),
           v_now
      FROM failed f;

    -- Approved candidates not executed yet, and those whose executor's lease ran out (it crashed or
    -- hangs: its late record_execution is refused once another executor holds the claim). A
    -- candidate with a recorded outcome is never handed out again, whatever its status says.
    -- SKIP LOCKED: concurrent executors never wait for, or share, a candidate.
    RETURN QUERY
    WITH picked AS (
        SELECT c.id,
               c.execution_status      AS previous_status,
               c.execution_claimed_by  AS previous_executor,
               c.execution_lease_until AS previous_lease_until
          FROM m10_recovery.recovery_candidates c
         WHERE c.decision = 'approved'
           AND c.suggested_action IS NOT NULL
           AND (c.execution_status = 'pending'
                OR (c.execution_status = 'executing' AND c.execution_lease_until <= v_now
                    AND c.execution_attempts < v_max_attempts))
           AND NOT EXISTS (SELECT 1 FROM m10_recovery.execution_outcomes o WHERE o.candidate_id = c.id)
         ORDER BY c.decided_at, c.id
         LIMIT p_batch_size
           FOR UPDATE OF c SKIP LOCKED
    ), claimed AS (
        UPDATE m10_recovery.recovery_candidates c
           SET execution_status      = 'executing',
               execution_claimed_by  = p_executor,
               execution_lease_until = v_lease,
               execution_attempts    = c.execution_attempts + 1,
               updated_at            = v_now
          FROM picked p
         WHERE c.id = p.id
        RETURNING c.id, c.suggested_action, c.error_code, c.error_signature, c.execution_lease_until,
                  p.previous_status, p.previous_executor, p.previous_lease_until
    ), logged AS (
        INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
        SELECT k.id, 'execution_claimed', p_executor,
               jsonb_build_object('executor', p_executor, 'action', k.suggested_action,
                                  'lease_seconds', p_lease_seconds, 'lease_until', k.execution_lease_until,
                                  'takeover', k.previous_status = 'executing',
                                  'previous_executor', k.previous_executor,
                                  'previous_lease_until', k.previous_lease_until),
               v_now
          FROM claimed k
    )
    SELECT k.id, k.suggested_action, k.error_code, k.error_signature, k.execution_lease_until
      FROM claimed k
     ORDER BY k.id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.claim_execution(text, integer, integer, timestamptz) IS
'Hand up to p_batch_size approved suggestions to p_executor for execution, each under a lease of
p_lease_seconds (1 .. 86400): candidates whose execution_status is pending, and those still
executing whose lease has expired (their executor crashed or hangs; the takeover is recorded).
FOR UPDATE SKIP LOCKED, so concurrent executors never wait for or share a candidate; oldest decision
first. Sets execution_status executing, execution_claimed_by and execution_lease_until, and writes
the provenance event execution_claimed; execution_attempts counts the claims. A candidate whose
executors lost the lease max_execution_attempts times (settings, default 3) is not claimed again:
it fails with an outcome by system:lease-expired, which the statistics count. A candidate whose
outcome is recorded is never claimed again. Finish each with record_execution before the lease ends.';
