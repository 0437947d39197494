-- The fingerprint: normalize_message (the template of a message) and error_signature (the versioned
-- hash of code and template). Every placeholder kind, idempotency, determinism, NULLs, versioning,
-- and inputs that would make a backtracking matcher explode.
CREATE TEMP TABLE IF NOT EXISTS fp_case (message text, template text);

-- test: URLs
SELECT m10_test.is(m10_recovery.normalize_message('see https://api.example.com/v1/items?id=42&x=y. then'),
                   'see <URL>. then', 'URL with query; the final full stop stays text');
SELECT m10_test.is(m10_recovery.normalize_message('fetch ftp://files.example.org/pub/a.tar.gz failed'),
                   'fetch <URL> failed', 'any scheme');
SELECT m10_test.is(m10_recovery.normalize_message('listening on :[akka.tcp://sys@host-13:55904]'),
                   'listening on :[<URL>]', 'a closing bracket is not part of the URL');
SELECT m10_test.is(m10_recovery.normalize_message('bare http:// and x://'), 'bare http:// and x://',
                   'a scheme with nothing after it is text');

-- test: e-mail addresses
SELECT m10_test.is(m10_recovery.normalize_message('mail bob.smith+tag@example.co.uk bounced'),
                   'mail <EMAIL> bounced', 'e-mail');
SELECT m10_test.is(m10_recovery.normalize_message('root@localhost denied'), 'root@localhost denied',
                   'no top-level domain: not an e-mail');

-- test: paths
SELECT m10_test.is(m10_recovery.normalize_message('open /var/log/app-2.log failed'), 'open <PATH> failed',
                   'absolute path');
SELECT m10_test.is(m10_recovery.normalize_message('open /var/log/app.log. failed'), 'open <PATH>. failed',
                   'the final full stop is punctuation');
SELECT m10_test.is(m10_recovery.normalize_message('dir /tmp/ emptied, chdir(/a//b///2005.09.20) failed'),
                   'dir <PATH> emptied, chdir(<PATH>) failed', 'trailing and doubled slashes');
SELECT m10_test.is(m10_recovery.normalize_message('run ./worker and ../lib/x.so and ~/cfg/'),
                   'run <PATH> and <PATH> and <PATH>', 'relative paths from ./ ../ ~/');
SELECT m10_test.is(m10_recovery.normalize_message('saved to C:\Users\bob\report.docx ok'),
                   'saved to <PATH> ok', 'Windows path');
SELECT m10_test.is(m10_recovery.normalize_message('GET /v2/54fadb41/servers?all=True&since=2017-05-16T00%3A00 HTTP/1.1'),
                   'GET <PATH> HTTP/<NUM>', 'path with a query string');
SELECT m10_test.is(m10_recovery.normalize_message('read/write and/or I/O on /dev'),
                   'read/write and/or I/O on /dev', 'slashes inside words, and a lone /word, stay text');
SELECT m10_test.is(m10_recovery.normalize_message('ratio 1/2/3'), 'ratio <NUM>/<NUM>/<NUM>',
                   'numbers with slashes are not a path');

-- test: host names and IP addresses are one kind
SELECT m10_test.is(m10_recovery.normalize_message('cannot resolve db-7.prod.example.com:5432'),
                   'cannot resolve <HOST>:<NUM>', 'host name with a port');
SELECT m10_test.is(m10_recovery.normalize_message('cannot resolve www.example.edu.hk:443 or a.b.co.uk'),
                   'cannot resolve <HOST>:<NUM> or <HOST>', 'generic domain with a country code');
SELECT m10_test.is(m10_recovery.normalize_message('cannot resolve 10.0.0.12:5432'),
                   'cannot resolve <HOST>:<NUM>', 'IPv4 with a port: same template as a host name');
SELECT m10_test.is(m10_recovery.normalize_message('from fe80::1ff:fe23:4567:890a to ::1 via 2001:0db8:85a3:0000:0000:8a2e:0370:7334'),
                   'from <HOST> to <HOST> via <HOST>', 'IPv6: compressed, loopback, full');
