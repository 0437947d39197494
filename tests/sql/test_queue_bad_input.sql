-- Bad input to the work queue functions: every rejected call raises the documented SQLSTATE with a
-- message naming the argument, and leaves the queue exactly as it was. Each case starts from a queue
-- holding one item in every state (snapshot in pg_temp.before_q); pg_temp.queue_changes counts the
-- rows added, removed or altered since the snapshot. A completed item is deleted, so its id is kept
-- in pg_temp.gone; pg_temp.ids names every seeded id, the completed one included.
DELETE FROM m10_recovery.work_queue;
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "claimed"}', p_priority => 10);
SELECT count(*) FROM m10_recovery.claim_work('w1', 1, 3600);
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "completed"}', p_priority => 9);
SELECT count(*) FROM m10_recovery.claim_work('w1', 1, 3600);
CREATE TEMP TABLE gone AS
SELECT payload->>'n' AS n, id FROM m10_recovery.work_queue WHERE payload->>'n' = 'completed';
SELECT m10_recovery.complete_work((SELECT id FROM gone), true, NULL, 'w1');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "dead"}', p_priority => 8, p_max_attempts => 1);
SELECT count(*) FROM m10_recovery.claim_work('w1', 1, 3600);
SELECT m10_recovery.complete_work((SELECT id FROM m10_recovery.work_queue WHERE payload->>'n' = 'dead'), false, 'boom');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "pending"}');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "delayed"}', p_delay_seconds => 3600);
CREATE TEMP TABLE before_q AS SELECT * FROM m10_recovery.work_queue;
CREATE TEMP VIEW queue_changes AS
SELECT (SELECT count(*) FROM (SELECT * FROM m10_recovery.work_queue EXCEPT ALL SELECT * FROM before_q) added)
     + (SELECT count(*) FROM (SELECT * FROM before_q EXCEPT ALL SELECT * FROM m10_recovery.work_queue) gone) AS n;
CREATE TEMP VIEW ids AS
SELECT payload->>'n' AS n, id FROM m10_recovery.work_queue
UNION ALL
SELECT n, id FROM gone;

-- test: the fixture holds one item in every state, and a completed item is gone
SELECT m10_test.is((SELECT string_agg(payload->>'n' || '=' || state, ',' ORDER BY id) FROM m10_recovery.work_queue),
                   'claimed=claimed,dead=dead,pending=pending,delayed=pending', 'fixture');
SELECT m10_test.is((SELECT string_agg(n, ',' ORDER BY id) FROM ids),
                   'claimed,completed,dead,pending,delayed', 'every seeded id, in enqueue order');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE id = (SELECT id FROM gone)), 0::bigint,
                   'the completed item has no row');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'snapshot matches');

-- test: complete_work of an unknown id raises P0002 naming the id
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(999999999, true)$$, 'P0002',
                       'work item 999999999 does not exist');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(-1, false, 'x', 'w1')$$, 'P0002',
                       'work item -1 does not exist');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(0, true)$$, 'P0002', 'work item 0 does not exist');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(-9223372036854775808, true, NULL, 'w1')$$, 'P0002',
                       'work item -9223372036854775808 does not exist');
SELECT m10_test.throws(format('SELECT m10_recovery.complete_work(%s, true)',
                              (SELECT last_value + 1 FROM m10_recovery.work_queue_id_seq)),
                       'P0002', 'work item % does not exist');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: complete_work of an id the queue issued but never stored (its enqueue rolled back) is a no-op
-- The sequence is not transactional: the rolled-back enqueue still used up an id, and ids are never
-- reused, so the queue cannot tell that id from a completed item's. Only ids above it do not exist.
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => '{"n": "rolled back"}') / 0$$, '22012');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'the enqueue was rolled back');
SELECT m10_test.ok((SELECT last_value > (SELECT max(id) FROM ids) FROM m10_recovery.work_queue_id_seq),
                   'an id was used up');
SELECT m10_test.is(m10_recovery.complete_work((SELECT last_value FROM m10_recovery.work_queue_id_seq), true),
                   false, 'the last id issued');
