CREATE OR REPLACE FUNCTION m10_recovery.template_similarity(
    p_template text[],
    p_tokens   text[]
) RETURNS real
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
-- Position-wise similarity (Drain's), with one guard. A position where both sides hold different fixed
-- text is what tells two events apart more often than not ("VM Started" and "VM Paused", "GET" and
-- "POST"): there a merge would hide the difference, so it is refused - except at the last token,
-- where a sentence usually names what it is about (session closed for user alice, removing service
-- x), the variable part that words carry. Differences against a variable (a <*>, or a name=<*>
-- whose value differs) are allowed.
DECLARE
    v_n     integer := cardinality(p_tokens);
    v_equal integer := 0;
    v_a     text;
    v_b     text;
BEGIN
    IF cardinality(p_template) <> v_n THEN
        RETURN NULL;
    END IF;
    IF v_n = 0 THEN
        RETURN 1;
    END IF;
    FOR i IN 1 .. v_n LOOP
        v_a := p_template[i];
        v_b := p_tokens[i];
        IF v_a = v_b THEN
            v_equal := v_equal + 1;
        ELSIF v_a <> '<*>' AND i < v_n AND strpos(v_a, '<*>') = 0 AND strpos(v_b, '<*>') = 0 THEN
            RETURN NULL;
        END IF;
    END LOOP;
    RETURN v_equal::real / v_n;
END
$$;

COMMENT ON FUNCTION m10_recovery.template_similarity(text[], text[]) IS
'Fingerprint v3: the share of positions where a template and a message''s tokens are equal, in [0, 1];
NULL when they cannot be merged: different lengths, or different fixed text at a position other than
the last. Two empty arrays give 1.';
