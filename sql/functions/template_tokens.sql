CREATE OR REPLACE FUNCTION m10_recovery.template_tokens(
    p_template text
) RETURNS text[]
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
-- The second stage of fingerprint v3: the tokens of a normalize_message template (split on its single
-- spaces), each one either fixed text or the variable '<*>'. Three rules, none naming a log source:
-- * A token holding a placeholder is a variable (the rule of Drain and most log parsers, "a token
--   with digits is a parameter", after normalize_message turned digits into placeholders):
--   blk_<NUM>, eth<NUM>, [node_A<NUM>], SOCKS<NUM>, (<HOST>), <SIZE>), <HOST>:<NUM>. Except a
--   name=value or name:value pair whose name has no placeholder: the name is fixed text that says what
--   the value is, so it stays (uid=<*>, onExtend:<*>). A dotted name is a name only before '=' (a
--   setting such as a.b.c=1); before ':' it is a host and its port (web.example.cn:<NUM>).
-- * An empty pair of brackets or quotes is a value that happened to be empty: (), [], {}, "", ''.
-- * A run of variables is one variable, whatever its length: a value that prints as one word or as
--   several (12 KB or 12 KB (12288 B), <HOST> or <HOST> (alias)) is one variable part.
DECLARE
    v_out  text[] := '{}';
    v_tok  text COLLATE "C";
    v_name text COLLATE "C";
BEGIN
    IF p_template = '' THEN
        RETURN v_out;
    END IF;
    FOREACH v_tok IN ARRAY string_to_array(p_template, ' ') LOOP
        IF v_tok IN ('()', '[]', '{}', '""', '''''') THEN
            v_tok := '<*>';
        ELSIF strpos(v_tok, '<') > 0 AND v_tok ~ '<[A-Z]+>' THEN  -- strpos first: most tokens are words
            v_name := substring(v_tok FROM '^(?:[A-Za-z_][A-Za-z0-9_.-]*=|[A-Za-z_][A-Za-z0-9_-]*:)(?=.)');
            v_tok := coalesce(v_name, '') || '<*>';
        END IF;
        IF v_tok = '<*>' AND cardinality(v_out) > 0 AND v_out[cardinality(v_out)] = '<*>' THEN
            CONTINUE;
        END IF;
        v_out := v_out || v_tok;
    END LOOP;
    RETURN v_out;
END
$$;

COMMENT ON FUNCTION m10_recovery.template_tokens(text) IS
'Fingerprint v3, stage 2: the tokens of a normalize_message template, a token holding a placeholder
becoming the variable <*> (name=<*> and name:<*> keep their name), an empty () [] {} "" '''' a
variable, and a run of variables one <*>. An empty template gives an empty array; NULL gives NULL.';