SELECT m10_test.throws(format('SELECT m10_recovery.complete_work(%s, true)',
                              (SELECT last_value + 1 FROM m10_recovery.work_queue_id_seq)),
                       'P0002', 'work item % does not exist');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: complete_work requires a work id and a success flag
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(NULL, true)$$, '22023',
                       'p_work_id and p_success are required');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'claimed'), NULL)$$,
                       '22023', 'p_work_id and p_success are required');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(NULL, NULL, 'x', 'w1')$$, '22023');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: completing an item that was never claimed raises 55000 with a hint
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'pending'), true)$$,
                       '55000', 'work item % is not claimed (state pending)');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'delayed'), false, 'x')$$,
                       '55000', 'work item % is not claimed (state pending)');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: completing a never-claimed item with a worker id is a refused no-op, not an error
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'pending'), true, NULL, 'w1'),
                   false, 'nobody holds it, so w1 does not either');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: completing a finished item again is a no-op whatever the outcome
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'completed'), false, 'late'),
                   false, 'a late failure of a completed item');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'completed'), true),
                   false, 'a repeated success');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'completed'), true, NULL, 'w1'),
                   false, 'a repeated success from the worker that completed it');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'completed'), false, 'x', 'w1',
                                              p_retry_in_seconds => 0),
                   false, 'a late failure from that worker');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE id = (SELECT id FROM gone)), 0::bigint,
                   'the completed item is not brought back');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'dead'), true),
                   false, 'dead stays dead');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'dead'), true, NULL, 'w1'),
                   false, 'dead stays dead for its last worker too');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: complete_work rejects a retry delay that is negative, over a year, NaN or infinite
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'claimed'), false, 'x',
                         p_retry_in_seconds => -1)$$, '22023', 'p_retry_in_seconds must be between 0 and 31536000, got -1');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'claimed'), false, 'x',
                         p_retry_in_seconds => 31536001)$$, '22023', 'p_retry_in_seconds must be between%');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'claimed'), false, 'x',
                         p_retry_in_seconds => 'NaN')$$, '22023', 'p_retry_in_seconds must be between%NaN');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'claimed'), false, 'x',
                         p_retry_in_seconds => 'Infinity')$$, '22023', 'p_retry_in_seconds must be between%');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: claim_work rejects a batch size that is zero, negative, NULL or too large
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 0)$$, '22023',
                       'p_batch_size must be between 1 and 10000, got 0');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', -5)$$, '22023',
                       'p_batch_size must be between 1 and 10000, got -5');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', NULL)$$, '22023',
                       'p_batch_size must be between 1 and 10000, got NULL');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 10001)$$, '22023',
                       'p_batch_size must be between 1 and 10000, got 10001');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 2147483647)$$, '22023',
                       'p_batch_size must be between 1 and 10000, got 2147483647');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.complete_and_claim('w1',
                         ARRAY[(SELECT id FROM ids WHERE n = 'claimed')], -1)$$, '22023', 'p_batch_size must be between 0 and 10000, got -1');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged (nothing completed either)');

-- test: claim_work rejects a NULL, empty, blank or over-long worker id
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work(NULL, 1)$$, '22023',
                       'p_worker_id must be a non-empty name of at most 200 characters');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('', 1)$$, '22023', 'p_worker_id must be%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('   ', 1)$$, '22023', 'p_worker_id must be%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work(repeat('w', 201), 1)$$, '22023', 'p_worker_id must be%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work(repeat('w', 10000), 1)$$, '22023', 'p_worker_id must be%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.complete_and_claim(NULL, ARRAY[]::bigint[])$$, '22023',
                       'p_worker_id must be%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.complete_and_claim('', ARRAY[]::bigint[])$$, '22023',
                       'p_worker_id must be%');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: claim_work rejects a worker id made only of tabs and newlines
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work(E'\t', 1)$$, '22023', 'p_worker_id must be%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work(E' \n\r\t ', 1)$$, '22023', 'p_worker_id must be%');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a 200-character worker id is the longest accepted
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work(repeat('w', 200), 10)), 1::bigint,
                   'the one ready item is claimed');
SELECT m10_test.is((SELECT claimed_by FROM m10_recovery.work_queue WHERE payload->>'n' = 'pending'),
                   repeat('w', 200), 'stored whole');

