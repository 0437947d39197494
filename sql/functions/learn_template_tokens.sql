CREATE OR REPLACE FUNCTION m10_recovery.learn_template_tokens(
    p_error_code text,
    p_tokens     text[],
    p_now        timestamptz DEFAULT NULL
) RETURNS TABLE (
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
-- Fingerprint v3, stage 3 (learn_template runs stages 1 and 2: normalize_message, template_tokens).
-- A message goes to the most specific known template of its shape that already describes it (every
-- fixed token equal); else, under a lock on its shape, it is merged into the most similar template
-- of its shape when template_similarity reaches the setting template_similarity_threshold (one
-- threshold for every source), the differing positions becoming <*>; else it becomes a new template.
-- Ties go to the older template, so the outcome depends only on the store and the message.
-- Every change is logged in template_merges (replay_template_log rebuilds the store from it).
-- The signature hashes the template's key, which a merge keeps: failures grouped before a merge
-- keep their signature.
-- Concurrency: a message that matches writes nothing and takes no lock. Creating or merging holds
-- a transaction advisory lock on the shape, so concurrent first reports of one shape make one
-- template; a caller that learns several shapes in one transaction takes them in a fixed order
-- (learn_templates) so two such transactions cannot deadlock.
#variable_conflict use_column
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_code      text COLLATE "C" := upper(btrim(coalesce(p_error_code, '')) COLLATE "C");
    v_tokens    text[];
    v_shape     text;
    v_t         m10_recovery.message_templates;
    v_score     real;
    v_threshold real;
    v_best      bigint;
    v_before    text[];
    v_after     text[];
    v_positions integer[] := '{}';
    v_action    text;
    v_merge     bigint;
    v_key       text;
    v_text      text;
BEGIN
    IF p_tokens IS NULL THEN
        RAISE EXCEPTION 'p_tokens is required (template_tokens of a normalised message)' USING ERRCODE = '22023';
    END IF;
    v_tokens := p_tokens;
    v_shape := m10_recovery.template_shape(v_tokens);

    -- A template equal to the message is the most specific one that describes it (the oldest, should
    -- a seed have recurred); one index probe.
    v_text := array_to_string(v_tokens, ' ');
    SELECT t.* INTO v_t FROM m10_recovery.message_templates t
     WHERE md5(t.template) = md5(v_text) AND t.template = v_text AND t.shape_key = v_shape
     ORDER BY t.id
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT t.* INTO v_t FROM m10_recovery.message_templates t
         WHERE t.shape_key = v_shape
           AND NOT EXISTS (SELECT 1 FROM unnest(t.tokens, v_tokens) AS u(a, b) WHERE u.a <> u.b AND u.a <> '<*>')
         ORDER BY t.fixed_count DESC, t.id
         LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        PERFORM pg_advisory_xact_lock(m10_recovery.template_lock_key(v_shape));
        -- Again: a transaction that held the lock may have committed this template meanwhile.
        SELECT t.* INTO v_t FROM m10_recovery.message_templates t
         WHERE t.shape_key = v_shape
           AND NOT EXISTS (SELECT 1 FROM unnest(t.tokens, v_tokens) AS u(a, b) WHERE u.a <> u.b AND u.a <> '<*>')
         ORDER BY t.fixed_count DESC, t.id
         LIMIT 1;
    END IF;
    IF FOUND THEN
        v_action := 'matched';
        -- A template equal to the message is similarity 1 without comparing it token by token.
        v_score := CASE WHEN v_t.template = v_text THEN 1
                        ELSE m10_recovery.template_similarity(v_t.tokens, v_tokens) END;
    ELSE
        SELECT (s.value #>> '{}')::real INTO v_threshold
          FROM m10_recovery.settings s WHERE s.key = 'template_similarity_threshold';
        v_threshold := coalesce(v_threshold, 0.5);
        SELECT s.id, s.score INTO v_best, v_score
          FROM (SELECT t.id, m10_recovery.template_similarity(t.tokens, v_tokens) AS score
                  FROM m10_recovery.message_templates t
                 WHERE t.shape_key = v_shape) s
         WHERE s.score >= v_threshold
         ORDER BY s.score DESC, s.id
         LIMIT 1;
        IF FOUND THEN
            SELECT t.* INTO v_t FROM m10_recovery.message_templates t WHERE t.id = v_best;
            v_before := v_t.tokens;
            v_action := 'merged';
            v_after := m10_recovery.merge_template(v_t.tokens, v_tokens);
            SELECT coalesce(array_agg(u.i::integer ORDER BY u.i), '{}') INTO v_positions
              FROM unnest(v_before, v_after) WITH ORDINALITY AS u(a, b, i) WHERE u.a <> u.b;
            UPDATE m10_recovery.message_templates t
               SET tokens = v_after, template = array_to_string(v_after, ' '),
                   fixed_count = (SELECT count(*) FROM unnest(v_after) x WHERE x <> '<*>'),
                   version = t.version + 1, updated_at = v_now
             WHERE t.id = v_t.id
            RETURNING t.* INTO v_t;
            INSERT INTO m10_recovery.template_merges AS m
                   (template_id, template_key, event, template_version, message_tokens, template_before,
                    template_after, similarity, threshold, variable_positions, algorithm, created_at)
            VALUES (v_t.id, v_t.template_key, 'merged', v_t.version, v_tokens, v_before, v_after,
                    v_score, v_threshold, v_positions, 'v3', v_now)
            RETURNING m.id INTO v_merge;
        ELSE
            v_action := 'created';
            -- The key is a function of the store: the shape, the seed message and how many
            -- templates the shape already has (a seed can recur once its first template widened).
            v_key := left(encode(sha256(convert_to(
                         v_shape || E'\n' || v_text || E'\n'
                         || (SELECT count(*) FROM m10_recovery.message_templates t WHERE t.shape_key = v_shape),
                         'UTF8')), 'hex'), 32);
            BEGIN
                INSERT INTO m10_recovery.message_templates AS t
                       (template_key, shape_key, tokens, template, fixed_count, created_at, updated_at)
                VALUES (v_key, v_shape, v_tokens, v_text,
                        (SELECT count(*) FROM unnest(v_tokens) x WHERE x <> '<*>'), v_now, v_now)
                RETURNING t.* INTO v_t;
            EXCEPTION WHEN unique_violation THEN
                -- Only a snapshot older than the lock (REPEATABLE READ) can miss the template.
                RAISE EXCEPTION 'template % of shape % was created concurrently; retry', v_key, v_shape
                    USING ERRCODE = '40001';
            END;
            v_score := 1;
            INSERT INTO m10_recovery.template_merges AS m
                   (template_id, template_key, event, template_version, message_tokens, template_after,
                    similarity, threshold, algorithm, created_at)
            VALUES (v_t.id, v_t.template_key, 'created', 1, v_tokens, v_tokens, 1, v_threshold, 'v3', v_now)
            RETURNING m.id INTO v_merge;
        END IF;
    END IF;

    error_signature := 'v3:' || left(encode(sha256(convert_to(
                           length(v_code)::text || ':' || v_code || v_t.template_key, 'UTF8')), 'hex'), 32);
    template_id := v_t.id;
    template_key := v_t.template_key;
    template := v_t.template;
    template_version := v_t.version;
    action := v_action;
    similarity := v_score;
    variable_positions := v_positions;
    merge_id := v_merge;
    provenance := jsonb_build_object('template_id', v_t.id, 'template_key', v_t.template_key,
                                     'template', v_t.template, 'template_version', v_t.version,
                                     'action', v_action, 'similarity', v_score,
                                     'threshold', v_threshold, 'variable_positions', to_jsonb(v_positions),
                                     'merge_id', v_merge, 'algorithm', 'v3');
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION m10_recovery.learn_template_tokens(text, text[], timestamptz) IS
'Fingerprint v3, stage 3: learn_template for a message already tokenised by template_tokens (callers
that tokenise once for other uses, such as learn_templates). See learn_template.';
