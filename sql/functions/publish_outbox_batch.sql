CREATE OR REPLACE FUNCTION m10_recovery.publish_outbox_batch(
    p_event_type     text,
    p_payloads       jsonb[],
    p_aggregate_type text        DEFAULT NULL,
    p_aggregate_ids  text[]      DEFAULT NULL,
    p_now            timestamptz DEFAULT NULL
) RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
    v_bad integer;
BEGIN
    IF p_event_type IS NULL OR p_event_type !~ '^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$' OR length(p_event_type) > 200 THEN
        RAISE EXCEPTION 'p_event_type must be a dotted lower-case name such as recovery.candidate.created (at most 200 characters), got %',
                        coalesce(quote_literal(left(p_event_type, 200)), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_aggregate_ids IS NOT NULL AND cardinality(p_aggregate_ids) <> coalesce(cardinality(p_payloads), 0) THEN
        RAISE EXCEPTION 'p_aggregate_ids must be NULL or as long as p_payloads, got % and %',
                        cardinality(p_aggregate_ids), coalesce(cardinality(p_payloads), 0)
            USING ERRCODE = '22023';
    END IF;
    IF length(p_aggregate_type) > 200 OR btrim(p_aggregate_type) = '' THEN
        RAISE EXCEPTION 'p_aggregate_type must be NULL or a non-blank name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    SELECT min(u.n) INTO v_bad
      FROM unnest(p_payloads, p_aggregate_ids) WITH ORDINALITY AS u(payload, aggregate_id, n)
     WHERE u.payload IS NULL OR jsonb_typeof(u.payload) <> 'object' OR pg_column_size(u.payload) > 1048576
        OR length(u.aggregate_id) > 200 OR btrim(u.aggregate_id) = '';
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'p_payloads[%] must be a JSON object of at most 1 MiB, and p_aggregate_ids[%] NULL or a non-blank name of at most 200 characters',
                        v_bad, v_bad
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    INSERT INTO m10_recovery.outbox (event_type, payload, aggregate_type, aggregate_id, next_retry_at, created_at, updated_at)
    SELECT p_event_type, u.payload, p_aggregate_type, u.aggregate_id, v_now, v_now, v_now
      FROM unnest(p_payloads, p_aggregate_ids) WITH ORDINALITY AS u(payload, aggregate_id, n)
     ORDER BY u.n
    RETURNING id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.publish_outbox_batch(text, jsonb[], text, text[], timestamptz) IS
'publish_outbox for many events of one type in one INSERT, in the caller''s transaction: one event
per element of p_payloads, about
p_aggregate_type and the matching element of p_aggregate_ids; returns the outbox ids in input order.
The same rules as publish_outbox apply to every element; the first invalid one is named (22023) and
nothing is written.';
