-- The SQL of the Redis stream bridge: claim by id, the zero-loss sweep, dead-lettering, replays.
-- The clock moves through p_now. Every case starts from an empty queue.
DELETE FROM m10_recovery.work_queue;

-- test: claim by id takes pending items (even delayed ones) and expired leases, nothing else
SELECT m10_recovery.enqueue_work(p_payload => '{"n": 1}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": 2}', p_delay_seconds => 3600, p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": 3}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": 4}', p_now => '2026-01-01 00:00:00+00');
CREATE TEMP TABLE ids AS SELECT array_agg(id ORDER BY id) AS a FROM m10_recovery.work_queue;
-- 3 is held by another worker (lease running), 4 is dead.
SELECT count(*) FROM m10_recovery.claim_work_by_ids('other', ARRAY[(SELECT a[3] FROM ids)], 60,
                                                    '2026-01-01 00:00:00+00');
UPDATE m10_recovery.work_queue SET state = 'dead', processed_at = now() WHERE id = (SELECT a[4] FROM ids);
SELECT m10_test.is(
    (SELECT array_agg(payload->>'n' ORDER BY work_id)
       FROM m10_recovery.claim_work_by_ids('w', (SELECT a || 999999999::bigint FROM ids), 60,
                                           '2026-01-01 00:00:30+00')),
    ARRAY['1', '2'], 'pending (also delayed) only; held, dead and unknown ids skipped');
SELECT m10_test.is(
    (SELECT array_agg(state ORDER BY work_id)
       FROM m10_recovery.work_item_states((SELECT a || 999999999::bigint FROM ids), '2026-01-01 00:00:30+00')),
    ARRAY['claimed', 'claimed', 'claimed', 'dead', 'completed'], 'states of the five ids');
SELECT m10_test.is(
    (SELECT count(*) FROM m10_recovery.claim_work_by_ids('w', (SELECT a FROM ids), 60, '2026-01-01 00:01:00+00')),
    1::bigint, 'the other worker''s lease ran out: its item is claimable; w''s own are not re-claimed');
SELECT m10_test.is((SELECT attempts FROM m10_recovery.work_queue WHERE id = (SELECT a[3] FROM ids)), 2::smallint,
                   'the takeover counts an attempt');

-- test: the sweep finds expired leases and items ready for longer than the grace period only
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "old"}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "new"}', p_now => '2026-01-01 00:04:30+00');
CREATE TEMP TABLE overdue AS
    SELECT m10_recovery.overdue_work_ids(300, 10, 'evaluate', '2026-01-01 00:05:00+00') AS ids;
SELECT m10_test.is((SELECT array_agg(payload->>'n') FROM m10_recovery.work_queue
                     WHERE id IN (SELECT unnest(ids) FROM overdue)), ARRAY['old'], 'only the item older than grace');
SELECT count(*) FROM m10_recovery.claim_work_by_ids('sweeper', (SELECT ids FROM overdue), 60,
                                                    '2026-01-01 00:05:00+00');
SELECT m10_test.is(m10_recovery.overdue_work_ids(300, 10, 'evaluate', '2026-01-01 00:05:30+00'), '{}'::bigint[],
                   'a running lease is not overdue (the new item is still within grace)');
SELECT m10_test.is(m10_recovery.overdue_work_ids(300, 10, 'evaluate', '2026-01-01 00:06:00+00'),
                   (SELECT ids FROM overdue), 'an expired lease is overdue again');

-- test: evaluate_work_by_ids claims, evaluates and completes in one statement, once
SELECT m10_recovery.ingest_failure(gen_random_uuid(), '{"error_type": "STREAM_A", "message": "a"}'::jsonb);
SELECT m10_recovery.ingest_failure(gen_random_uuid(), '{"error_type": "STREAM_B", "message": "b"}'::jsonb);
CREATE TEMP TABLE ids AS SELECT array_agg(id ORDER BY id) AS a FROM m10_recovery.work_queue;
CREATE TEMP TABLE done AS SELECT * FROM m10_recovery.evaluate_work_by_ids('w', (SELECT a || a FROM ids));
SELECT m10_test.is((SELECT count(*) FROM done WHERE candidate_id IS NOT NULL), 2::bigint, 'both done, once each');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 0::bigint, 'completed (deleted)');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_provenance p JOIN done d USING (candidate_id)
                     WHERE p.event = 'evaluated'), 2::bigint, 'one evaluation per candidate');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.evaluate_work_by_ids('w2', (SELECT a FROM ids))), 0::bigint,
                   'a second delivery evaluates nothing');

