-- Behaviour of the work queue functions, with the clock moved through p_now instead of sleeping.
-- Every case starts from an empty queue.
DELETE FROM m10_recovery.work_queue;

-- test: enqueue with named defaults returns an id and a bare pending item
SELECT m10_test.ok(m10_recovery.enqueue_work(p_priority => 5) > 0, 'enqueue returns an id');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'pending' AND priority = 5
                      AND method = 'evaluate' AND candidate_id IS NULL AND payload = '{}'), 1::bigint,
                   'one bare pending item');
SELECT m10_test.is((SELECT max_attempts FROM m10_recovery.work_queue), 5::smallint, 'method default max_attempts');

-- test: claim returns a work_id column, highest priority first, then oldest
SELECT m10_recovery.enqueue_work(p_priority => 0, p_payload => '{"n": 1}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_priority => 9, p_payload => '{"n": 2}', p_now => '2026-01-01 00:00:01+00');
SELECT m10_recovery.enqueue_work(p_priority => 0, p_payload => '{"n": 3}', p_now => '2026-01-01 00:00:02+00');
CREATE TEMP TABLE claimed AS
    SELECT row_number() OVER () AS pos, * FROM m10_recovery.claim_work('w1', 2, p_now => '2026-01-01 00:01:00+00');
SELECT m10_test.is((SELECT array_agg(payload->>'n' ORDER BY pos) FROM claimed), ARRAY['2', '1'], 'claim order');
SELECT m10_test.is((SELECT count(*) FROM claimed WHERE attempts = 1 AND lease_expires_at = '2026-01-01 00:06:00+00'),
                   2::bigint, 'attempts and default 300 s lease');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE claimed_by = 'w1' AND state = 'claimed'),
                   2::bigint, 'claimed rows carry the worker');

-- test: delayed items are not claimable before their time
SELECT m10_recovery.enqueue_work(p_delay_seconds => 60, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 10, p_now => '2026-01-01 00:00:59+00')),
                   0::bigint, 'not yet available');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 10, p_now => '2026-01-01 00:01:00+00')),
                   1::bigint, 'available at its time');

-- test: an expired lease makes the item claimable again and counts the attempt
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('crashed', 1, p_lease_seconds => 30, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w2', 1, p_now => '2026-01-01 00:00:29+00')),
                   0::bigint, 'still leased');
SELECT m10_test.is((SELECT attempts FROM m10_recovery.claim_work('w2', 1, p_now => '2026-01-01 00:00:30+00')),
                   2, 'reclaimed after the lease with attempt 2');
SELECT m10_test.is((SELECT claimed_by FROM m10_recovery.work_queue), 'w2', 'new owner');

-- test: a stale worker cannot complete an item taken over after its lease
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('slow', 1, p_lease_seconds => 10, p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('fast', 1, p_now => '2026-01-01 00:00:11+00');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM m10_recovery.work_queue), true, NULL, 'slow'),
                   false, 'stale completion is a no-op');
SELECT m10_test.is((SELECT state FROM m10_recovery.work_queue), 'claimed', 'still claimed by fast');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM m10_recovery.work_queue), true, NULL, 'fast'),
                   true, 'owner completes');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 0::bigint, 'a completed item is deleted');
SELECT m10_test.is(m10_recovery.complete_work(currval('m10_recovery.work_queue_id_seq'), false, 'late'),
                   false, 'completing a finished item again is a no-op');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 0::bigint, 'and does not bring it back');
SELECT m10_test.throws($$SELECT m10_recovery.complete_work(currval('m10_recovery.work_queue_id_seq') + 1, true)$$,
                       'P0002', 'work item % does not exist');

-- test: failure retries with capped exponential backoff, then dead-letters at max attempts
SELECT m10_recovery.enqueue_work(p_max_attempts => 3, p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('w', 1, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.complete_work((SELECT id FROM m10_recovery.work_queue), false, 'boom 1',
                   p_now => '2026-01-01 00:00:00+00'), true, 'failure recorded');
-- first retry: retry_delay(1) lies in [1, 2] seconds
SELECT m10_test.ok((SELECT available_at BETWEEN '2026-01-01 00:00:01+00' AND '2026-01-01 00:00:02+00'
                      AND state = 'pending' AND claimed_by IS NULL AND error_message = 'boom 1'
                      FROM m10_recovery.work_queue), 'first retry in [1 s, 2 s]');
SELECT count(*) FROM m10_recovery.claim_work('w', 1, p_now => '2026-01-01 00:00:03+00');
SELECT m10_recovery.complete_work((SELECT id FROM m10_recovery.work_queue), false, 'boom 2',
                                  p_now => '2026-01-01 00:00:03+00');
-- second retry: retry_delay(2) lies in [2, 4] seconds
SELECT m10_test.ok((SELECT available_at BETWEEN '2026-01-01 00:00:05+00' AND '2026-01-01 00:00:07+00'
                      FROM m10_recovery.work_queue), 'second retry in [2 s, 4 s]');
SELECT count(*) FROM m10_recovery.claim_work('w', 1, p_now => '2026-01-01 00:00:10+00');
SELECT m10_recovery.complete_work((SELECT id FROM m10_recovery.work_queue), false, 'boom 3',
                                  p_now => '2026-01-01 00:00:10+00');
SELECT m10_test.is((SELECT state || ':' || attempts || ':' || error_message FROM m10_recovery.work_queue),
                   'dead:3:boom 3', 'dead after 3 attempts');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 1, p_now => '2027-01-01 00:00:00+00')),
                   0::bigint, 'dead items are never claimed');

