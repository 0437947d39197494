CREATE OR REPLACE FUNCTION m10_recovery.merge_template(
    p_template text[],
    p_tokens   text[]
) RETURNS text[]
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY(SELECT CASE WHEN t.a = t.b THEN t.a ELSE '<*>' END
               FROM unnest(p_template, p_tokens) WITH ORDINALITY AS t(a, b, i)
              ORDER BY t.i);

COMMENT ON FUNCTION m10_recovery.merge_template(text[], text[]) IS
'Fingerprint v3: a template widened by a message of the same length: each position where they differ
becomes <*>. Deterministic; merge_template(merge_template(t, m), m) = merge_template(t, m).';
