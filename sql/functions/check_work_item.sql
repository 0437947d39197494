CREATE OR REPLACE FUNCTION m10_recovery.check_work_item(
    p_method        text,
    p_payload       jsonb,
    p_priority      integer,
    p_delay_seconds double precision,
    p_max_attempts  integer
) RETURNS integer
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_default_max_attempts integer;
BEGIN
    SELECT m.default_max_attempts INTO v_default_max_attempts
      FROM m10_recovery.work_methods m
     WHERE m.name = p_method;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown work method %', coalesce(quote_literal(p_method), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Known methods are the rows of m10_recovery.work_methods.';
    END IF;
    IF p_payload IS NOT NULL AND jsonb_typeof(p_payload) <> 'object' THEN
        RAISE EXCEPTION 'p_payload must be a JSON object, got a JSON %', jsonb_typeof(p_payload)
            USING ERRCODE = '22023';
    END IF;
    -- The size as JSON text: pg_column_size would measure a compressed value read from a table.
    IF octet_length(p_payload::text) > 1048576 THEN
        RAISE EXCEPTION 'p_payload is % bytes of JSON; the limit is 1 MiB', octet_length(p_payload::text)
            USING ERRCODE = '54000',
                  HINT = 'Store large artefacts elsewhere and enqueue a reference to them.';
    END IF;
    IF p_priority IS NULL OR p_priority NOT BETWEEN -32768 AND 32767 THEN
        RAISE EXCEPTION 'p_priority must be between -32768 and 32767, got %', coalesce(p_priority::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_delay_seconds IS NULL OR NOT (p_delay_seconds BETWEEN 0 AND 31536000) THEN
        RAISE EXCEPTION 'p_delay_seconds must be between 0 and 31536000 (one year), got %',
                        coalesce(p_delay_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_max_attempts IS NOT NULL AND p_max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'p_max_attempts must be between 1 and 100, got %', p_max_attempts
            USING ERRCODE = '22023';
    END IF;
    RETURN coalesce(p_max_attempts, v_default_max_attempts);
END;
$$;

COMMENT ON FUNCTION m10_recovery.check_work_item(text, jsonb, integer, double precision, integer) IS
'Validate the arguments of one work item for enqueue_work and enqueue_work_batch; return the
max_attempts to store (p_max_attempts, or the method''s default). Raises 22023 (invalid argument) or
54000 (payload over 1 MiB) with a message naming the argument.';
