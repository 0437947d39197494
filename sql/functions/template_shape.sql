CREATE OR REPLACE FUNCTION m10_recovery.template_shape(
    p_tokens text[]
) RETURNS text
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
-- plpgsql, not SQL: the SET clause keeps a SQL function from being inlined, and a SQL function
-- called from plpgsql is planned again in every transaction (40 us per ingest, measured).
BEGIN
    RETURN cardinality(p_tokens)::text || ' '
           || CASE WHEN cardinality(p_tokens) = 0 THEN ''
                   WHEN strpos(p_tokens[1], '<*>') > 0 THEN '<*>'
                   ELSE left(p_tokens[1], 200) END;
END
$$;

COMMENT ON FUNCTION m10_recovery.template_shape(text[]) IS
'Fingerprint v3: the shape of a token array, "<token count> <first token>" (first token cut at 200
characters, <*> when it holds a variable). Only templates of one shape are compared with a message:
as in Drain, messages of different lengths or first words are different events.';
