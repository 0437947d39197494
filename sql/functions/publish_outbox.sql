CREATE OR REPLACE FUNCTION m10_recovery.publish_outbox(
    p_event_type     text,
    p_payload        jsonb,
    p_aggregate_type text        DEFAULT NULL,
    p_aggregate_id   text        DEFAULT NULL,
    p_now            timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
    v_id  bigint;
BEGIN
    IF p_event_type IS NULL OR p_event_type !~ '^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$' OR length(p_event_type) > 200 THEN
        RAISE EXCEPTION 'p_event_type must be a dotted lower-case name such as recovery.candidate.created (at most 200 characters), got %',
                        coalesce(quote_literal(left(p_event_type, 200)), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
        RAISE EXCEPTION 'p_payload must be a JSON object, got %', coalesce('a JSON ' || jsonb_typeof(p_payload), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- pg_column_size reads the stored size without serialising the document again.
    IF pg_column_size(p_payload) > 1048576 THEN
        RAISE EXCEPTION 'p_payload is % bytes; the limit is 1048576 (1 MiB)', pg_column_size(p_payload)
            USING ERRCODE = '54000',
                  HINT = 'Publish a reference to the data (an id, a URL) instead of the data itself.';
    END IF;
    IF length(p_aggregate_type) > 200 OR length(p_aggregate_id) > 200
       OR btrim(p_aggregate_type) = '' OR btrim(p_aggregate_id) = '' THEN
        RAISE EXCEPTION 'p_aggregate_type and p_aggregate_id must be NULL or non-blank names of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO m10_recovery.outbox (event_type, payload, aggregate_type, aggregate_id, next_retry_at, created_at, updated_at)
    VALUES (p_event_type, p_payload, p_aggregate_type, p_aggregate_id, v_now, v_now, v_now)
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.publish_outbox(text, jsonb, text, text, timestamptz) IS
'Publish an event in the caller''s transaction and return its outbox id: it is delivered only if
that transaction commits, and then at least once, under a stable event_id that receivers dedup by.
p_event_type is a dotted lower-case name (recovery.candidate.created, webhook.order.paid); its
prefix chooses the delivery handler in the processor (m10 outbox), and a type no handler serves is
dead-lettered with that reason. p_payload is a JSON object of at most 1 MiB (54000 above);
p_aggregate_type / p_aggregate_id optionally name what the event is about. One INSERT, no lookup.
Invalid arguments raise 22023 and write nothing.';
