CREATE OR REPLACE FUNCTION m10_recovery.outbox_retry_delay(
    p_attempt      integer,
    p_base_seconds double precision DEFAULT 2,
    p_cap_seconds  double precision DEFAULT 600
) RETURNS double precision
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    -- "Full jitter": anywhere between 0 and the capped exponential delay, so events that failed
    -- together against one receiver come back spread over the whole window, not in a burst.
    SELECT random() * least(p_cap_seconds,
                            p_base_seconds * power(2::double precision, least(greatest(p_attempt, 1), 60) - 1))
$$;

COMMENT ON FUNCTION m10_recovery.outbox_retry_delay(integer, double precision, double precision) IS
'Seconds to wait before outbox retry number p_attempt: capped exponential backoff with full jitter,
a value in [0, c) where c = least(p_cap_seconds, p_base_seconds * 2^(p_attempt - 1)).';
