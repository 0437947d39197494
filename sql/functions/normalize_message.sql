CREATE OR REPLACE FUNCTION m10_recovery.normalize_message(
    p_message text
) RETURNS text
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
-- Algorithm v2 (error_signature prefixes 'v2:'). Each step replaces one general shape of variable
-- part with a placeholder; none names a system, a component or a token of one log source.
--
-- One placeholder per slot, whatever the value: a variable slot must give the same placeholder for
-- every value it can hold, or messages differing only in that value would not share a signature.
-- So hexadecimal numbers are <NUM> like decimal ones (a hex field such as 00106570 is often all
-- decimal digits), and host names, IPv4 and IPv6 addresses are all <HOST> (a peer is named one way
-- or the other by configuration).
--
-- Soundness rules every step follows, so that normalising a template returns it unchanged:
-- * The working copy is COLLATE "C", and the classes are explicit ASCII ([0-9], [A-Za-z],
--   [ \t\n\r\f\v]), never \d \w \s \m or [[:alpha:]], which follow the database's locale: the
--   result must not (IMMUTABLE).
-- * The last digit step turns every ASCII digit into <NUM>, so a template holds no digit, and the
--   steps that need a digit (the block under `v ~ '[0-9]'`) cannot fire on a template.
-- * The steps that run whether or not the message holds a digit (URL, e-mail, path, host name,
--   quoted value, UUID, hex pairs, white space, list) never match '<' or '>', and their
--   look-arounds treat digits, letters, '<' and '>' alike, so a digit run becoming <NUM> beside
--   them neither creates nor breaks one of their matches.
-- * Placeholders are <WORD> in capitals, so no later step reads one as text.
-- * No back-references (PostgreSQL would backtrack) and look-behinds only at the start of a pattern
--   (one at its end made a URL pattern quadratic): these patterns run in time linear in practice;
--   a 1 MB message takes well under a second.
-- A guard before a step (strpos, or a small pattern every match must contain) skips it when it
-- cannot match; plpgsql with guards was measured faster than one nested SQL expression. The
-- function uses 22 distinct patterns: a session caches 32 compiled ones, so the guards are strpos
-- calls where that is as exact, and patterns are merged where that costs no time.
DECLARE
    v text COLLATE "C" := p_message;
    v_unit boolean;