SELECT m10_test.is(m10_recovery.normalize_message('peer 2001:db8::12:34 left'), 'peer <HOST> left',
                   'an IPv6 address ending in digit groups is not a time');
SELECT m10_test.is(m10_recovery.normalize_message('to ::ffff:10.0.0.1 or fe80::1: refused'),
                   'to <HOST> or <HOST>: refused', 'IPv4-mapped; a colon after an address is punctuation');
SELECT m10_test.is(m10_recovery.normalize_message('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff and 1:2:3:4:5:6:7:8'),
                   '<HOST> and <HOST>', 'eight groups are an address even without a decimal digit');
SELECT m10_test.is(m10_recovery.normalize_message('GET http://[::1]:8080/x ok'), 'GET <URL> ok', 'URL with an IPv6 host');
SELECT m10_test.is(m10_recovery.normalize_message('std::vector and Foo::Bar and add::dec'),
                   'std::vector and Foo::Bar and add::dec', 'scopes are not addresses');
SELECT m10_test.is(m10_recovery.normalize_message('version 1.2.3.4.5 and task.id and main.py'),
                   'version <NUM> and task.id and main.py',
                   'five dotted groups are a version; config keys and file names are not hosts');

-- test: quoted values after = or :
SELECT m10_test.is(m10_recovery.normalize_message('key="value with spaces" other=''x'' name: "y" err:''z'''),
                   'key=<VAL> other=<VAL> name: <VAL> err:<VAL>', 'double and single quotes, = and :');
SELECT m10_test.is(m10_recovery.normalize_message('key="a 5" and key="b 6"'), 'key=<VAL> and key=<VAL>',
                   'whatever the value holds');
SELECT m10_test.is(m10_recovery.normalize_message('relation "users" does not exist'),
                   'relation "users" does not exist', 'a quoted subject elsewhere is kept');
SELECT m10_test.is(m10_recovery.normalize_message('user=root state=failed n=5'), 'user=root state=failed n=<NUM>',
                   'an unquoted value is kept; its digits are numbers');
SELECT m10_test.is(m10_recovery.normalize_message('key="unterminated'), 'key="unterminated',
                   'an unterminated quote is text');

-- test: UUIDs
SELECT m10_test.is(m10_recovery.normalize_message('request 550E8400-E29B-41D4-A716-446655440000 done'),
                   'request <UUID> done', 'upper case');
SELECT m10_test.is(m10_recovery.normalize_message('[instance: 3edec1e4-9678-4a3a-a21b-a145a4ee5e61] spawned'),
                   '[instance: <UUID>] spawned', 'lower case, in brackets');

-- test: hexadecimal numbers are numbers
SELECT m10_test.is(m10_recovery.normalize_message('ptr 0x7ffd1c2a and 0XFF and 0x10'), 'ptr <NUM> and <NUM> and <NUM>',
                   '0x forms');
SELECT m10_test.is(m10_recovery.normalize_message('hw 00:1a:2b:3c:4D:5E and 00-11-22-33-44-55'),
                   'hw <NUM> and <NUM>', 'MAC addresses, even all digits');
SELECT m10_test.is(m10_recovery.normalize_message('broadcast ff:ff:ff:ff:ff:ff'), 'broadcast <NUM>',
                   'a MAC address without a digit, in a message without a digit');
SELECT m10_test.is(m10_recovery.normalize_message('chip FF:F2:9F:16:E3:04:00 key 43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1'),
                   'chip <NUM> key <NUM>', 'longer runs of hex pairs');
SELECT m10_test.is(m10_recovery.normalize_message('object 54fadb412c4e40cdbaed9335e4c35a9e blk_a1b2c3d4e5'),
                   'object <NUM> blk_<NUM>', 'hash and an id after _');
SELECT m10_test.is(m10_recovery.normalize_message('iar 00106570 dear 0246dd1c'),
                   m10_recovery.normalize_message('iar 0026a8d0 dear 00000000'),
                   'a hex field reads the same whether or not its value has a letter');