-- test: retry_delay is capped and jittered within [cap/2, cap]
SELECT m10_test.ok((SELECT bool_and(d BETWEEN 300 AND 600)
                      FROM (SELECT m10_recovery.retry_delay(40) AS d FROM generate_series(1, 200)) s),
                   'attempt 40 stays within the 600 s cap');
SELECT m10_test.ok((SELECT count(DISTINCT round(m10_recovery.retry_delay(5)::numeric, 3)) > 50
                      FROM generate_series(1, 100)), 'delays are jittered');

-- test: a lease that expires on the last attempt dead-letters instead of handing it out again
SELECT m10_recovery.enqueue_work(p_max_attempts => 1, p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('crashy', 1, p_lease_seconds => 5, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_work('w', 1, p_now => '2026-01-01 00:00:06+00')),
                   0::bigint, 'not handed out again');
SELECT m10_test.ok((SELECT state = 'dead' AND error_message LIKE 'lease expired on attempt 1 of 1%'
                      FROM m10_recovery.work_queue), 'dead with a reason');

-- test: release_stalled_work releases old claims only and returns the count
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00') FROM generate_series(1, 3);
SELECT count(*) FROM m10_recovery.claim_work('old', 2, p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('new', 1, p_now => '2026-01-01 00:04:00+00');
SELECT m10_test.is(m10_recovery.release_stalled_work(300, p_now => '2026-01-01 00:05:30+00'), 2, 'two released');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'pending' AND claimed_by IS NULL),
                   2::bigint, 'released items are pending and ownerless');
SELECT m10_test.is(m10_recovery.complete_work((SELECT min(id) FROM m10_recovery.work_queue), true, NULL, 'old'),
                   false, 'the stalled worker''s late completion changes nothing');

-- test: complete_and_claim completes own items and claims the next batch in one call
SELECT m10_recovery.enqueue_work() FROM generate_series(1, 4);
CREATE TEMP TABLE first_batch AS SELECT work_id FROM m10_recovery.claim_work('w', 2);
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.complete_and_claim('w',
                      (SELECT array_agg(work_id) FROM first_batch), 2)), 2::bigint, 'next two claimed');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE id IN (SELECT work_id FROM first_batch)),
                   0::bigint, 'first two completed (deleted)');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.complete_and_claim('other',
                      (SELECT array_agg(id) FROM m10_recovery.work_queue WHERE state = 'claimed'), 2)),
                   0::bigint, 'nothing left to claim');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'claimed'), 2::bigint,
                   'another worker cannot complete items it does not hold');

-- test: complete_and_claim with a batch size of 0 completes and claims nothing
SELECT m10_recovery.enqueue_work() FROM generate_series(1, 3);
CREATE TEMP TABLE held AS SELECT work_id FROM m10_recovery.claim_work('w', 2);
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.complete_and_claim('w',
                      (SELECT array_agg(work_id) FROM held), 0)), 0::bigint, 'nothing claimed');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'claimed'), 0::bigint,
                   'both held items completed, the third not claimed');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue WHERE state = 'pending'), 1::bigint,
                   'the third is still pending');

-- test: release_work gives back only the caller's claimed items, uncounted, in their old place
SELECT m10_recovery.enqueue_work(p_payload => jsonb_build_object('n', n), p_now => '2026-01-01 00:00:00+00'::timestamptz + make_interval(secs => n))
  FROM generate_series(1, 4) AS n;