-- test: claim_work rejects absurd leases: zero, negative, NULL, over a day, ten days
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 1, 0)$$, '22023',
                       'p_lease_seconds must be between 1 and 86400 (one day), got 0');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 1, -30)$$, '22023',
                       'p_lease_seconds must be between 1 and 86400 (one day), got -30');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 1, NULL)$$, '22023',
                       'p_lease_seconds must be between 1 and 86400 (one day), got NULL');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 1, 86401)$$, '22023',
                       'p_lease_seconds must be between%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 1, 864000)$$, '22023',
                       'p_lease_seconds must be between 1 and 86400 (one day), got 864000');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.complete_and_claim('w1', NULL, 1, 0)$$, '22023',
                       'p_lease_seconds must be between%');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: an unknown method is rejected by name in enqueue_work, claim_work and enqueue_work_batch
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_method => 'evaluat')$$, '22023',
                       'unknown work method ''evaluat''');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_method => 'Evaluate')$$, '22023',
                       'unknown work method ''Evaluate''');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_method => NULL)$$, '22023',
                       'unknown work method NULL');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_method => 'it''s')$$, '22023',
                       'unknown work method ''it''''s''');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work('w2', 1, p_method => 'nope')$$, '22023',
                       'unknown work method ''nope''');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.complete_and_claim('w1',
                         ARRAY[(SELECT id FROM ids WHERE n = 'claimed')], p_method => 'nope')$$, '22023',
                       'unknown work method ''nope''');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}']::jsonb[], p_method => 'nope')$$,
                       '22023', 'unknown work method ''nope''');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a payload that is a JSON array, string, number, boolean or null is rejected by type
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => '[1, 2]')$$, '22023',
                       'p_payload must be a JSON object, got a JSON array');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => '"text"')$$, '22023',
                       'p_payload must be a JSON object, got a JSON string');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => '42')$$, '22023',
                       'p_payload must be a JSON object, got a JSON number');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => 'true')$$, '22023',
                       'p_payload must be a JSON object, got a JSON boolean');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => 'null')$$, '22023',
                       'p_payload must be a JSON object, got a JSON null');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}', '{}', '"s"']::jsonb[])$$, '22023',
                       'p_payloads[3] must be a JSON object%');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}', NULL]::jsonb[])$$, '22023',
                       'p_payloads[2] must be a JSON object%');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(NULL)$$, '22023',
                       'p_payloads must hold at least one payload');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a SQL NULL payload is stored as an empty object
SELECT m10_test.ok(m10_recovery.enqueue_work(p_payload => NULL) > 0, 'accepted');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE payload = '{}'), 1::bigint, 'stored as {}');

-- test: a payload over 1 MiB is rejected with 54000 and a hint
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => jsonb_build_object('blob', repeat('x', 1100000)))$$,
                       '54000', 'p_payload is % bytes of JSON; the limit is 1 MiB');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a batch holding a payload over 1 MiB is rejected with 54000 like enqueue_work
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(
                         ARRAY['{}'::jsonb, jsonb_build_object('blob', repeat('x', 1100000))])$$, '54000');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a payload over 1 MiB read from a table (so stored compressed) is rejected too
CREATE TEMP TABLE big_payload AS SELECT jsonb_build_object('blob', repeat('x', 1100000)) AS p;
SELECT m10_test.ok((SELECT octet_length(p::text) > 1048576 FROM big_payload), 'the payload is over 1 MiB');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => (SELECT p FROM big_payload))$$, '54000',
                       'p_payload is % bytes of JSON; the limit is 1 MiB');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a batch of more than 10000 payloads is rejected with 54000
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(array_fill('{}'::jsonb, ARRAY[10001]))$$, '54000',
                       'p_payloads holds 10001 items; the limit is 10000 per call');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a NUL character in JSON is rejected by PostgreSQL itself before any function runs
SELECT m10_test.throws($$SELECT '{"a": "\u0000"}'::jsonb$$, '22P05', 'unsupported Unicode escape sequence');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_payload => '{"a": "x\u0000y"}')$$, '22P05',
                       'unsupported Unicode escape sequence');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{"a": "\u0000"}']::jsonb[])$$, '22P05');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: a NUL character in an error message cannot even be built in SQL; the item stays claimed
SELECT m10_test.throws($$SELECT m10_recovery.complete_work((SELECT id FROM ids WHERE n = 'claimed'), false,
                         'bad ' || chr(0) || ' bytes', 'w1')$$, '54000', 'null character not permitted');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');
SELECT m10_test.is((SELECT state || ':' || claimed_by FROM m10_recovery.work_queue WHERE payload->>'n' = 'claimed'),
                   'claimed:w1', 'still held by its worker');

