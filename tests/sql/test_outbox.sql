-- The outbox: publish, claim with a lease, complete, fail with backoff, dead letters, replay. The
-- clock moves through p_now; every case starts from an empty outbox.
DELETE FROM m10_recovery.outbox;
DELETE FROM m10_recovery.outbox_dead_letter;

-- test: publish inserts one due, unclaimed event with a fresh event_id
SELECT m10_test.ok(m10_recovery.publish_outbox('webhook.order.paid', '{"order": 7}', 'order', '7',
                                               p_now => '2026-01-01 00:00:00+00') > 0, 'publish returns an id');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox
                     WHERE event_type = 'webhook.order.paid' AND processed_at IS NULL AND claimed_by IS NULL
                       AND retry_count = 0 AND next_retry_at = '2026-01-01 00:00:00+00'
                       AND aggregate_type = 'order' AND aggregate_id = '7' AND event_id IS NOT NULL), 1::bigint,
                   'one pending event');

-- test: publish refuses bad event types, payloads and aggregates (22023, 54000 over 1 MiB)
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox(NULL, '{}')$$, '22023', 'p_event_type must be%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('', '{}')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('   ', '{}')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('Webhook.Upper', '{}')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('a..b', '{}')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox(repeat('a', 201), '{}')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('log.x', NULL)$$, '22023', 'p_payload must be a JSON object, got NULL');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('log.x', '[1, 2]')$$, '22023', '%got a JSON array');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('log.x', '{bad json')$$, '22P02');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('log.x', jsonb_build_object('big', repeat(md5(random()::text), 70000)))$$,
                       '54000', '%the limit is 1048576%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox('log.x', '{}', ' ', '1')$$, '22023');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox), 0::bigint, 'nothing written');

-- test: publish_outbox_batch inserts one event per payload, in order, in one call
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.publish_outbox_batch(
                        'webhook.order.paid', ARRAY['{"order": 1}', '{"order": 2}', '{"order": 3}']::jsonb[], 'order',
                        ARRAY['1', '2', '3'], p_now => '2026-01-01 00:00:00+00')), 3::bigint, 'three ids');
SELECT m10_test.is((SELECT array_agg(payload->>'order' || '=' || aggregate_id ORDER BY id) FROM m10_recovery.outbox),
                   ARRAY['1=1', '2=2', '3=3'], 'in input order, each with its aggregate id');
SELECT m10_test.is((SELECT count(DISTINCT event_id) FROM m10_recovery.outbox
                     WHERE next_retry_at = '2026-01-01 00:00:00+00' AND processed_at IS NULL), 3::bigint,
                   'due now, each with its own event_id');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.publish_outbox_batch('webhook.order.paid', '{}'::jsonb[])), 0::bigint,
                   'an empty batch publishes nothing');

-- test: publish_outbox_batch names the first bad element and writes nothing
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('Bad Type', ARRAY['{}']::jsonb[])$$, '22023',
                       'p_event_type must be%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('a.b', ARRAY['{}', '[1]', 'null']::jsonb[])$$, '22023',
                       'p_payloads[2] must be a JSON object%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('a.b', ARRAY['{}', NULL]::jsonb[])$$, '22023',
                       'p_payloads[2]%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('a.b', ARRAY['{}', '{}']::jsonb[], 'x', ARRAY['1'])$$,
                       '22023', 'p_aggregate_ids must be NULL or as long as p_payloads, got 1 and 2');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('a.b', ARRAY['{}']::jsonb[], 'x', ARRAY[' '])$$,
                       '22023', 'p_payloads[1]%p_aggregate_ids[1]%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('a.b', ARRAY['{}']::jsonb[], ' ')$$,
                       '22023', 'p_aggregate_type must be%');
SELECT m10_test.throws($$SELECT m10_recovery.publish_outbox_batch('a.b',
                          ARRAY['{}', jsonb_build_object('big', repeat(md5(g::text), 40000))]::jsonb[])
                          FROM generate_series(1, 1) g$$, '22023', 'p_payloads[2]%1 MiB%');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox), 0::bigint, 'nothing written');

-- test: a rolled-back transaction publishes nothing
SAVEPOINT before_publish;
SELECT m10_recovery.publish_outbox('log.x', '{}');
ROLLBACK TO SAVEPOINT before_publish;
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox), 0::bigint, 'the event left with the transaction');