SELECT m10_test.is(m10_recovery.normalize_message('deadbeef and cafebabe'), 'deadbeef and cafebabe',
                   'hex letters alone are a word');

-- test: generated ids
SELECT m10_test.is(m10_recovery.normalize_message('key aB3dE5fG7hJ9 and jA9J1dQ7016560 queued'),
                   'key <ID> and <ID> queued', 'letters with two runs of digits or more');
SELECT m10_test.is(m10_recovery.normalize_message('Win32Exception from Slf4jLogger'),
                   'Win<NUM>Exception from Slf<NUM>jLogger', 'one run of digits: a name with a number');

-- test: dates and times in common formats
SELECT m10_test.is(m10_recovery.normalize_message(m.message), '<TS>', m.message)
  FROM (VALUES ('2005-06-03'), ('2005/06/03'), ('2005.06.03'), ('2005-06-03T15:42:50Z'),
               ('2005-06-03T15:42:50.363+02:00'), ('2005-06-03 15:42:50,363'), ('2005-06-03 15:42:50 -0700'),
               ('2005-06-03-15.42.50.363779'), ('2005.09.20-18.06.05'), ('17/06/09 20:10:40'), ('03-06-2005'),
               ('Jun 14 15:16:01'), ('Jun 14 2005'), ('June 14, 2005'), ('Sun Dec 04 04:47:44 2005'),
               ('Tuesday, Jan 3 2023 10:00:00'), ('14 Jun 2005'), ('03/Jun/2005:15:42:50 +0000'),
               ('15:16:01'), ('15:16:01.123'), ('15:16')) AS m(message);
SELECT m10_test.is(m10_recovery.normalize_message('but 82-68-222 and 1:2 and port :8080 and a.py:12:34'),
                   'but <NUM>-<NUM>-<NUM> and <NUM>:<NUM> and port :<NUM> and a.py:<NUM>:<NUM>',
                   'not dates or times: day over 31, single digits, a port, a file position');
SELECT m10_test.is(m10_recovery.normalize_message('Monitor 2005-06-03 and May 5 apples'),
                   'Monitor <TS> and May <NUM> apples', 'a weekday must be a whole word; a month needs a year or time');

-- test: durations and sizes
SELECT m10_test.is(m10_recovery.normalize_message('took 5ms then 1.5 s then 2 minutes then 1h30m then 3 days'),
                   'took <DUR> then <DUR> then <DUR> then <DUR> then <DUR>', 'durations');
SELECT m10_test.is(m10_recovery.normalize_message('used 10MB of 2 GiB, 512K and 100 bytes, 1.5kb'),
                   'used <SIZE> of <SIZE>, <SIZE> and <SIZE>, <SIZE>', 'sizes');
SELECT m10_test.is(m10_recovery.normalize_message('5 more and 3 months'), '<NUM> more and <NUM> months',
                   'a unit must be a whole word');

-- test: numbers, also inside identifiers
SELECT m10_test.is(m10_recovery.normalize_message('count 42 ratio -3.5 exp 1.5e-10 ver 2.10.1'),
                   'count <NUM> ratio <NUM> exp <NUM> ver <NUM>', 'integers, signs, decimals, exponents, versions');
SELECT m10_test.is(m10_recovery.normalize_message('blk_-6952295868487656571 terminating'),
                   m10_recovery.normalize_message('blk_38865049064139660 terminating'),
                   'a negative and a positive id read the same');
SELECT m10_test.is(m10_recovery.normalize_message('worker-7 on eth0 at R02-M1-N0'), 'worker-<NUM> on eth<NUM> at R<NUM>-M<NUM>-N<NUM>',
                   'digits inside identifiers; a hyphen after a letter is not a sign');
SELECT m10_test.is(m10_recovery.normalize_message('12345678901234567890123456789'), '<NUM>',
                   'a long decimal run is a number, not hex');

