CREATE OR REPLACE FUNCTION m10_recovery.similar_candidates(
    p_candidate_id bigint,
    p_limit        integer DEFAULT 10
) RETURNS TABLE (
    candidate_id     bigint,
    error_code       text,
    error_signature  text,
    template_id      bigint,
    template         text,
    score            real,
    shared_words     text[],
    occurrence_count integer,
    decision         text
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
-- Near templates by the fixed words they share (Jaccard of their sets of fixed tokens, <*> left out):
-- position-free, so a template one word longer or with words moved still scores, and explainable
-- (shared_words). Candidates of the same template score 1. Candidates fingerprinted before v3 (no
-- template_id) are compared through their message_template.
#variable_conflict use_column
DECLARE
    v_template_id bigint;
    v_words       text[];
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_limit must be between 1 and 1000, got %', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    SELECT c.template_id, ARRAY(SELECT DISTINCT w FROM unnest(coalesce(t.tokens, string_to_array(c.message_template, ' '))) AS w
                                 WHERE w <> '<*>' AND w <> '')
      INTO v_template_id, v_words
      FROM m10_recovery.recovery_candidates c
      LEFT JOIN m10_recovery.message_templates t ON t.id = c.template_id
     WHERE c.id = p_candidate_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'candidate % not found', p_candidate_id USING ERRCODE = 'P0002';
    END IF;
    RETURN QUERY
    WITH others AS (
        SELECT c.id, c.error_code, c.error_signature, c.template_id, c.occurrence_count, c.decision,
               coalesce(t.template, c.message_template) AS template,
               ARRAY(SELECT DISTINCT w FROM unnest(coalesce(t.tokens, string_to_array(c.message_template, ' '))) AS w
                      WHERE w <> '<*>' AND w <> '') AS words
          FROM m10_recovery.recovery_candidates c
          LEFT JOIN m10_recovery.message_templates t ON t.id = c.template_id
         WHERE c.id <> p_candidate_id
    ),
    scored AS (
        SELECT o.*,
               ARRAY(SELECT w FROM unnest(o.words) AS w WHERE w = ANY (v_words) ORDER BY w) AS shared,
               CASE WHEN o.template_id = v_template_id THEN 1::real
                    ELSE ((SELECT count(*) FROM unnest(o.words) AS w WHERE w = ANY (v_words))::real
                          / nullif((SELECT count(DISTINCT w) FROM unnest(o.words || v_words) AS w), 0))::real
               END AS score
          FROM others o
    )
    SELECT s.id, s.error_code, s.error_signature, s.template_id, s.template, s.score, s.shared,
           s.occurrence_count, s.decision
      FROM scored s
     WHERE s.score > 0
     ORDER BY s.score DESC, s.id
     LIMIT p_limit;
END
$$;

COMMENT ON FUNCTION m10_recovery.similar_candidates(bigint, integer) IS
'Candidates whose learned templates are near candidate p_candidate_id''s, best first (then by id), at
most p_limit (1 to 1000): score 1 for the same template, else the Jaccard index of the two templates''
sets of fixed words (<*> left out), with the shared words; candidates sharing no word are left out.
Candidates from before fingerprint v3 compare through message_template. An unknown candidate raises
P0002, a bad limit 22023. Reads every candidate: an operator''s tool, not a hot path.';
