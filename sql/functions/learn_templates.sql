CREATE OR REPLACE FUNCTION m10_recovery.learn_templates(
    p_error_codes text[],
    p_messages    text[],
    p_now         timestamptz DEFAULT NULL
) RETURNS TABLE (
    ordinal            integer,
    error_signature    text,
    template_id        bigint,
    template_key       text,
    template           text,
    template_version   integer,
    action             text,
    similarity         real,
    variable_positions integer[],
    merge_id           bigint,
    provenance         jsonb
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
-- learn_template for many messages, in order, as if learned one by one. The shapes that no template
-- describes yet are locked first, in lock-key order: two batches then take their shape locks in one
-- order and before any other lock of the caller's ingest, so they cannot deadlock. (A shape described
-- now stays described: templates only widen.)
#variable_conflict use_column
DECLARE
    -- The token array of each message as an array literal: one text[] per element, built in one
    -- statement (appending to a growing jsonb copied it every time).
    v_tokens text[];
    -- Repeats: a 'matched' result depends only on the store, the code and the tokens, so while no
    -- template has been created or merged since, a repeat of an element reuses its result.
    v_first  integer[];  -- per element: the first element of the batch with the same code and tokens
    v_memo   integer[];  -- per first element: the element whose latest 'matched' result repeats reuse
    v_memo_at integer[]; -- per first element: the store changes (v_changes) when that was computed
    v_changes integer := 0;
    v_f      integer;
    v_row    record;
    -- The results, by element: src[i] is the element whose result element i reports (i itself, or
    -- the one it repeats); the o_ arrays hold the results computed. One query returns them all.
    src      integer[];
    o_sig    text[];
    o_tid    bigint[];
    o_key    text[];
    o_tmpl   text[];
    o_ver    integer[];
    o_action text[];
    o_sim    real[];
    o_pos    text[];     -- variable_positions as array literals (their lengths differ)
    o_merge  bigint[];
    o_prov   jsonb[];
BEGIN
    IF cardinality(p_error_codes) IS DISTINCT FROM cardinality(p_messages) THEN
        RAISE EXCEPTION 'p_error_codes and p_messages must be arrays of one length, got % and %',
                        coalesce(cardinality(p_error_codes)::text, 'NULL'), coalesce(cardinality(p_messages)::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    v_tokens := ARRAY(SELECT m10_recovery.template_tokens(m10_recovery.normalize_message(coalesce(u.m, '')))::text
                        FROM unnest(p_messages) WITH ORDINALITY AS u(m, i)
                       ORDER BY u.i);
    -- Repeats of one message are the norm in a batch: each distinct token array is checked once.
    PERFORM pg_advisory_xact_lock(k.key)
       FROM (SELECT DISTINCT m10_recovery.template_lock_key(m10_recovery.template_shape(e.tokens)) AS key
               FROM (SELECT DISTINCT d.lit::text[] AS tokens FROM unnest(v_tokens) AS d(lit)) e
              -- A template equal to the tokens (one index probe) is tried before the scan of the shape;
              -- OR evaluates its arms in order. LIMIT 1 keeps each arm a probe per shape: without it
              -- the planner may hash every template of the store, on every batch.
              WHERE NOT (EXISTS (SELECT 1 FROM m10_recovery.message_templates t
                                  WHERE md5(t.template) = md5(array_to_string(e.tokens, ' '))
                                    AND t.template = array_to_string(e.tokens, ' ')
                                  LIMIT 1)
                         OR EXISTS (
                        SELECT 1 FROM m10_recovery.message_templates t
                         WHERE t.shape_key = m10_recovery.template_shape(e.tokens)
                           AND NOT EXISTS (SELECT 1 FROM unnest(t.tokens, e.tokens) AS u(a, b)
                                            WHERE u.a <> u.b AND u.a <> '<*>')
                         LIMIT 1))
              ORDER BY 1) k;
    v_first := ARRAY(SELECT min(u.i) OVER (PARTITION BY upper(btrim(coalesce(c.code, ''))), u.t)::integer
                       FROM unnest(v_tokens) WITH ORDINALITY AS u(t, i)
                       JOIN unnest(p_error_codes) WITH ORDINALITY AS c(code, i) ON c.i = u.i
                      ORDER BY u.i);
    FOR i IN 1 .. coalesce(cardinality(p_messages), 0) LOOP
        v_f := v_first[i];
        IF v_f < i AND v_memo_at[v_f] = v_changes THEN
            src[i] := v_memo[v_f];
            CONTINUE;
        END IF;
        SELECT * INTO v_row FROM m10_recovery.learn_template_tokens(p_error_codes[i], v_tokens[i]::text[], p_now);
        IF v_row.action = 'matched' THEN
            v_memo[v_f] := i;
            v_memo_at[v_f] := v_changes;
        ELSE
            v_changes := v_changes + 1;
        END IF;
        src[i] := i;
        o_sig[i] := v_row.error_signature;
        o_tid[i] := v_row.template_id;
        o_key[i] := v_row.template_key;
        o_tmpl[i] := v_row.template;
        o_ver[i] := v_row.template_version;
        o_action[i] := v_row.action;
        o_sim[i] := v_row.similarity;
        o_pos[i] := v_row.variable_positions::text;
        o_merge[i] := v_row.merge_id;
        o_prov[i] := v_row.provenance;
    END LOOP;
    RETURN QUERY
    SELECT e.i::integer, o_sig[e.s], o_tid[e.s], o_key[e.s], o_tmpl[e.s], o_ver[e.s], o_action[e.s], o_sim[e.s],
           o_pos[e.s]::integer[], o_merge[e.s], o_prov[e.s]
      FROM unnest(src) WITH ORDINALITY AS e(s, i)
     ORDER BY e.i;
END
$$;

COMMENT ON FUNCTION m10_recovery.learn_templates(text[], text[], timestamptz) IS
'learn_template for many failures in one call (ingest_failures), element i of p_error_codes with
element i of p_messages, learned in order; one row per element with its 1-based ordinal. Shapes that
need a new or wider template are locked up front in a fixed order, so concurrent batches never
deadlock. Arrays of different lengths raise 22023.';
