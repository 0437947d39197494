-- Batch leases: a claim writes one work_leases row naming its items; expired items are found
-- through those rows. The clock moves through p_now. Every case starts from an empty queue.
DELETE FROM m10_recovery.work_queue;
DELETE FROM m10_recovery.work_leases;

-- test: one claim, one lease row naming its items, ending when they do
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00') FROM generate_series(1, 3);
CREATE TEMP TABLE c1 AS SELECT * FROM m10_recovery.claim_work('w1', 10, 60, p_now => '2026-01-01 00:01:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases), 1::bigint, 'one lease row for the batch');
SELECT m10_test.is((SELECT work_ids FROM m10_recovery.work_leases), (SELECT array_agg(work_id ORDER BY work_id) FROM c1),
                   'it names the claimed items');
SELECT m10_test.is((SELECT worker_id || '|' || claimed_at || '|' || lease_until || '|' || methods::text
                      FROM m10_recovery.work_leases),
                   'w1|2026-01-01 00:01:00+00|2026-01-01 00:02:00+00|{evaluate}', 'worker, claim time, end, methods');
SELECT m10_test.is((SELECT count(DISTINCT lease_id) FROM m10_recovery.work_queue WHERE state = 'claimed'), 1::bigint,
                   'every item points at it');

-- test: completing the whole batch in complete_and_claim removes its lease row
SELECT m10_recovery.enqueue_work() FROM generate_series(1, 3);
CREATE TEMP TABLE c2 AS SELECT * FROM m10_recovery.claim_work('w1', 3);
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.complete_and_claim('w1', (SELECT array_agg(work_id) FROM c2), 3)),
                   0::bigint, 'nothing left to claim');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases), 0::bigint, 'the lease row is gone');

-- test: completing part of a batch keeps its lease row for the rest
SELECT m10_recovery.enqueue_work() FROM generate_series(1, 3);
CREATE TEMP TABLE c3 AS SELECT * FROM m10_recovery.claim_work('w1', 3);
SELECT count(*) FROM m10_recovery.complete_and_claim('w1', ARRAY[(SELECT min(work_id) FROM c3)], 3);
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases), 1::bigint, 'lease row kept');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'claimed'), 2::bigint, 'two still claimed');

-- test: complete_work removes a one-item lease and leaves a batch's lease for the sweep
SELECT m10_recovery.enqueue_work() FROM generate_series(1, 3);
CREATE TEMP TABLE single AS SELECT * FROM m10_recovery.claim_work('w1', 1);
SELECT m10_test.ok(m10_recovery.complete_work((SELECT work_id FROM single), true), 'completed');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases), 0::bigint, 'its lease row went with it');
CREATE TEMP TABLE pair AS SELECT * FROM m10_recovery.claim_work('w1', 2);
SELECT m10_recovery.complete_work(work_id, true) FROM pair;
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases), 1::bigint, 'a drained batch lease waits');
SELECT count(*) FROM m10_recovery.claim_work('w2', 1, p_now => now() + interval '301 seconds');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases), 0::bigint,
                   'the sweep after its end removes it (no item was left under it)');

-- test: an extended item stays with its worker while its expired siblings are reclaimed
SELECT m10_recovery.enqueue_work(p_payload => jsonb_build_object('n', n), p_now => '2026-01-01 00:00:00+00')
  FROM generate_series(1, 3) AS n;
CREATE TEMP TABLE c4 AS SELECT * FROM m10_recovery.claim_work('w1', 3, 60, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.ok(m10_recovery.extend_work_lease((SELECT work_id FROM c4 WHERE payload->>'n' = '2'), 'w1', 600,
                                                   p_now => '2026-01-01 00:00:30+00') IS NOT NULL, 'extended');
SELECT m10_test.is((SELECT array_agg(payload->>'n' ORDER BY payload->>'n')
                      FROM m10_recovery.claim_work('w2', 10, 60, p_now => '2026-01-01 00:01:00+00')),
                   ARRAY['1', '3'], 'the two that expired are reclaimed');
SELECT m10_test.is((SELECT claimed_by FROM m10_recovery.work_queue WHERE payload->>'n' = '2'), 'w1',
                   'the extended one is still w1''s');
SELECT m10_test.is((SELECT lease_until FROM m10_recovery.work_leases WHERE worker_id = 'w1'),
                   '2026-01-01 00:10:30+00'::timestamptz, 'w1''s lease row now ends with the extended item');
SELECT m10_test.is((SELECT array_agg(payload->>'n')
                      FROM m10_recovery.claim_work('w3', 10, 60, p_now => '2026-01-01 00:10:30+00')),
                   ARRAY['1', '2', '3'], 'at that end the extended item comes back too (with w2''s two)');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases WHERE worker_id IN ('w1', 'w2')), 0::bigint,
                   'the swept lease rows are gone');