-- test: lists of one kind collapse
SELECT m10_test.is(m10_recovery.normalize_message('IRQs 3 4 5 7, hosts 10.0.0.1,10.0.0.2; ids [1, 2]'),
                   'IRQs <NUM>, hosts <HOST>; ids [<NUM>]', 'lists of numbers and of hosts');
SELECT m10_test.is(m10_recovery.normalize_message('eth0 1 and x=-5 5-6 and <NUM> 5'),
                   'eth<NUM> <NUM> and x=<NUM> <NUM>-<NUM> and <NUM>', 'only whole words are list items');

-- test: white space
SELECT m10_test.is(m10_recovery.normalize_message(E'  multi   line\n\tmessage\r\n  '), 'multi line message',
                   'runs collapse, ends trimmed');
SELECT m10_test.is(m10_recovery.normalize_message(''), '', 'empty stays empty');
SELECT m10_test.is(m10_recovery.normalize_message(E' \t\n'), '', 'white space only');

-- test: normalising a template returns it unchanged
INSERT INTO fp_case (message) VALUES
    ('see https://api.example.com/v1/items?id=42&x=y. then'), ('mail bob@example.com'), ('open /var/log/a.log.'),
    ('db-7.prod.example.com:5432 and 10.0.0.1:80 and fe80::1'), ('key="v 1" err: ''x'''),
    ('550e8400-e29b-41d4-a716-446655440000'), ('0x1f 00:1a:2b:3c:4d:5e 54fadb412c4e40cd'), ('aB3dE5fG7hJ9'),
    ('Sun Dec 04 04:47:44 2005 / 2005-06-03-15.42.50.363779 / 17/06/09 20:10:40 / 15:16'),
    ('5ms 10MB'), ('abc123def x1 1x 1a2b3c <NUM>7 7<NUM> <<NUM>> <5> a<1>b'), ('1, 2, 3 x 4 5'),
    ('ms.com.1e-httpy~'), ('<NUM>aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa'), (E'1\t2'), ('a@b.cd5'), ('5/a/b'),
    ('Sun  2005-06-03'), ('x.co.uk5'), ('1 2 3x'), ('1 2.x'), ('x=''a'' ''b'' c=''d');
UPDATE fp_case SET template = m10_recovery.normalize_message(message);
SELECT m10_test.is(m10_recovery.normalize_message(template), template, 'normalize(normalize(' || message || '))')
  FROM fp_case;
SELECT m10_test.ok(template !~ '[0-9]', 'no digit left in ' || template) FROM fp_case;

-- test: deterministic, and independent of the caller's collation
SELECT m10_test.is(m10_recovery.normalize_message('Ünïcödé 5 Straße ÉTÉ 0x1f at 2005-06-03'),
                   'Ünïcödé <NUM> Straße ÉTÉ <NUM> at <TS>', 'non-ASCII letters are text');
-- Under whatever collations the server has (ICU or libc, Turkish where upper('i') is not 'I'):
DO $$
DECLARE
    v_coll text;
BEGIN
    FOR v_coll IN SELECT collname FROM pg_collation
                   WHERE collname IN ('POSIX', 'ucs_basic', 'und-x-icu', 'tr-TR-x-icu', 'tr_TR.utf8', 'en_US.utf8')
    LOOP
        EXECUTE format($q$SELECT m10_test.is(
                              convert_to(m10_recovery.normalize_message(%L COLLATE %I), 'UTF8'),
                              convert_to(m10_recovery.normalize_message(%L COLLATE "C"), 'UTF8'), %L)$q$,
                       'Ünïcödé 5 Straße x.com İI ıi', v_coll, 'Ünïcödé 5 Straße x.com İI ıi', 'template under ' || v_coll);
        EXECUTE format($q$SELECT m10_test.is(m10_recovery.error_signature(%L COLLATE %I, 'x'),
                                             m10_recovery.error_signature('TIMEOUT', 'x'), %L)$q$,
                       'timeout', v_coll, 'code under ' || v_coll);
    END LOOP;
