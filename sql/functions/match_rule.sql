CREATE OR REPLACE FUNCTION m10_recovery.match_rule(
    p_match_kind text,
    p_pattern    text,
    p_value      text
) RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_value IS NULL OR p_pattern IS NULL THEN
        RETURN false;
    END IF;
    CASE p_match_kind
        WHEN 'exact' THEN
            -- the whole value, case-insensitively: 'AUTH' is not 'OAUTH', '500' is not '5001'
            RETURN lower(p_value) = lower(p_pattern);
        WHEN 'prefix' THEN
            -- starts_with compares characters: '.', '%', '_' and '\' in the pattern are literal
            RETURN starts_with(lower(p_value), lower(p_pattern));
        WHEN 'regex' THEN
            -- an invalid pattern raises invalid_regular_expression (2201B); the caller decides
            RETURN p_value ~* p_pattern;
        ELSE
            RAISE EXCEPTION 'unknown match kind %', coalesce(quote_literal(p_match_kind), 'NULL')
                USING ERRCODE = '22023',
                      HINT = 'A rule''s match_kind is exact, prefix or regex.';
    END CASE;
END;
$$;

COMMENT ON FUNCTION m10_recovery.match_rule(text, text, text) IS
'Whether p_value matches a suggestion rule''s pattern. exact: the whole value equals the pattern,
case-insensitively. prefix: the value starts with the pattern, case-insensitively, character by
character (no LIKE or regex meaning: ''.'', ''%'', ''_'' are literal). regex: a PostgreSQL ARE matched
case-insensitively (~*); an invalid pattern raises invalid_regular_expression (2201B), which
evaluate_candidate catches per rule. A NULL value or pattern never matches; an unknown kind is 22023.';