BEGIN
    -- URL: scheme://anything up to white space, a quote or '<>'; trailing punctuation stays text,
    -- except the ']' closing an IPv6 host (http://[::1]).
    IF strpos(v, '://') > 0 THEN
        v := regexp_replace(v,
            '[A-Za-z][A-Za-z0-9+.-]*://(?:\[[0-9A-Fa-f:.]*\](?:[^ \t\n\r\f\v"''<>]*[^ \t\n\r\f\v"''<>.,;:!?)\]}])?'
            || '|[^ \t\n\r\f\v"''<>]*[^ \t\n\r\f\v"''<>.,;:!?)\]}])',
            '<URL>', 'g');
    END IF;
    -- E-mail address: local@domain.tld.
    IF strpos(v, '@') > 0 THEN
        v := regexp_replace(v,
            '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}',
            '<EMAIL>', 'g');
    END IF;
    -- Path, not glued to a word before it ("and/or", "I/O", "1/2/3" stay text), optionally with a
    -- ?query: absolute with two components or more, or ending in '/' (/var/log/x.log, /tmp/,
    -- /a//b); relative from ./ ../ or ~/ (./run, ../lib/x.so); C:\windows\path. A final '.' is
    -- punctuation, not part of the path. A lone /word is kept: it is as often prose as a path.
    IF strpos(v, '/') > 0 OR strpos(v, '\') > 0 THEN
        v := regexp_replace(v,
            '(?<![A-Za-z0-9<>._~@%+-])(?:'
            || '(?:/+(?:[A-Za-z0-9._~@%+-]+/+)+|(?:\.\.?|~)/+(?:[A-Za-z0-9._~@%+-]+/+)*)'
            ||   '(?:[A-Za-z0-9._~@%+-]*[A-Za-z0-9_~@%+-])?'
            ||   '(?:\?[^ \t\n\r\f\v"''<>]*[^ \t\n\r\f\v"''<>.,;:!?)\]}])?'
            || '|[A-Za-z]:\\[^ \t\n\r\f\v"''<>]*[^ \t\n\r\f\v"''<>.,;:!?)\]}])',
            '<PATH>', 'g');
    END IF;
    -- Host name: dotted labels ending in a generic top-level domain, optionally followed by a
    -- country code (example.com, a.b.edu.hk, x.co.uk). A bare country code is not enough: dotted
    -- names such as config keys and file names (task.id, main.py) end in two letters too.
    IF strpos(v, '.com') > 0 OR strpos(v, '.net') > 0 OR strpos(v, '.org') > 0 OR strpos(v, '.edu') > 0
       OR strpos(v, '.gov') > 0 OR strpos(v, '.mil') > 0 OR strpos(v, '.info') > 0 OR strpos(v, '.biz') > 0
       OR strpos(v, '.io') > 0 OR strpos(v, '.co.') > 0 OR strpos(v, '.ac.') > 0 THEN
        v := regexp_replace(v,
            '(?<![A-Za-z0-9<>._-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+'
            || '(?:com|net|org|edu|gov|mil|info|biz|io|co\.[a-z]{2}|ac\.[a-z]{2})(?:\.[a-z]{2})?'
            || '(?![A-Za-z0-9<>_-]|\.[A-Za-z0-9<>_-])',
            '<HOST>', 'g');
    END IF;
    -- Quoted value after '=' or ':' (name="x", error: 'y'): a value, whatever it holds. A quoted
    -- word elsewhere is kept: it is often the subject of the message (a table, a service) and
    -- decides the remedy. An unquoted value after '=' is kept too (user=root and user=guest,
    -- state=failed and state=ok differ); the digits in it still become <NUM>.
    IF strpos(v, '"') > 0 OR strpos(v, '''') > 0 THEN
        v := regexp_replace(v, '([=:][ \t\n\r\f\v]*)(?:"[^"]*"|''[^'']*'')', '\1<VAL>', 'g');
    END IF;

    -- UUID, any case. (Like the hex pairs below, a fixed shape recognised whether or not the
    -- message holds a digit: its look-arounds treat '<' and '>' like letters and digits.)
    IF strpos(v, '-') > 0 THEN
        v := regexp_replace(v,
            '(?<![A-Za-z0-9<>])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![A-Za-z0-9<>])',
            '<UUID>', 'g');
    END IF;

    -- Hexadecimal number, as one <NUM>: 0x1f; a run of 8 or more hex digits holding a digit and a
    -- letter a-f (hashes, object ids, register values); six or more hex pairs joined by ':' or '-'
    -- (MAC and EUI-64 addresses, key fingerprints; ff:ff:ff:ff:ff:ff holds no digit). Without this
    -- step 54fadb41 would become <NUM>fadb<NUM>, a shape that changes with the value. Letters
    -- alone stay a word (deadbeef), and digits ending in one B are a size (1000000B, see below),
    -- not hex. '_' may touch it: blk_<NUM>, req_<NUM>. (Guard: each form holds
    -- 0x, a digit beside a letter a-f, or two hex pairs and separators.)
    IF v ~ '0[xX]|[0-9][A-Fa-f]|[A-Fa-f][0-9]|[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]' THEN
        v := regexp_replace(v,
            '(?<![A-Za-z0-9<>])(?:0[xX][0-9A-Fa-f]+|(?![0-9]+B(?![A-Za-z0-9<>]))'
            || '(?=[0-9]*[A-Fa-f])(?=[A-Fa-f]*[0-9])[0-9A-Fa-f]{8,}'
            || '|[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5,}(?![:-][0-9A-Fa-f<]))(?![A-Za-z0-9<>])',
            '<NUM>', 'g');
    END IF;

    -- Eight colon-separated groups can be an IPv6 address of hex letters only, handled in here too.
    IF v ~ '[0-9]' OR length(v) - length(replace(v, ':', '')) >= 7 THEN
        -- Generated id: a word of 10 or more letters and digits with at least two separate runs
        -- of digits (aB3dE5fG7h, jA9J1dQ7016560): base-62 keys, queue ids, tokens. A word with one
        -- run (Win32Exception, Slf4jLogger) keeps its letters; its digits become <NUM> below.
        IF v ~ '[0-9][A-Za-z]+[0-9]' THEN
            v := regexp_replace(v,
                '(?<![A-Za-z0-9])(?=[A-Za-z0-9]{10})(?=[A-Za-z]*[0-9]+[A-Za-z]+[0-9])[A-Za-z0-9]+(?![A-Za-z0-9])',
                '<ID>', 'g');
        END IF;
        -- Dates with an English month name, optionally after a weekday: Jun 14 15:16:01,
        -- Jun 14 2005, June 14, 2005 10:00:00, Sun Dec 04 04:47:44 2005, 14 Jun 2005,
        -- Tue, 03 Jun 2008 11:05:30 GMT, 03/Jun/2005:15:42:50 +0000. Before the numeric forms, which
        -- would take the time alone. Guarded: month words are rare and the pattern is costly.
        IF v ~ '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)' THEN
            v := regexp_replace(v,
                '(?<![A-Za-z0-9:.])'
                || '(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|s|sday|nesday|rs?|rsday|urday)?,? +)?(?:'
                || '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(?:uary|ruary|ch|il|e|y|ust|t|tember|ober|ember)?'
                ||   ' +[0-9]{1,2}(?: +[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?(?: +[0-9]{4})?'
                ||   '|,? +[0-9]{4}(?: +[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?)?)'
                || '|[0-9]{1,2}[-/ ](?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(?:uary|ruary|ch|il|e|y|ust|t|tember|ober|ember)?'
                ||   '[-/ ][0-9]{2,4}(?:[: ][0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?)?'
                || ')(?:Z| ?[+-][0-9]{2}:?[0-9]{2}| (?:UTC|GMT))?(?![A-Za-z0-9]|[:.][0-9])',
                '<TS>', 'g');
        END IF;
        -- Numeric dates and times, with an optional zone (Z, +0200, -07:00): 2005-06-03,
        -- 2005/06/03 and 2005.06.03, optionally with a time (2005-06-03T15:42:50Z,
        -- 2005-06-03 15:42:50,123, 2005-06-03-15.42.50.363779, 2005.09.20-18.06.05); 17/06/09,
        -- 45/12/31 and 03-06-2005 (the middle group up to 31, so 82-68-222 is no date) with an
        -- optional time; a time of day alone, 15:16:01.5 or 15:16 (not after ':' or '.', so 1:2,
        -- :8080 and file.py:12:34 are numbers).
        -- (Guard: every form holds a digit, a separator and a digit in a row.)
        IF v ~ '[0-9][-/.:][0-9]' THEN
            v := regexp_replace(v,
                '(?<![A-Za-z0-9:.])(?:'
                || '[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}'
                ||   '(?:[T _:-]?[0-9]{1,2}[:.][0-9]{2}[:.][0-9]{2}(?:[.,][0-9]+)?)?'
                || '|[0-9]{1,2}[-/](?:[0-2]?[0-9]|3[01])[-/](?:[0-9]{4}|[0-9]{2})'
                ||   '(?:[ T:][0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?)?'
                || '|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?'
                || ')(?:Z| ?[+-][0-9]{2}:?[0-9]{2})?(?![A-Za-z0-9]|[:.][0-9])',
                '<TS>', 'g');
        END IF;
        -- IPv6 address, as a host: eight groups of hex digits, or a run of hex digits and colons
        -- with '::' holding a digit, optionally ending in an IPv4 address (2001:db8:0:0:0:0:2:1,
        -- febf:ffff:ffff:ffff:ffff:ffff:ffff:fffa, fe80::1, ::1, ::ffff:10.0.0.1); a single ':' after
        -- it is punctuation. The digit keeps scopes such as Foo::Bar or add::dec text. After the
        -- times, which never start after ':', so 2001:db8::12:34 stays one address.
        IF strpos(v, '::') > 0 OR length(v) - length(replace(v, ':', '')) >= 7 THEN
            v := regexp_replace(v,
                '(?<![A-Za-z0-9:.])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}'
                || '|(?=[0-9A-Fa-f:]*[0-9])(?=[0-9A-Fa-f:]*::)(?:[0-9A-Fa-f]*:)+(?:[0-9A-Fa-f]+(?:(?:\.[0-9]{1,3}){3})?|:))'
                || '(?![A-Za-z0-9]|:[0-9A-Fa-f:]|\.[0-9])',
                '<HOST>', 'g');
        END IF;
        -- IPv4 address, as a host; a port stays apart (<HOST>:<NUM>, as after a host name).
        IF strpos(v, '.') > 0 THEN
            v := regexp_replace(v, '(?<![A-Za-z0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?!\.?[0-9])', '<HOST>', 'g');
        END IF;
        -- Duration: a number and a unit of time (5ms, 1.5 s, 2 minutes, 1h30m). (Guard, shared with
        -- the sizes: a digit, perhaps a space, then the first letter of a unit.)
        v_unit := v ~ '[0-9] ?[numshdKMGTPEkgtpeBb]';
        IF v_unit THEN
            v := regexp_replace(v,
                '(?<![A-Za-z0-9.])(?:[0-9]+(?:\.[0-9]+)? ?'
                || '(?:ns|us|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|days?))+(?![A-Za-z0-9])',
                '<DUR>', 'g');
        END IF;
        -- Size: a number and a unit of data (10MB, 1.5 GiB, 512K, 100 bytes).
        IF v_unit THEN
            v := regexp_replace(v,
                '(?<![A-Za-z0-9.])[0-9]+(?:\.[0-9]+)?'
                || '(?: ?(?:[KMGTPE]i?B|[kmgtpe]i?b|kB|bytes?|B)|[KMGTPE])(?![A-Za-z0-9])',
                '<SIZE>', 'g');
        END IF;
        -- Every other number, alone or inside an identifier (blk_<NUM>, worker-<NUM>, eth<NUM>):
        -- a sign when '-' does not follow a letter or digit, dotted groups (versions, decimals),
        -- a signed exponent. This step leaves no digit behind.
        v := regexp_replace(v,
            '(?:(?<![A-Za-z0-9])-)?[0-9]+(?:\.[0-9]+)*(?:[eE][+-][0-9]+)?',
            '<NUM>', 'g');
    END IF;

    -- White space: runs become one space, none at either end (a stack trace becomes one line).
    IF strpos(v, '  ') > 0 OR strpos(v, chr(9)) > 0 OR strpos(v, chr(10)) > 0 OR strpos(v, chr(11)) > 0
       OR strpos(v, chr(12)) > 0 OR strpos(v, chr(13)) > 0 THEN
        v := regexp_replace(v, '[ \t\n\r\f\v]+', ' ', 'g');
    END IF;
    -- A list of values of one kind is one variable part whatever its length (1, 2, 3 -> <NUM>;
    -- 10.0.0.1,10.0.0.2 -> <HOST>). Only whole words: in eth<NUM> <NUM> or <NUM> <NUM>-<NUM> an
    -- item is part of a name or a range. One alternative per kind: a back-reference would be slow.
    -- (After the white space step, so a space is the only white space left.)
    IF strpos(v, '> ') > 0 OR strpos(v, '>,') > 0 OR strpos(v, '>;') > 0 THEN
        v := regexp_replace(v,
            '(?<![A-Za-z0-9_./\\-])(?:'
            || '(<NUM>)(?:[ ,;]+<NUM>)+|(<ID>)(?:[ ,;]+<ID>)+'
            || '|(<UUID>)(?:[ ,;]+<UUID>)+|(<HOST>)(?:[ ,;]+<HOST>)+'
            || '|(<PATH>)(?:[ ,;]+<PATH>)+|(<URL>)(?:[ ,;]+<URL>)+'
            || '|(<EMAIL>)(?:[ ,;]+<EMAIL>)+'
            || ')(?![A-Za-z0-9_/\\-]|\.[A-Za-z0-9_])',
            '\1\2\3\4\5\6\7', 'g');
    END IF;
    RETURN btrim(v);
END
$$;

COMMENT ON FUNCTION m10_recovery.normalize_message(text) IS
'The template of a failure message (algorithm v2): variable parts replaced by placeholders - <URL>,
<EMAIL>, <PATH>, <HOST> (host name with a generic top-level domain, IPv4 or IPv6 address), <VAL>
(a quoted value after = or :), <UUID>, <ID> (generated id of letters and digits), <TS> (date and
time), <DUR>, <SIZE>, <NUM> (decimal or hexadecimal number, also inside identifiers) - a list of one
kind collapsed to one, white space collapsed. Deterministic (independent of the database locale),
idempotent (a template normalises to itself), linear-time patterns only. NULL gives NULL.';
