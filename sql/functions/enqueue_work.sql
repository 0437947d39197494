CREATE OR REPLACE FUNCTION m10_recovery.enqueue_work(
    p_candidate_id  bigint           DEFAULT NULL,
    p_method        text             DEFAULT 'evaluate',
    p_payload       jsonb            DEFAULT '{}'::jsonb,
    p_priority      integer          DEFAULT 0,
    p_delay_seconds double precision DEFAULT 0,
    p_max_attempts  integer          DEFAULT NULL,
    p_now           timestamptz      DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_max_attempts integer;
    v_id           bigint;
BEGIN
    v_max_attempts := m10_recovery.check_work_item(p_method, p_payload, p_priority, p_delay_seconds,
                                                   p_max_attempts);
    INSERT INTO m10_recovery.work_queue (candidate_id, method, payload, priority, max_attempts,
                                         available_at, created_at)
    VALUES (p_candidate_id, p_method, coalesce(p_payload, '{}'::jsonb), p_priority, v_max_attempts,
            coalesce(p_now, now()) + make_interval(secs => p_delay_seconds), coalesce(p_now, now()))
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.enqueue_work(bigint, text, jsonb, integer, double precision, integer, timestamptz) IS
'Enqueue one work item and return its id. Every argument is named and optional:
SELECT m10_recovery.enqueue_work(p_priority => 5) enqueues a bare evaluate item.
p_method must be a row of work_methods; p_payload a JSON object of at most 1 MiB; higher p_priority is
claimed first; p_delay_seconds (0 .. 1 year) delays availability; p_max_attempts (1 .. 100) defaults
to the method''s default_max_attempts. Raises 22023 on invalid input, writing nothing.';
