CREATE OR REPLACE FUNCTION m10_recovery.action_statistics(
    p_error_signature text,
    p_error_code      text,
    p_action_code     text,
    p_half_life_days  double precision DEFAULT NULL,
    p_now             timestamptz      DEFAULT NULL
) RETURNS TABLE (
    scope              text,
    outcomes           bigint,
    succeeded          bigint,
    failed             bigint,
    rolled_back        bigint,
    skipped            bigint,
    weighted_successes double precision,
    weighted_failures  double precision
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_half_life double precision := p_half_life_days;
BEGIN
    IF p_action_code IS NULL THEN
        RAISE EXCEPTION 'p_action_code is required' USING ERRCODE = '22023';
    END IF;
    IF v_half_life IS NULL THEN
        SELECT CASE WHEN jsonb_typeof(s.value) = 'number' THEN (s.value::text)::double precision END
          INTO v_half_life
          FROM m10_recovery.settings s
         WHERE s.key = 'history_half_life_days';
        v_half_life := coalesce(v_half_life, 30);
    END IF;
    IF NOT (v_half_life > 0 AND v_half_life < 'Infinity') THEN
        RAISE EXCEPTION 'the half-life must be a positive number of days, got %', v_half_life
            USING ERRCODE = '22023';
    END IF;

    -- One pass over the outcomes of the action for the signature or the error code (two index
    -- scans, BitmapOr). The error_code scope also takes the signature's own rows, so it is always a
    -- superset of the signature scope even if error codes were stored with other spelling.
    -- Outcomes recorded after p_now do not exist yet at p_now; the weight of an outcome is
    -- 0.5 ^ (age in days / half-life).
    RETURN QUERY
    WITH a AS (
        SELECT e.outcome,
               e.error_signature = p_error_signature AS same_signature,
               extract(epoch FROM v_now - e.created_at)::double precision / 86400.0 / v_half_life AS half_lives
          FROM m10_recovery.execution_outcomes e
         WHERE e.action_code = p_action_code
           AND (e.error_signature = p_error_signature OR e.error_code = p_error_code)
           AND e.created_at <= v_now
    ), o AS (
        -- beyond 1000 half-lives the weight is 0 (power() would raise an underflow near 1075)
        SELECT a.outcome, a.same_signature,
               CASE WHEN a.half_lives > 1000 THEN 0::double precision
                    ELSE power(0.5::double precision, a.half_lives) END AS w
          FROM a
    ), scopes(scope, ord) AS (
        VALUES ('signature', 1), ('error_code', 2)
    )
    SELECT s.scope,
           count(o.outcome) FILTER (WHERE o.outcome <> 'skipped'),
           count(o.outcome) FILTER (WHERE o.outcome = 'succeeded'),
           count(o.outcome) FILTER (WHERE o.outcome = 'failed'),
           count(o.outcome) FILTER (WHERE o.outcome = 'rolled_back'),
           count(o.outcome) FILTER (WHERE o.outcome = 'skipped'),
           coalesce(sum(o.w) FILTER (WHERE o.outcome = 'succeeded'), 0)::double precision,
           coalesce(sum(o.w) FILTER (WHERE o.outcome IN ('failed', 'rolled_back')), 0)::double precision
      FROM scopes s
      LEFT JOIN o ON s.scope = 'error_code' OR o.same_signature
     GROUP BY s.scope, s.ord
     ORDER BY s.ord;
END;
$$;

COMMENT ON FUNCTION m10_recovery.action_statistics(text, text, text, double precision, timestamptz) IS
'The outcome history of an action for a failure, as evaluate_candidate uses it: two rows, scope
''signature'' (outcomes of p_action_code for p_error_signature) and scope ''error_code'' (for
p_error_code, plus the signature''s own rows, so it is a superset). outcomes counts the outcomes that
count (succeeded, failed, rolled_back; skipped is listed but ignored). Each outcome weighs
0.5 ^ (age_days / half-life) at p_now; weighted_successes sums succeeded, weighted_failures sums
failed and rolled_back. Outcomes recorded after p_now are left out. p_half_life_days defaults to
the setting history_half_life_days (30 when unset).';