-- test: enqueue rejects a negative, NULL, NaN or over-a-year delay
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_delay_seconds => -1)$$, '22023',
                       'p_delay_seconds must be between 0 and 31536000 (one year), got -1');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_delay_seconds => -0.001)$$, '22023',
                       'p_delay_seconds must be between%');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_delay_seconds => 31536001)$$, '22023',
                       'p_delay_seconds must be between 0 and 31536000 (one year), got 31536001');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_delay_seconds => NULL)$$, '22023',
                       'p_delay_seconds must be between 0 and 31536000 (one year), got NULL');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_delay_seconds => 'NaN')$$, '22023',
                       'p_delay_seconds must be between%');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_delay_seconds => 'Infinity')$$, '22023',
                       'p_delay_seconds must be between%');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}']::jsonb[], p_delay_seconds => -1)$$,
                       '22023', 'p_delay_seconds must be between%');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: enqueue rejects max_attempts outside 1 .. 100
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_max_attempts => 0)$$, '22023',
                       'p_max_attempts must be between 1 and 100, got 0');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_max_attempts => 101)$$, '22023',
                       'p_max_attempts must be between 1 and 100, got 101');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_max_attempts => -3)$$, '22023',
                       'p_max_attempts must be between 1 and 100, got -3');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}']::jsonb[], p_max_attempts => 101)$$,
                       '22023', 'p_max_attempts must be between 1 and 100, got 101');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: enqueue rejects a priority outside smallint range, or NULL
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_priority => 32768)$$, '22023',
                       'p_priority must be between -32768 and 32767, got 32768');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_priority => -32769)$$, '22023',
                       'p_priority must be between -32768 and 32767, got -32769');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work(p_priority => NULL)$$, '22023',
                       'p_priority must be between -32768 and 32767, got NULL');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}']::jsonb[], p_priority => 2147483647)$$,
                       '22023', 'p_priority must be between%');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: release_stalled_work rejects negative and NULL seconds
SELECT m10_test.throws($$SELECT m10_recovery.release_stalled_work(-1)$$, '22023',
                       'p_stalled_seconds must be zero or more, got -1');
SELECT m10_test.throws($$SELECT m10_recovery.release_stalled_work(NULL)$$, '22023',
                       'p_stalled_seconds must be zero or more, got NULL');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');

-- test: complete_and_claim with ids it does not hold completes nothing and claims normally
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.complete_and_claim('intruder',
                      ARRAY[(SELECT id FROM ids WHERE n = 'claimed'), (SELECT id FROM ids WHERE n = 'completed'),
                            (SELECT id FROM ids WHERE n = 'dead'), (SELECT id FROM ids WHERE n = 'pending'),
                            999999999, -1, NULL]::bigint[], 1)), 1::bigint,
                   'claims the one ready item');
SELECT m10_test.is((SELECT string_agg(payload->>'n' || '=' || state || ':' || coalesce(claimed_by, '-'), ',' ORDER BY id)
                      FROM m10_recovery.work_queue),
                   'claimed=claimed:w1,dead=dead:w1,pending=claimed:intruder,delayed=pending:-',
                   'only the claim changed anything');

-- test: complete_and_claim by the holder with ids it does not hold completes only its own item
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.complete_and_claim('w1',
                      ARRAY[(SELECT id FROM ids WHERE n = 'claimed'), (SELECT id FROM ids WHERE n = 'completed'),
                            (SELECT id FROM ids WHERE n = 'dead'), (SELECT id FROM ids WHERE n = 'delayed'),
                            999999999, NULL]::bigint[], 10)), 1::bigint,
                   'claims the one ready item');
SELECT m10_test.is((SELECT string_agg(payload->>'n' || '=' || state || ':' || coalesce(claimed_by, '-'), ',' ORDER BY id)
                      FROM m10_recovery.work_queue),
                   'dead=dead:w1,pending=claimed:w1,delayed=pending:-',
                   'its claimed item deleted, the dead and delayed ones untouched');

-- test: extend_work_lease of a completed item returns NULL (stop), like any item the worker no longer holds
SELECT m10_test.is(m10_recovery.extend_work_lease((SELECT id FROM ids WHERE n = 'completed'), 'w1'),
                   NULL::timestamptz, 'its last worker is told to stop');
SELECT m10_test.is(m10_recovery.extend_work_lease((SELECT id FROM ids WHERE n = 'completed'), 'w2'),
                   NULL::timestamptz, 'so is anyone else');
SELECT m10_test.is((SELECT n FROM queue_changes), 0::bigint, 'queue unchanged');
SELECT m10_test.throws(format('SELECT m10_recovery.extend_work_lease(%s, %L)',
                              (SELECT last_value + 1 FROM m10_recovery.work_queue_id_seq), 'w1'),
                       'P0002', 'work item % does not exist');