-- test: claim leases due events oldest first, persisting the lease; a second processor gets the rest
SELECT m10_recovery.publish_outbox('log.a', '{"n": 1}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.publish_outbox('log.b', '{"n": 2}', p_now => '2026-01-01 00:00:01+00');
SELECT m10_recovery.publish_outbox('log.c', '{"n": 3}', p_now => '2026-01-01 00:00:02+00');
CREATE TEMP TABLE c1 AS SELECT * FROM m10_recovery.claim_outbox('p1', 2, 30, p_now => '2026-01-01 00:01:00+00');
SELECT m10_test.is((SELECT array_agg(event_type ORDER BY outbox_id) FROM c1), ARRAY['log.a', 'log.b'], 'oldest first');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox WHERE claimed_by = 'p1'
                       AND next_retry_at = '2026-01-01 00:01:30+00' AND claimed_at = '2026-01-01 00:01:00+00'),
                   2::bigint, 'the lease is persisted');
SELECT m10_test.is((SELECT array_agg(event_type) FROM m10_recovery.claim_outbox('p2', 10, p_now => '2026-01-01 00:01:00+00')),
                   ARRAY['log.c'], 'p2 gets only what p1 does not hold');

-- test: a crashed processor's events come back after the lease, counted as an attempt
SELECT m10_recovery.publish_outbox('log.a', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_outbox('crashed', 10, 30, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_outbox('p2', 10, p_now => '2026-01-01 00:00:29+00')),
                   0::bigint, 'still leased');
SELECT m10_test.is((SELECT retry_count FROM m10_recovery.claim_outbox('p2', 10, p_now => '2026-01-01 00:00:30+00')),
                   1, 'claimed again after the lease, the expiry counted');
SELECT m10_test.is((SELECT last_error FROM m10_recovery.outbox), 'lease expired (processor crashed)', 'why');
SELECT m10_test.is(m10_recovery.complete_outbox(ARRAY[(SELECT id FROM m10_recovery.outbox)], 'crashed'), 0,
                   'the crashed processor cannot complete what p2 holds');
SELECT m10_test.is(m10_recovery.complete_outbox(ARRAY[(SELECT id FROM m10_recovery.outbox)], 'p2',
                                                '2026-01-01 00:00:31+00'), 1, 'the holder completes');
SELECT m10_test.is((SELECT processed_at FROM m10_recovery.outbox), '2026-01-01 00:00:31+00'::timestamptz, 'processed');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_outbox('p3', 10, p_now => '2026-01-02 00:00:00+00')),
                   0::bigint, 'a processed event is never claimed again');
SELECT m10_test.is(m10_recovery.complete_outbox(ARRAY[(SELECT id FROM m10_recovery.outbox)], 'p2'), 0,
                   'completing twice is a no-op');

-- test: an event whose lease expires on its last attempt is dead-lettered, not handed out again
SELECT m10_recovery.publish_outbox('log.poison', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_outbox('a', 1, 10, 2, p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_outbox('b', 1, 10, 2, p_now => '2026-01-01 00:00:10+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_outbox('c', 1, 10, 2, p_now => '2026-01-01 00:00:20+00')),
                   0::bigint, 'not handed out a third time');
SELECT m10_test.is((SELECT reason || ' / ' || last_error || ' / ' || retry_count FROM m10_recovery.outbox_dead_letter),
                   'gave up after 2 attempts: the last lease expired / lease expired (processor b) / 2', 'dead letter');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox), 0::bigint, 'gone from the outbox');

-- test: backoff schedule: capped exponential with full jitter, on the injected clock
SELECT setseed(0.25);
SELECT m10_recovery.publish_outbox('webhook.x', '{}', p_now => '2026-01-01 00:00:00+00');
CREATE TEMP TABLE schedule (attempt integer, delay double precision, ceiling double precision);
DO $$
DECLARE
    v_now timestamptz := '2026-01-01 00:00:00+00';
    v_id  bigint := (SELECT id FROM m10_recovery.outbox);
    v_due timestamptz;