-- test: dead_letter_work marks pending items dead with the reason and the last error; leaves finished and held ones
SELECT m10_recovery.enqueue_work() FROM generate_series(1, 2);
CREATE TEMP TABLE ids AS SELECT array_agg(id ORDER BY id) AS a FROM m10_recovery.work_queue;
SELECT count(*) FROM m10_recovery.claim_work_by_ids('w', (SELECT a[1:1] FROM ids), 60);
SELECT m10_recovery.complete_work((SELECT a[1] FROM ids), false, 'boom', 'w', 0);
SELECT m10_test.is((SELECT row(state, last_error)::text FROM m10_recovery.dead_letter_work((SELECT a[1] FROM ids), 'delivered 3 times')),
                   '(dead,boom)', 'dead, with the last error');
SELECT m10_test.is((SELECT error_message FROM m10_recovery.work_queue WHERE id = (SELECT a[1] FROM ids)),
                   'dead-lettered: delivered 3 times; last error: boom', 'reason kept on the item');
SELECT m10_test.is((SELECT state FROM m10_recovery.dead_letter_work((SELECT a[1] FROM ids), 'again')), 'dead',
                   'repeatable');
SELECT count(*) FROM m10_recovery.claim_work_by_ids('w', (SELECT a[2:2] FROM ids), 60);
SELECT m10_test.is((SELECT state FROM m10_recovery.dead_letter_work((SELECT a[2] FROM ids), 'r')), 'claimed',
                   'a running lease is left alone');
SELECT m10_test.is((SELECT state FROM m10_recovery.dead_letter_work(999999999, 'r')), 'completed', 'gone');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.dead_letter_work(1, ' ')$$, '22023');

-- test: a replay requeues the dead item, is recorded once, and a second replay does nothing
SELECT m10_recovery.enqueue_work();
UPDATE m10_recovery.work_queue SET state = 'dead', processed_at = now(), attempts = 3;
SELECT m10_test.is(m10_recovery.prepare_stream_replay('1700000000000-0', (SELECT id FROM m10_recovery.work_queue)),
                   'ready', 'first replay');
SELECT m10_test.is((SELECT row(state, attempts)::text FROM m10_recovery.work_queue), '(pending,0)', 'requeued');
SELECT m10_test.ok(m10_recovery.record_stream_replay('1700000000000-0', (SELECT id FROM m10_recovery.work_queue),
                                                     '1700000000001-0'), 'recorded');
SELECT m10_test.ok(NOT m10_recovery.record_stream_replay('1700000000000-0', (SELECT id FROM m10_recovery.work_queue),
                                                         '1700000000002-0'), 'recorded once');
SELECT m10_test.is(m10_recovery.prepare_stream_replay('1700000000000-0', (SELECT id FROM m10_recovery.work_queue)),
                   'replayed', 'second replay is a no-op');
SELECT m10_test.is(m10_recovery.prepare_stream_replay('1700000000009-0', 999999999), 'completed', 'item gone');

-- test: bad arguments are refused with 22023 / 54000
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work_by_ids('w', NULL)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work_by_ids('w', ARRAY[1, NULL]::bigint[])$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work_by_ids(' ', ARRAY[1]::bigint[])$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work_by_ids('w', ARRAY[1]::bigint[], 0)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_work_by_ids('w', ARRAY(SELECT generate_series(1, 10001)::bigint))$$, '54000');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_work_by_ids('w', NULL)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_work_by_ids('', ARRAY[1]::bigint[])$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_work_by_ids('w', ARRAY(SELECT generate_series(1, 10001)::bigint))$$, '54000');
SELECT m10_test.throws($$SELECT m10_recovery.overdue_work_ids(-1)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.overdue_work_ids(1, 0)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.overdue_work_ids(1, 10, 'nope')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.prepare_stream_replay('not-an-id', 1)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.record_stream_replay('1-0', 1, 'x')$$, '22023');