END
$$;
SELECT m10_test.is((SELECT count(DISTINCT m10_recovery.normalize_message('job 7 failed after 3.5s on 10.0.0.1'))
                      FROM generate_series(1, 50)), 1::bigint, 'same input, same template');
SELECT m10_test.is((SELECT count(DISTINCT m10_recovery.error_signature('E1', 'job 7 failed'))
                      FROM generate_series(1, 50)), 1::bigint, 'same input, same signature');
SELECT m10_test.ok(p.provolatile = 'i' AND p.proparallel = 's', p.proname || ' is IMMUTABLE and PARALLEL SAFE')
  FROM pg_proc p
 WHERE p.pronamespace = 'm10_recovery'::regnamespace AND p.proname IN ('normalize_message', 'error_signature');

-- test: NULLs
SELECT m10_test.is(m10_recovery.normalize_message(NULL), NULL::text, 'normalize_message is STRICT');
SELECT m10_test.ok(m10_recovery.error_signature(NULL, NULL) ~ '^v2:[0-9a-f]{32}$', 'NULL, NULL still has a signature');
SELECT m10_test.is(m10_recovery.error_signature(NULL, NULL), m10_recovery.error_signature('', ''),
                   'NULL counts as empty');
SELECT m10_test.is(m10_recovery.error_signature('E1', NULL), m10_recovery.error_signature('E1', ''), 'NULL message');
SELECT m10_test.is(m10_recovery.error_signature(NULL, 'boom'), m10_recovery.error_signature('', 'boom'), 'NULL code');

-- test: the signature is versioned and a function of the code and the template
SELECT m10_test.ok(m10_recovery.error_signature('E1', 'boom 5') ~ '^v2:[0-9a-f]{32}$', 'v2: and 32 hex digits');
SELECT m10_test.is(m10_recovery.error_signature('E1', 'job 7 failed on 10.0.0.1 after 3.5s'),
                   m10_recovery.error_signature('E1', 'job 12 failed on 10.9.8.7 after 120ms'),
                   'messages differing only in variable parts share a signature');
SELECT m10_test.is(m10_recovery.error_signature('E1', 'job 7 failed after 3.5s'),
                   m10_recovery.error_signature('E1', m10_recovery.normalize_message('job 7 failed after 3.5s')),
                   'the signature of a message is the signature of its template');
SELECT m10_test.ok(m10_recovery.error_signature('E1', 'job 7 failed') <> m10_recovery.error_signature('E1', 'job 7 stalled'),
                   'a different fixed word, a different signature');
SELECT m10_test.ok(m10_recovery.error_signature('E1', 'boom') <> m10_recovery.error_signature('E2', 'boom'),
                   'a different code, a different signature');
SELECT m10_test.is(m10_recovery.error_signature(' timeout ', 'boom'), m10_recovery.error_signature('TIMEOUT', 'boom'),
                   'the code is trimmed and upper-cased');
SELECT m10_test.ok(m10_recovery.error_signature('AB', 'C') <> m10_recovery.error_signature('A', 'BC'),
                   'code and template cannot run into each other');
SELECT m10_test.ok(m10_recovery.error_signature('A' || chr(31), 'B') <> m10_recovery.error_signature('A', chr(31) || 'B'),
                   'not even through a separator character');

