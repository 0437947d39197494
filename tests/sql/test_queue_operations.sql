-- Lease heartbeats, requeue of dead items, and the runbook's statements exactly as written there.
DELETE FROM m10_recovery.work_queue;

-- test: extend_work_lease moves a running lease and refuses an expired or foreign one
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('w', 1, p_lease_seconds => 60, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.extend_work_lease((SELECT id FROM m10_recovery.work_queue), 'w', 120,
                                                  p_now => '2026-01-01 00:00:50+00'),
                   '2026-01-01 00:02:50+00'::timestamptz, 'extended from now');
SELECT m10_test.is(m10_recovery.extend_work_lease((SELECT id FROM m10_recovery.work_queue), 'other', 120,
                                                  p_now => '2026-01-01 00:01:00+00'),
                   NULL::timestamptz, 'another worker cannot extend');
SELECT m10_test.is(m10_recovery.extend_work_lease((SELECT id FROM m10_recovery.work_queue), 'w', 120,
                                                  p_now => '2026-01-01 00:02:50+00'),
                   NULL::timestamptz, 'an expired lease cannot be extended');
SELECT m10_test.throws($$SELECT m10_recovery.extend_work_lease(-1, 'w')$$, 'P0002', 'work item -1 does not exist');
SELECT m10_test.throws($$SELECT m10_recovery.extend_work_lease(1, 'w', 0)$$, '22023');

-- test: requeue_dead_work gives dead items new attempts and leaves the others alone
SELECT m10_recovery.enqueue_work(p_max_attempts => 1) FROM generate_series(1, 3);
SELECT m10_recovery.enqueue_work(p_method => 'execute', p_max_attempts => 1);
SELECT m10_recovery.complete_work(work_id, false, 'poison') FROM m10_recovery.claim_work('w', 10);
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'dead'), 4::bigint, 'all dead');
SELECT m10_test.throws($$SELECT m10_recovery.requeue_dead_work()$$, '22023');
SELECT m10_test.is(m10_recovery.requeue_dead_work(p_work_ids => ARRAY[(SELECT min(id) FROM m10_recovery.work_queue)]),
                   1, 'one by id');
SELECT m10_test.is(m10_recovery.requeue_dead_work(p_method => 'evaluate'), 2, 'the other two evaluate items');
SELECT m10_test.is((SELECT string_agg(method || ':' || state || ':' || attempts, ',' ORDER BY id)
                      FROM m10_recovery.work_queue),
                   'evaluate:pending:0,evaluate:pending:0,evaluate:pending:0,execute:dead:1', 'states after requeue');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 10)), 3::bigint, 'claimable again');

-- test: the runbook's work queue statements run as written
SELECT m10_recovery.enqueue_work(p_payload => '{"n": 1}');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": 2}');
SELECT COUNT(*) FROM m10_recovery.work_queue;
SELECT proname FROM pg_proc
WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'm10_recovery')
  AND proname IN ('enqueue_work', 'claim_work', 'complete_work', 'release_stalled_work');
SELECT m10_test.is((SELECT count(*) FROM pg_proc
                     WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'm10_recovery')
                       AND proname IN ('enqueue_work', 'claim_work', 'complete_work', 'release_stalled_work')),
                   4::bigint, 'the four runbook functions exist');
SELECT COUNT(*) FROM m10_recovery.work_queue WHERE processed_at IS NULL;
SELECT COUNT(*) FROM m10_recovery.work_queue
WHERE claimed_at IS NOT NULL AND processed_at IS NULL
  AND claimed_at < now() - interval '5 minutes';
SELECT method, COUNT(*) FROM m10_recovery.work_queue
WHERE processed_at IS NULL
GROUP BY method;
SELECT m10_recovery.release_stalled_work(300);
CREATE TEMP TABLE manual AS SELECT * FROM m10_recovery.claim_work('manual_worker', 10);
SELECT m10_test.is((SELECT count(*) FROM manual), 2::bigint, 'manual claim');
SELECT m10_test.is(m10_recovery.complete_work((SELECT min(work_id) FROM manual), TRUE, NULL), true, 'complete');
SELECT m10_test.is(m10_recovery.complete_work((SELECT max(work_id) FROM manual), FALSE, 'Manual failure'), true, 'fail');
SELECT claimed_by, COUNT(*)
FROM m10_recovery.work_queue
WHERE processed_at IS NULL
GROUP BY claimed_by;
SELECT m10_test.is((SELECT error_message FROM m10_recovery.work_queue
                     WHERE error_message IS NOT NULL
                     GROUP BY error_message
                     ORDER BY COUNT(*) DESC LIMIT 1), 'Manual failure', 'errors grouped');
SELECT candidate_id FROM m10_recovery.work_queue
WHERE processed_at IS NULL AND claimed_at IS NULL;
