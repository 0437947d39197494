CREATE OR REPLACE FUNCTION m10_recovery.normalize_message(
    p_message text
) RETURNS text
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- Each step replaces one kind of variable part with a placeholder; the order matters (a URL
    -- contains a path and numbers, a timestamp contains numbers). Every rule names a general shape,
    -- never a token of one system.
    SELECT btrim(regexp_replace(
        -- numbers, alone or inside identifiers (blk_123, worker-7, v2)
        regexp_replace(
        -- key=value and key: value where the value is quoted
        regexp_replace(
        -- durations: 30s, 1.5 ms, 2 minutes
        regexp_replace(
        -- hexadecimal: 0x1f, and runs of 8+ hex digits holding a digit (hashes, object ids)
        regexp_replace(regexp_replace(
        -- file system paths with at least two components
        regexp_replace(
        -- IPv4 addresses, with an optional port
        regexp_replace(
        -- times of day and dates
        regexp_replace(regexp_replace(
        -- UUIDs
        regexp_replace(
        -- e-mail addresses
        regexp_replace(
        -- URLs
        regexp_replace(p_message,
            '[A-Za-z][A-Za-z0-9+.-]*://[^\s"''<>]+', '<URL>', 'g'),
            '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<EMAIL>', 'g'),
            '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}', '<UUID>', 'g'),
            '\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?', '<TS>', 'g'),
            '\m\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?\M', '<TIME>', 'g'),
            '\m\d{1,3}(\.\d{1,3}){3}(:\d+)?\M', '<IP>', 'g'),
            '(/[A-Za-z0-9._~@%+-]+){2,}/?', '<PATH>', 'g'),
            '\m0[xX][0-9A-Fa-f]+\M', '<HEX>', 'g'),
            '\m(?=[0-9A-Fa-f]*\d)[0-9A-Fa-f]{8,}\M', '<HEX>', 'g'),
            '\m\d+(\.\d+)?\s?(ms|us|ns|s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?)\M', '<DUR>', 'g'),
            '([=:]\s*)("[^"]*"|''[^'']*'')', '\1<VAL>', 'g'),
            '-?\d+(\.\d+)?', '<NUM>', 'g'),
        '\s+', ' ', 'g'))
$$;

COMMENT ON FUNCTION m10_recovery.normalize_message(text) IS
'The template of a failure message: variable parts replaced by placeholders (<URL>, <EMAIL>,
<UUID>, <TS>, <TIME>, <IP>, <PATH>, <HEX>, <DUR>, <VAL> for quoted values after = or :, <NUM>),
white space collapsed. Deterministic and idempotent: normalising a template returns it unchanged.
Algorithm version 1 (see error_signature).';
