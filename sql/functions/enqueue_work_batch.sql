CREATE OR REPLACE FUNCTION m10_recovery.enqueue_work_batch(
    p_payloads      jsonb[],
    p_method        text             DEFAULT 'evaluate',
    p_priority      integer          DEFAULT 0,
    p_delay_seconds double precision DEFAULT 0,
    p_max_attempts  integer          DEFAULT NULL,
    p_candidate_ids bigint[]         DEFAULT NULL,
    p_now           timestamptz      DEFAULT NULL
) RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_max_attempts integer;
    v_bad          integer;
BEGIN
    IF p_payloads IS NULL OR cardinality(p_payloads) = 0 THEN
        RAISE EXCEPTION 'p_payloads must hold at least one payload' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_payloads) > 10000 THEN
        RAISE EXCEPTION 'p_payloads holds % items; the limit is 10000 per call', cardinality(p_payloads)
            USING ERRCODE = '54000';
    END IF;
    IF p_candidate_ids IS NOT NULL AND cardinality(p_candidate_ids) <> cardinality(p_payloads) THEN
        RAISE EXCEPTION 'p_candidate_ids has % elements but p_payloads has %',
                        cardinality(p_candidate_ids), cardinality(p_payloads)
            USING ERRCODE = '22023';
    END IF;
    v_max_attempts := m10_recovery.check_work_item(p_method, '{}'::jsonb, p_priority, p_delay_seconds,
                                                   p_max_attempts);
    SELECT t.ord INTO v_bad
      FROM unnest(p_payloads) WITH ORDINALITY AS t(payload, ord)
     WHERE t.payload IS NULL OR jsonb_typeof(t.payload) <> 'object'
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'p_payloads[%] must be a JSON object', v_bad USING ERRCODE = '22023';
    END IF;
    SELECT t.ord INTO v_bad
      FROM unnest(p_payloads) WITH ORDINALITY AS t(payload, ord)
     WHERE octet_length(t.payload::text) > 1048576
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'p_payloads[%] is over the 1 MiB limit', v_bad
            USING ERRCODE = '54000',
                  HINT = 'Store large artefacts elsewhere and enqueue a reference to them.';
    END IF;

    RETURN QUERY
    INSERT INTO m10_recovery.work_queue (candidate_id, method, payload, priority, max_attempts,
                                         available_at, created_at)
    SELECT p_candidate_ids[t.ord], p_method, t.payload, p_priority, v_max_attempts,
           coalesce(p_now, now()) + make_interval(secs => p_delay_seconds), coalesce(p_now, now())
      FROM unnest(p_payloads) WITH ORDINALITY AS t(payload, ord)
     ORDER BY t.ord
    RETURNING id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.enqueue_work_batch(jsonb[], text, integer, double precision, integer, bigint[], timestamptz) IS
'Enqueue many work items of one method in one statement and return their ids in input order.
p_payloads holds 1 .. 10000 JSON objects; p_candidate_ids, when given, pairs with p_payloads by
position. Validation is the same as enqueue_work; any invalid element rejects the whole batch.';