CREATE TEMP TABLE mine AS SELECT work_id FROM m10_recovery.claim_work('w', 2);
CREATE TEMP TABLE theirs AS SELECT work_id FROM m10_recovery.claim_work('other', 1);
SELECT m10_test.is(m10_recovery.release_work('w', (SELECT array_agg(work_id) FROM mine)
                                                  || (SELECT array_agg(work_id) FROM theirs) || 999999::bigint),
                   2, 'two released: the other worker''s item and an unknown id are left alone');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue
                     WHERE id IN (SELECT work_id FROM mine) AND state = 'pending' AND attempts = 0
                       AND claimed_by IS NULL AND claimed_at IS NULL), 2::bigint,
                   'pending again, the claim not counted as an attempt');
SELECT m10_test.is((SELECT claimed_by FROM m10_recovery.work_queue WHERE id = (SELECT work_id FROM theirs)),
                   'other', 'the other worker still holds its item');
SELECT m10_test.is((SELECT array_agg(payload->>'n' ORDER BY pos) FROM (
                      SELECT row_number() OVER () AS pos, payload FROM m10_recovery.claim_work('next', 3)) c),
                   ARRAY['1', '2', '4'], 'released items are claimed again first, in their old order');
SELECT m10_test.is(m10_recovery.release_work('w', '{}'), 0, 'an empty list releases nothing');
SELECT m10_test.throws($$SELECT m10_recovery.release_work(NULL, '{1}')$$, '22023',
                       'p_worker_id must be a non-empty name of at most 200 characters');
SELECT m10_test.throws($$SELECT m10_recovery.release_work('w', NULL)$$, '22023',
                       'p_work_ids must be an array of work ids, got NULL');
SELECT m10_test.throws($$SELECT m10_recovery.release_work('w', array_fill(1::bigint, ARRAY[10001]))$$, '54000',
                       'p_work_ids holds 10001 ids; the limit is 10000 per call');

-- test: enqueue_work_batch keeps input order and validates every element
CREATE TEMP TABLE batch_ids AS
    SELECT b.id, b.ord FROM m10_recovery.enqueue_work_batch(ARRAY['{"k":"a"}', '{"k":"b"}', '{"k":"c"}']::jsonb[])
                            WITH ORDINALITY AS b(id, ord);
SELECT m10_test.is((SELECT array_agg(w.payload->>'k' ORDER BY b.ord)
                      FROM batch_ids b JOIN m10_recovery.work_queue w ON w.id = b.id), ARRAY['a', 'b', 'c'],
                   'ids come back in input order');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}', '[1]']::jsonb[])$$, '22023',
                       'p_payloads[2] must be a JSON object%');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY[]::jsonb[])$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.enqueue_work_batch(ARRAY['{}']::jsonb[], p_candidate_ids => ARRAY[1, 2]::bigint[])$$,
                       '22023', 'p_candidate_ids has 2 elements but p_payloads has 1');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 3::bigint, 'rejected batches wrote nothing');

-- test: queue_stats counts every state
SELECT m10_recovery.enqueue_work(p_now => '2026-01-01 00:00:00+00') FROM generate_series(1, 4);
SELECT m10_recovery.enqueue_work(p_delay_seconds => 3600, p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_max_attempts => 1, p_now => '2025-12-31 00:00:00+00');
SELECT m10_recovery.complete_work(work_id, false, 'poison', p_now => '2025-12-31 00:00:00+00')
  FROM m10_recovery.claim_work('w', 1, p_now => '2025-12-31 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('w', 2, p_lease_seconds => 60, p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.complete_work(min(id), true) FROM m10_recovery.work_queue WHERE state = 'claimed';
SELECT m10_test.is((SELECT (ready, delayed, claimed, lease_expired, dead, oldest_ready_age_seconds)::text
                      FROM m10_recovery.queue_stats(p_now => '2026-01-01 00:00:30+00') WHERE method = 'evaluate'),
                   '(2,1,1,0,1,30)', 'counts with the lease running');
SELECT m10_test.is((SELECT (claimed, lease_expired)::text
                      FROM m10_recovery.queue_stats(p_now => '2026-01-01 00:02:00+00') WHERE method = 'evaluate'),
                   '(0,1)', 'counts once the lease ran out');

-- test: an expired lease is reclaimed before pending items of any priority
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "old"}', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_work('crashed', 1, p_lease_seconds => 10, p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.enqueue_work(p_payload => '{"n": "urgent"}', p_priority => 100, p_now => '2026-01-01 00:00:05+00');
SELECT m10_test.is((SELECT payload->>'n' FROM m10_recovery.claim_work('w', 1, p_now => '2026-01-01 00:00:20+00')),
                   'old', 'the stranded item first');
SELECT m10_test.is((SELECT payload->>'n' FROM m10_recovery.claim_work('w', 1, p_now => '2026-01-01 00:00:20+00')),
                   'urgent', 'then the pending one');