-- test: large and pathological messages finish quickly (no backtracking blow-up)
SET LOCAL statement_timeout = '60s';
SELECT m10_test.is(m10_recovery.normalize_message(repeat('a', 100000)), repeat('a', 100000), 'a x 100k');
SELECT m10_test.is(m10_recovery.normalize_message(repeat('7', 100000)), '<NUM>', 'digits x 100k');
SELECT m10_test.is(m10_recovery.normalize_message(repeat('1.', 50000)), '<NUM>.', '1. x 50k');
SELECT m10_test.is(m10_recovery.normalize_message(repeat('.', 100000)), repeat('.', 100000), 'dots x 100k');
SELECT m10_test.is(m10_recovery.normalize_message(repeat('1 ', 100000)), '<NUM>', 'a list of 100k numbers');
SELECT m10_test.ok(length(m10_recovery.normalize_message(s)) > 0, 'pathological: ' || left(s, 12))
  FROM (VALUES (repeat('1:', 100000)), (repeat('1a:', 100000)), (repeat('1::', 100000)), (repeat('a1', 100000) || 'g'),
               (repeat('/a', 100000)), (repeat('./', 100000)), (repeat('a.', 100000) || 'com'), (repeat('x@', 100000)),
               (repeat('="', 100000)), (repeat('Jun 1 ', 50000)), (repeat('2005-06-03-', 50000)),
               (repeat('1.1.1.1.', 50000)), (repeat('1m', 100000)), (repeat('http://', 50000)), (repeat('0x', 100000)),
               (repeat('<NUM> ', 50000)), (repeat('1e-', 100000)), (repeat('http://a ', 20000)),
               (repeat('1::1 ', 20000)), (repeat('ff:', 100000)), (repeat('Sun 2005-01-01 ', 10000))) AS p(s);
SELECT m10_test.ok(clock_timestamp() - now() < interval '30 seconds', 'the pathological inputs took under 30 s');

-- test: a 1 MB message
SET LOCAL statement_timeout = '60s';
SELECT m10_test.is(
    m10_recovery.normalize_message(repeat('Error: connection to 10.0.0.1:5432 failed after 3.5s (id=550e8400-e29b-41d4-a716-446655440000) at 2026-01-01T00:00:00Z ', 9000)),
    rtrim(repeat('Error: connection to <HOST>:<NUM> failed after <DUR> (id=<UUID>) at <TS> ', 9000)),
    '1 MB');
SELECT m10_test.ok(m10_recovery.error_signature('E', repeat('x 1 ', 262144)) ~ '^v2:', '1 MB signature');
SELECT m10_test.ok(clock_timestamp() - now() < interval '30 seconds', 'the 1 MB messages took under 30 s');

-- test: template_signature is error_signature for a caller that already has the template
SELECT m10_test.is(m10_recovery.template_signature(c, m10_recovery.normalize_message(m)),
                   m10_recovery.error_signature(c, m), 'same signature for ' || c)
  FROM (VALUES ('timeout', 'Connection timed out after 30s'), ('HTTP_503', 'upstream 10.0.0.7:8080 said no'),
               ('', ''), (NULL, 'x=1')) AS v(c, m);

-- test: digits ending in a single B are a size, not a hexadecimal number (found by hypothesis)
SELECT m10_test.is(m10_recovery.normalize_message('attempt 1000000B'), 'attempt <SIZE>', 'bytes');
SELECT m10_test.is(m10_recovery.normalize_message('hash 12345678b'), 'hash <NUM>', 'a lower-case b is hex');
SELECT m10_test.is(m10_recovery.normalize_message('hash 1234567ab'), 'hash <NUM>', 'hex with two letters');
SELECT m10_test.is(m10_recovery.normalize_message('attempt 1000000B'),
                   m10_recovery.normalize_message('attempt 0 GB'), 'same slot, same template');

-- test: an IPv6 address of hex letters only is a host, with or without other digits in the message
SELECT m10_test.is(m10_recovery.normalize_message('worker febf:ffff:ffff:ffff:ffff:ffff:ffff:fffa failed after 1h2m'),
                   'worker <HOST> failed after <DUR>', 'found by a property test');
SELECT m10_test.is(m10_recovery.normalize_message('peer abcd:ef01:abcd:abcd:abcd:abcd:abcd:abcd gone'),
                   'peer <HOST> gone', 'eight groups');
SELECT m10_test.is(m10_recovery.normalize_message('peer abcd:efab:abcd:abcd:abcd:abcd:abcd:abcd gone'),
                   'peer <HOST> gone', 'eight groups, no digit anywhere in the message');
SELECT m10_test.is(m10_recovery.normalize_message('call Foo::Bar and add::dec'), 'call Foo::Bar and add::dec',
                   'scopes stay text');
