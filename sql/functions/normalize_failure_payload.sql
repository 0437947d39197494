CREATE OR REPLACE FUNCTION m10_recovery.normalize_failure_payload(
    p_failure_payload jsonb,
    p_label           text   DEFAULT 'failure_payload',
    p_max_bytes       bigint DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_label     text := coalesce(p_label, 'failure_payload');
    v_max_bytes bigint := p_max_bytes;
    v_bytes     integer;
    v_field     text;
    v_code      text;
    v_code_from text;
    v_message   text;
    v_skill     text;
    v_tenant    text;
    v_meta      jsonb;
    v_extra     jsonb;
    v_out       jsonb;
BEGIN
    IF p_failure_payload IS NULL OR jsonb_typeof(p_failure_payload) = 'null' THEN
        RAISE EXCEPTION '% is required: a JSON object describing the failure', v_label
            USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(p_failure_payload) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object, got %', v_label, jsonb_typeof(p_failure_payload)
            USING ERRCODE = '22023';
    END IF;

    IF v_max_bytes IS NULL THEN
        SELECT (s.value #>> '{}')::bigint INTO v_max_bytes
          FROM m10_recovery.settings s
         WHERE s.key = 'max_payload_bytes';
        v_max_bytes := coalesce(v_max_bytes, 1048576);
    END IF;
    -- The size as JSON text, as the caller sent it (less white space).
    v_bytes := octet_length(p_failure_payload::text);
    IF v_bytes > v_max_bytes THEN
        RAISE EXCEPTION '% is % bytes as JSON text; the limit is % bytes', v_label, v_bytes, v_max_bytes
            USING ERRCODE = '54000',
                  HINT = 'The limit is the setting max_payload_bytes (m10_recovery.settings). '
                         'Store large artefacts elsewhere and send a reference to them.';
    END IF;

    -- Every known field has one JSON type; null means absent. (Expressions, not a query: this runs
    -- once per failure on the ingest path.)
    v_field := CASE
        WHEN jsonb_typeof(p_failure_payload->'error_type') NOT IN ('string', 'null') THEN 'error_type'
        WHEN jsonb_typeof(p_failure_payload->'error_code') NOT IN ('string', 'null') THEN 'error_code'
        WHEN jsonb_typeof(p_failure_payload->'raw') NOT IN ('string', 'null') THEN 'raw'
        WHEN jsonb_typeof(p_failure_payload->'error_message') NOT IN ('string', 'null') THEN 'error_message'
        WHEN jsonb_typeof(p_failure_payload->'message') NOT IN ('string', 'null') THEN 'message'
        WHEN jsonb_typeof(p_failure_payload->'stack') NOT IN ('string', 'null') THEN 'stack'
        WHEN jsonb_typeof(p_failure_payload->'skill') NOT IN ('string', 'null') THEN 'skill'
        WHEN jsonb_typeof(p_failure_payload->'tenant') NOT IN ('string', 'null') THEN 'tenant'
        WHEN jsonb_typeof(p_failure_payload->'meta') NOT IN ('object', 'null') THEN 'meta'
    END;
    IF v_field IS NOT NULL THEN
        RAISE EXCEPTION '%.% must be %, got %', v_label, v_field,
                        CASE v_field WHEN 'meta' THEN 'a JSON object' ELSE 'a string' END,
                        jsonb_typeof(p_failure_payload->v_field)
            USING ERRCODE = '22023';
    END IF;

    -- Nesting: the payload is level 0 and its fields level 1, so a field may hold 32 levels of
    -- containers (meta itself counts as one). Deeper documents are refused with the field named;
    -- PostgreSQL's JSON parser itself refuses far deeper ones (54001) before any function runs.
    IF jsonb_path_exists(p_failure_payload, 'strict $.**{33} ? (@.type() == "object" || @.type() == "array")') THEN
        SELECT e.key INTO v_field
          FROM jsonb_each(p_failure_payload) AS e
         WHERE jsonb_path_exists(e.value, 'strict $.**{32} ? (@.type() == "object" || @.type() == "array")')
         ORDER BY e.key
         LIMIT 1;
        RAISE EXCEPTION '%.% nests deeper than 32 levels', v_label, v_field
            USING ERRCODE = '22023',
                  HINT = 'Flatten the structure; nesting is limited to keep ingest cheap and safe.';
    END IF;

    -- Error code: error_type, else error_code; blank counts as absent; default UNKNOWN.
    v_code := nullif(btrim(p_failure_payload->>'error_type', E' \t\r\n'), '');
    v_code_from := 'error_type';
    IF v_code IS NULL THEN
        v_code := nullif(btrim(p_failure_payload->>'error_code', E' \t\r\n'), '');
        v_code_from := 'error_code';
    END IF;
    IF length(v_code) > 200 THEN
        RAISE EXCEPTION '%.% must be at most 200 characters, got %', v_label, v_code_from, length(v_code)
            USING ERRCODE = '22023';
    END IF;

    -- Message: raw, else error_message, else message (the first that is not empty); may be ''.
    v_message := coalesce(nullif(p_failure_payload->>'raw', ''),
                          nullif(p_failure_payload->>'error_message', ''),
                          nullif(p_failure_payload->>'message', ''), '');

    v_skill := nullif(btrim(p_failure_payload->>'skill', E' \t\r\n'), '');
    IF length(v_skill) > 200 THEN
        RAISE EXCEPTION '%.skill must be at most 200 characters, got %', v_label, length(v_skill)
            USING ERRCODE = '22023';
    END IF;
    v_tenant := nullif(btrim(p_failure_payload->>'tenant', E' \t\r\n'), '');
    IF length(v_tenant) > 200 THEN
        RAISE EXCEPTION '%.tenant must be at most 200 characters, got %', v_label, length(v_tenant)
            USING ERRCODE = '22023';
    END IF;

    v_out := jsonb_build_object('error_code', coalesce(v_code, 'UNKNOWN'), 'message', v_message);
    IF nullif(p_failure_payload->>'stack', '') IS NOT NULL THEN
        v_out := v_out || jsonb_build_object('stack', p_failure_payload->'stack');
    END IF;
    IF v_skill IS NOT NULL THEN
        v_out := v_out || jsonb_build_object('skill', v_skill);
    END IF;
    IF v_tenant IS NOT NULL THEN
        v_out := v_out || jsonb_build_object('tenant', v_tenant);
    END IF;
    v_meta := p_failure_payload->'meta';
    IF jsonb_typeof(v_meta) = 'object' THEN
        v_out := v_out || jsonb_build_object('meta', v_meta);
    END IF;
    -- Fields of no known meaning are kept, not dropped: a misspelt field stays visible.
    v_extra := p_failure_payload - ARRAY['error_type', 'error_code', 'raw', 'error_message', 'message', 'stack',
                                         'skill', 'tenant', 'meta'];
    IF v_extra <> '{}'::jsonb THEN
        v_out := v_out || jsonb_build_object('extra', v_extra);
    END IF;
    RETURN v_out;
END;
$$;

COMMENT ON FUNCTION m10_recovery.normalize_failure_payload(jsonb, text, bigint) IS
'Validate a failure payload and return it normalised, as ingest_failure and ingest_failures store it:
{"error_code", "message", and when present "stack", "skill", "tenant", "meta", "extra"}.
error_code is error_type, else error_code (trimmed; blank or absent gives ''UNKNOWN''; at most 200
characters); message is raw, else error_message, else message (the first non-empty one, else '''');
skill and tenant are trimmed strings of at most 200 characters; meta is an object; JSON null means
absent; any other top-level fields are kept under "extra". The payload must be an object of at
most p_max_bytes bytes as JSON text (NULL reads the setting max_payload_bytes) and nest at most
32 levels below a field. Raises 22023 (or 54000 over the size limit) with a message naming the
field as p_label.field, e.g. failure_payload.error_type must be a string, got number.';
