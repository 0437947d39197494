CREATE OR REPLACE FUNCTION m10_recovery.replay_template_log(
    p_until_merge_id bigint DEFAULT NULL
) RETURNS TABLE (
    template_key text,
    tokens       text[],
    version      integer
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
-- The store as the log says it is: each 'created' row starts a template from its message, each
-- 'merged' row widens its template with merge_template. A recorded result that the replay does not
-- reproduce is an error (55000): the log and the store disagree.
#variable_conflict use_column
DECLARE
    v_state jsonb := '{}';
    v_row   m10_recovery.template_merges;
    v_cur   text[];
    v_next  text[];
BEGIN
    FOR v_row IN SELECT m.* FROM m10_recovery.template_merges m
                  WHERE p_until_merge_id IS NULL OR m.id <= p_until_merge_id
                  ORDER BY m.id LOOP
        IF v_row.event = 'created' THEN
            IF v_state ? v_row.template_key THEN
                RAISE EXCEPTION 'template_merges %: template % created twice', v_row.id, v_row.template_key
                    USING ERRCODE = '55000';
            END IF;
            v_next := v_row.message_tokens;
        ELSE
            IF NOT v_state ? v_row.template_key THEN
                RAISE EXCEPTION 'template_merges %: merge into template % before it was created',
                                v_row.id, v_row.template_key
                    USING ERRCODE = '55000';
            END IF;
            v_cur := ARRAY(SELECT jsonb_array_elements_text(v_state->v_row.template_key->'tokens'));
            v_next := m10_recovery.merge_template(v_cur, v_row.message_tokens);
        END IF;
        IF v_next IS DISTINCT FROM v_row.template_after THEN
            RAISE EXCEPTION 'template_merges %: replay gives %, the log recorded %', v_row.id, v_next,
                            v_row.template_after
                USING ERRCODE = '55000';
        END IF;
        v_state := v_state || jsonb_build_object(v_row.template_key,
                       jsonb_build_object('tokens', to_jsonb(v_next), 'version', v_row.template_version));
    END LOOP;
    RETURN QUERY
    SELECT s.key, ARRAY(SELECT jsonb_array_elements_text(s.value->'tokens')), (s.value->>'version')::integer
      FROM jsonb_each(v_state) AS s
     ORDER BY s.key;
END
$$;

COMMENT ON FUNCTION m10_recovery.replay_template_log(bigint) IS
'The learned template store rebuilt from the append-only log template_merges alone (up to
p_until_merge_id, or all of it): one row per template_key with its tokens and version, ordered by key.
Equal to message_templates when the log is whole; a row whose recorded result the replay does not
reproduce raises 55000.';