BEGIN
    FOR i IN 1 .. 11 LOOP
        PERFORM m10_recovery.claim_outbox('p', 1, 60, 12, v_now);
        PERFORM m10_test.is(m10_recovery.fail_outbox(v_id, 'p', 'HTTP 500', p_max_attempts => 12, p_base_seconds => 1,
                                                     p_cap_seconds => 100, p_now => v_now), 'retry', 'attempt ' || i);
        v_due := (SELECT next_retry_at FROM m10_recovery.outbox WHERE id = v_id);
        INSERT INTO schedule VALUES (i, extract(epoch FROM v_due - v_now), least(100, 2 ^ (i - 1)));
        PERFORM m10_test.is((SELECT count(*) FROM m10_recovery.claim_outbox('q', 1, 60, 12, v_due - interval '1 ms')),
                            0::bigint, 'not due before next_retry_at, attempt ' || i);
        v_now := v_due;
    END LOOP;
END $$;
SELECT m10_test.ok(bool_and(delay >= 0 AND delay < ceiling), 'every delay in [0, min(cap, base * 2^(n-1)))') FROM schedule;
-- The same seed replays the same draws: each delay is exactly draw * min(cap, base * 2^(n-1)).
SELECT setseed(0.25);
CREATE TEMP TABLE draws AS SELECT n, random() AS r FROM generate_series(1, 11) n ORDER BY n;
SELECT m10_test.ok(bool_and(abs(s.delay - d.r * least(100, 2 ^ (s.attempt - 1))) < 0.00001),
                   'the schedule is random() * min(100, 2^(n-1)) on every attempt')
  FROM schedule s JOIN draws d ON d.n = s.attempt;
SELECT m10_test.is((SELECT retry_count FROM m10_recovery.outbox), 11, 'retry_count kept');
SELECT m10_test.is((SELECT last_error FROM m10_recovery.outbox), 'HTTP 500', 'last_error kept');
CREATE TEMP TABLE delays AS SELECT m10_recovery.outbox_retry_delay(4, 1, 100) AS d FROM generate_series(1, 500);
SELECT m10_test.ok(bool_and(d >= 0 AND d < 8), 'attempt 4 draws in [0, 8)') FROM delays;
SELECT m10_test.ok(max(d) > 7 AND min(d) < 1, 'full jitter spans the window') FROM delays;

-- test: Retry-After overrides the backoff
SELECT m10_recovery.publish_outbox('webhook.x', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_outbox('p', 1, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.fail_outbox((SELECT id FROM m10_recovery.outbox), 'p', 'HTTP 429', p_retry_in_seconds => 120,
                                            p_now => '2026-01-01 00:00:00+00'), 'retry', 'retry');
SELECT m10_test.is((SELECT next_retry_at FROM m10_recovery.outbox), '2026-01-01 00:02:00+00'::timestamptz, 'Retry-After honoured');
SELECT m10_test.throws($$SELECT m10_recovery.fail_outbox(1, 'p', 'x', p_retry_in_seconds => -1)$$, '22023');

-- test: max attempts dead-letters; a 410 dead-letters at once; both keep the event for replay
SELECT m10_recovery.publish_outbox('webhook.a', '{"n": 1}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.publish_outbox('webhook.gone', '{"n": 2}', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_outbox('p', 10, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.fail_outbox((SELECT id FROM m10_recovery.outbox WHERE event_type = 'webhook.gone'), 'p',
                                            'HTTP 410 Gone', p_dead_letter => true), 'dead', '410 is dead at once');
SELECT m10_test.is(m10_recovery.fail_outbox((SELECT id FROM m10_recovery.outbox WHERE event_type = 'webhook.a'), 'p',
                                            'HTTP 500', p_max_attempts => 1), 'dead', 'max attempts 1');
SELECT m10_test.is((SELECT array_agg(reason ORDER BY id) FROM m10_recovery.outbox_dead_letter),
                   ARRAY['gave up after 1 attempts', 'HTTP 410 Gone'], 'reasons');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox), 0::bigint, 'nothing left in the outbox');
SELECT m10_test.is(m10_recovery.fail_outbox((SELECT min(id) FROM m10_recovery.outbox_dead_letter), 'p', 'late'), 'stale',
                   'failing a dead event again is a no-op');