-- test: an expired batch larger than the claim comes back over several claims
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00') FROM generate_series(1, 5);
SELECT count(*) FROM m10_recovery.claim_work('crashed', 5, 60, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 2, p_now => '2026-01-01 00:02:00+00')), 2::bigint,
                   'first two');
SELECT m10_test.is((SELECT lease_until FROM m10_recovery.work_leases WHERE worker_id = 'crashed'),
                   '2026-01-01 00:01:00+00'::timestamptz, 'the crashed lease is still expired: three are left');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 2, p_now => '2026-01-01 00:02:00+00')), 2::bigint,
                   'next two');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 2, p_now => '2026-01-01 00:02:00+00')), 1::bigint,
                   'the last one');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_leases WHERE worker_id = 'crashed'), 0::bigint,
                   'and the crashed lease row is gone');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'claimed' AND claimed_by = 'w'), 5::bigint,
                   'all five are w''s now');

-- test: a sweep for one method leaves other methods' expired leases to their workers
INSERT INTO m10_recovery.work_methods (name, description, default_max_attempts) VALUES ('lease_test', 'test', 3);
SELECT m10_recovery.enqueue_work(p_method => 'lease_test', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('crashed', 1, 60, 'lease_test', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('crashed', 1, 60, 'evaluate', p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT method FROM m10_recovery.claim_work('w', 10, 60, 'evaluate', p_now => '2026-01-01 00:05:00+00')),
                   'evaluate', 'the evaluate worker takes back the evaluate item only');
SELECT m10_test.is((SELECT methods FROM m10_recovery.work_leases WHERE worker_id = 'crashed'), ARRAY['lease_test'],
                   'the other method''s expired lease is untouched');
SELECT m10_test.is((SELECT method FROM m10_recovery.claim_work('w', 10, 60, 'lease_test', p_now => '2026-01-01 00:05:00+00')),
                   'lease_test', 'and its own worker takes it back');

-- test: a failure, release_stalled_work and death clear the item's lease
SELECT m10_recovery.enqueue_work(p_max_attempts => 1, p_payload => '{"n": "last"}');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "retry"}');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "stalled"}');
CREATE TEMP TABLE c5 AS SELECT * FROM m10_recovery.claim_work('w1', 3);
SELECT m10_recovery.complete_work(work_id, false, 'boom') FROM c5 WHERE payload->>'n' IN ('last', 'retry');
SELECT m10_test.is(m10_recovery.release_stalled_work(0, p_now => now() + interval '1 second'), 1, 'one released');
SELECT m10_test.is((SELECT string_agg(payload->>'n' || ':' || state || ':' || (lease_id IS NULL), ',' ORDER BY payload->>'n')
                      FROM m10_recovery.work_queue),
                   'last:dead:true,retry:pending:true,stalled:pending:true', 'no lease left on any of them');

-- test: a claimed item must have a lease, and no other state may
SELECT m10_recovery.enqueue_work();
SELECT m10_test.throws($$UPDATE m10_recovery.work_queue SET state = 'claimed', claimed_at = now(), claimed_by = 'x'$$,
                       '23514', '%work_queue_claim_has_lease%');

-- test: a lease made shorter moves its lease row's end back, so the item is found when it expires
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('w1', 1, 600, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.ok(m10_recovery.extend_work_lease((SELECT id FROM m10_recovery.work_queue), 'w1', 10,
                                                   p_now => '2026-01-01 00:00:05+00') IS NOT NULL, 'shortened');
SELECT m10_test.is((SELECT lease_until FROM m10_recovery.work_leases), '2026-01-01 00:00:15+00'::timestamptz,
                   'the lease row ends with it');
SELECT m10_test.is((SELECT attempts FROM m10_recovery.claim_work('w2', 1, p_now => '2026-01-01 00:00:15+00')), 2,
                   'and the item is reclaimed at the new end');
