CREATE OR REPLACE FUNCTION m10_recovery.retry_delay(
    p_attempt      integer,
    p_base_seconds double precision DEFAULT 2,
    p_cap_seconds  double precision DEFAULT 600
) RETURNS double precision
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    -- "Equal jitter": half the capped exponential delay is fixed, half random, so retries of
    -- items that failed together spread out but never come back sooner than half the backoff.
    SELECT v.ceiling / 2 + random() * v.ceiling / 2
      FROM (SELECT least(p_cap_seconds,
                         p_base_seconds * power(2::double precision, least(greatest(p_attempt, 1), 60) - 1))
                   AS ceiling) v
$$;

COMMENT ON FUNCTION m10_recovery.retry_delay(integer, double precision, double precision) IS
'Seconds to wait before retry number p_attempt: capped exponential backoff with equal jitter, a
value in [c/2, c] where c = least(p_cap_seconds, p_base_seconds * 2^(p_attempt - 1)).';