-- test: replay puts dead letters back under the same id and event_id, once
SELECT m10_recovery.publish_outbox('webhook.a', '{"n": 1}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.publish_outbox('log.b', '{"n": 2}', p_now => '2026-01-01 00:00:00+00');
CREATE TEMP TABLE before AS SELECT id, event_id FROM m10_recovery.outbox;
SELECT count(*) FROM m10_recovery.claim_outbox('p', 10, p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.fail_outbox(id, 'p', 'gone', p_dead_letter => true) FROM m10_recovery.outbox;
SELECT m10_test.throws($$SELECT m10_recovery.replay_outbox()$$, '22023', 'name the dead letters%');
SELECT m10_test.is(m10_recovery.replay_outbox(p_event_type_prefix => 'webhook.', p_now => '2026-01-02 00:00:00+00'), 1, 'by prefix');
SELECT m10_test.is(m10_recovery.replay_outbox(p_all => true, p_now => '2026-01-02 00:00:00+00'), 1, 'the rest');
SELECT m10_test.is(m10_recovery.replay_outbox(p_all => true), 0, 'replaying again replays nothing');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox o JOIN before b USING (id, event_id)
                     WHERE o.retry_count = 0 AND o.claimed_by IS NULL AND o.next_retry_at = '2026-01-02 00:00:00+00'),
                   2::bigint, 'same ids and event_ids, due now, fresh attempts');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_outbox('p', 10, p_now => '2026-01-02 00:00:00+00')), 2::bigint,
                   'claimable again');

-- test: stats count each state
SELECT m10_recovery.publish_outbox('log.a', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.publish_outbox('log.b', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.publish_outbox('log.c', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.publish_outbox('log.d', '{}', p_now => '2026-01-01 00:00:00+00');
SELECT count(*) FROM m10_recovery.claim_outbox('p', 3, 60, p_now => '2026-01-01 00:00:00+00');
SELECT m10_recovery.complete_outbox(ARRAY[(SELECT min(id) FROM m10_recovery.outbox)], 'p');
SELECT m10_recovery.fail_outbox((SELECT max(id) FROM m10_recovery.outbox WHERE claimed_by = 'p' AND processed_at IS NULL), 'p', 'x',
                                p_retry_in_seconds => 30, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT row(pending, retrying, in_flight, lease_expired, processed, dead)::text
                      FROM m10_recovery.outbox_stats('2026-01-01 00:00:10+00')), '(1,1,1,0,1,0)', 'counts');
SELECT m10_test.is((SELECT oldest_pending_age_seconds FROM m10_recovery.outbox_stats('2026-01-01 00:00:10+00')), 10::double precision, 'lag');

-- test: claim, complete and fail refuse bad arguments
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_outbox(NULL)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_outbox(' ')$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_outbox('p', 0)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_outbox('p', 10, 0)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_outbox('p', 10, 60, 0)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.complete_outbox(NULL, 'p')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.fail_outbox(424242, 'p', 'x')$$, 'P0002', 'outbox event 424242 does not exist');
SELECT m10_test.throws($$SELECT m10_recovery.fail_outbox(1, 'p', 'x', p_base_seconds => 0)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.dead_letter_outbox(424242, 'x')$$, 'P0002');
SELECT m10_test.throws($$SELECT m10_recovery.dead_letter_outbox(1, ' ')$$, '22023');

-- test: ingest publishes recovery.candidate.created for a new candidate only, in its transaction
SELECT * FROM m10_recovery.ingest_failure('6d1f3f9e-0000-4000-8000-000000000001', '{"error_type": "TIMEOUT", "raw": "timed out"}');
SELECT * FROM m10_recovery.ingest_failure('6d1f3f9e-0000-4000-8000-000000000001', '{"error_type": "TIMEOUT", "raw": "timed out"}');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox WHERE event_type = 'recovery.candidate.created'), 1::bigint,
                   'one event for two reports of one candidate');
SELECT m10_test.is((SELECT payload->>'error_code' || ' ' || aggregate_type FROM m10_recovery.outbox), 'TIMEOUT candidate', 'payload');
SELECT * FROM m10_recovery.ingest_failures('[{"failure_match_id": "6d1f3f9e-0000-4000-8000-000000000002", "failure_payload": {"error_type": "OOM"}},
                                            {"failure_match_id": "6d1f3f9e-0000-4000-8000-000000000002", "failure_payload": {"error_type": "OOM"}},
                                            {"failure_match_id": "6d1f3f9e-0000-4000-8000-000000000003", "failure_payload": {"error_type": "OOM"}}]');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.outbox WHERE event_type = 'recovery.candidate.created'), 3::bigint,
                   'the batch published one event per new candidate');
SELECT m10_test.is((SELECT count(DISTINCT aggregate_id) FROM m10_recovery.outbox), 3::bigint, 'three candidates');
