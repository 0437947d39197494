-- decide_candidate (the decision state machine), claim_execution and record_execution (the execution
-- lease, outcomes recorded once) and the outcomes feeding later evaluations. The clock is p_now.
-- Every case: one rule 'D' (prefix D -> retry_with_backoff, score 0.8: prior-only confidence 0.6211)
-- and nothing is auto-approved unless the case says so.
UPDATE m10_recovery.suggestion_rules SET enabled = false WHERE enabled;
INSERT INTO m10_recovery.suggestion_rules (name, priority, match_field, match_kind, pattern, action_code, score)
VALUES ('D', 0, 'error_code', 'prefix', 'D', 'retry_with_backoff', 0.8);
UPDATE m10_recovery.settings SET value = '1' WHERE key = 'auto_approve_threshold';

CREATE FUNCTION pg_temp.cand(p_code text DEFAULT 'D1', p_message text DEFAULT 'it failed')
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO m10_recovery.recovery_candidates
           (failure_match_id, error_signature, signature_version, error_code, message_template, error_message)
    VALUES (gen_random_uuid(), m10_recovery.error_signature(p_code, p_message), 1, p_code,
            m10_recovery.normalize_message(p_message), p_message)
    RETURNING id
$$;

CREATE FUNCTION pg_temp.evaluated(p_code text DEFAULT 'D1', p_now timestamptz DEFAULT '2026-01-01 00:00:00+00')
RETURNS bigint LANGUAGE sql AS $$
    SELECT e.candidate_id FROM m10_recovery.evaluate_candidate(pg_temp.cand(p_code), p_now => p_now) e
$$;

CREATE FUNCTION pg_temp.approved(p_code text DEFAULT 'D1', p_now timestamptz DEFAULT '2026-01-01 00:00:00+00')
RETURNS bigint LANGUAGE sql AS $$
    SELECT d.candidate_id FROM m10_recovery.decide_candidate(pg_temp.evaluated(p_code, p_now), 'approved', 'alice',
                                                             p_now => p_now) d
$$;

CREATE FUNCTION pg_temp.state(p_id bigint)
RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws('|', c.decision, c.decided_by, c.execution_status, c.execution_claimed_by, c.execution_lease_until)
      FROM m10_recovery.recovery_candidates c WHERE c.id = p_id
$$;

CREATE FUNCTION pg_temp.events(p_id bigint)
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(p.event || ':' || p.actor, ',' ORDER BY p.id)
      FROM m10_recovery.suggestion_provenance p WHERE p.candidate_id = p_id
$$;

-- Whole candidate and provenance of one id, to show that a refused call changed nothing.
CREATE FUNCTION pg_temp.snapshot(p_id bigint)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'candidate', (SELECT to_jsonb(c) FROM m10_recovery.recovery_candidates c WHERE c.id = p_id),
        'provenance', (SELECT jsonb_agg(to_jsonb(p) ORDER BY p.id) FROM m10_recovery.suggestion_provenance p
                        WHERE p.candidate_id = p_id),
        'outcomes', (SELECT jsonb_agg(to_jsonb(o) ORDER BY o.id) FROM m10_recovery.execution_outcomes o
                      WHERE o.candidate_id = p_id))
$$;

-- Run p_sql, require 55000 with a message like p_like, and require the candidate unchanged.
CREATE FUNCTION pg_temp.refused(p_id bigint, p_sql text, p_like text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_before jsonb := pg_temp.snapshot(p_id);
BEGIN
    PERFORM m10_test.throws(p_sql, '55000', p_like);
    PERFORM m10_test.is(pg_temp.snapshot(p_id), v_before, 'unchanged after: ' || p_sql);
END $$;

CREATE FUNCTION pg_temp.decide_sql(p_id bigint, p_decision text, p_actor text)
RETURNS text LANGUAGE sql AS $$
    SELECT format('SELECT * FROM m10_recovery.decide_candidate(%s, %L, %L)', p_id, p_decision, p_actor)
$$;

-- test: approving an evaluated pending candidate records who, when, the note, and a decided event
CREATE TEMP TABLE c AS SELECT pg_temp.evaluated() AS id;
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.decide_candidate((SELECT id FROM c), 'approved', 'alice', 'looks right',
                                                                    '2026-01-02 00:00:00+00');
SELECT m10_test.is((SELECT format('%s|%s|%s|%s', candidate_id = (SELECT id FROM c), decision, decided_by, decided_at) FROM r),
                   't|approved|alice|2026-01-02 00:00:00+00', 'returned row');
SELECT m10_test.is((SELECT format('%s|%s|%s|%s|%s|%s', decision, decided_by, decided_at, decision_note, updated_at,
                                  execution_status)
                      FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM c)),
                   'approved|alice|2026-01-02 00:00:00+00|looks right|2026-01-02 00:00:00+00|pending', 'stored');
SELECT m10_test.is((SELECT details FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM c) AND event = 'decided' AND actor = 'alice'
                       AND created_at = '2026-01-02 00:00:00+00'),
                   '{"decision": "approved", "previous_decision": "pending", "note": "looks right",
                     "action": "retry_with_backoff", "confidence": 0.6211, "evaluation_state": "evaluated"}'::jsonb,
                   'decided event');

-- test: approve and reject are accepted as verbs, in any case and with blanks around
SELECT m10_test.is((SELECT decision FROM m10_recovery.decide_candidate(pg_temp.evaluated(), ' Approve ', 'a')), 'approved', 'approve');
SELECT m10_test.is((SELECT decision FROM m10_recovery.decide_candidate(pg_temp.evaluated(), 'reject', 'a')), 'rejected', 'reject');
SELECT m10_test.is((SELECT decision FROM m10_recovery.decide_candidate(pg_temp.evaluated(), 'REJECTED', 'a')), 'rejected', 'REJECTED');

-- test: bad arguments are 22023 and an unknown candidate is P0002, with nothing changed
CREATE TEMP TABLE c AS SELECT pg_temp.evaluated() AS id;
CREATE TEMP TABLE before AS SELECT pg_temp.snapshot((SELECT id FROM c)) AS s;
SELECT m10_test.throws(pg_temp.decide_sql((SELECT id FROM c), 'maybe', 'alice'), '22023', 'p_decision must be approved or rejected%');
SELECT m10_test.throws(pg_temp.decide_sql((SELECT id FROM c), '', 'alice'), '22023');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.decide_candidate(%s, NULL, %L)', (SELECT id FROM c), 'alice'), '22023');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.decide_candidate(%s, %L, NULL)', (SELECT id FROM c), 'approved'),
                       '22023', 'p_actor is required%');
SELECT m10_test.throws(pg_temp.decide_sql((SELECT id FROM c), 'approved', ''), '22023');
SELECT m10_test.throws(pg_temp.decide_sql((SELECT id FROM c), 'approved', '   '), '22023');
SELECT m10_test.throws(pg_temp.decide_sql((SELECT id FROM c), 'approved', repeat('a', 201)), '22023');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.decide_candidate(%s, %L, %L, %L)', (SELECT id FROM c),
                              'approved', 'alice', repeat('n', 4001)), '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.decide_candidate(NULL, 'approved', 'alice')$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.decide_candidate(-1, 'approved', 'alice')$$, 'P0002',
                       'candidate -1 does not exist');
SELECT m10_test.is(pg_temp.snapshot((SELECT id FROM c)), (SELECT s FROM before), 'nothing changed');

-- test: illegal transitions are refused with 55000 and change nothing (the full list)
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS approved, pg_temp.evaluated() AS rejected,
                              pg_temp.evaluated() AS pending, pg_temp.cand() AS unevaluated,
                              pg_temp.evaluated('NO_RULE') AS no_action, pg_temp.cand() AS failed_eval;
SELECT m10_recovery.decide_candidate((SELECT rejected FROM c), 'rejected', 'bob');
UPDATE m10_recovery.recovery_candidates SET evaluation_state = 'failed' WHERE id = (SELECT failed_eval FROM c);
-- approved -> rejected
SELECT pg_temp.refused((SELECT approved FROM c), pg_temp.decide_sql((SELECT approved FROM c), 'rejected', 'alice'),
                       'candidate % is already approved (by alice at %): cannot reject it');
-- rejected -> approved
SELECT pg_temp.refused((SELECT rejected FROM c), pg_temp.decide_sql((SELECT rejected FROM c), 'approved', 'bob'),
                       'candidate % is already rejected (by bob at %): cannot approve it');
-- approved -> pending, rejected -> pending, pending -> pending
SELECT pg_temp.refused((SELECT approved FROM c), pg_temp.decide_sql((SELECT approved FROM c), 'pending', 'alice'),
                       '%cannot be set to pending%');
SELECT pg_temp.refused((SELECT rejected FROM c), pg_temp.decide_sql((SELECT rejected FROM c), 'pending', 'bob'),
                       '%cannot be set to pending%');
SELECT pg_temp.refused((SELECT pending FROM c), pg_temp.decide_sql((SELECT pending FROM c), 'pending', 'carol'),
                       '%cannot be set to pending%');
-- deciding twice: the same decision by another actor
SELECT pg_temp.refused((SELECT approved FROM c), pg_temp.decide_sql((SELECT approved FROM c), 'approved', 'mallory'),
                       'candidate % is already approved (by alice at %): cannot approve it again as mallory');
SELECT pg_temp.refused((SELECT rejected FROM c), pg_temp.decide_sql((SELECT rejected FROM c), 'reject', 'mallory'),
                       'candidate % is already rejected (by bob at %)%');
-- approving what has no action: never evaluated, evaluated without a matching rule, evaluation failed
SELECT pg_temp.refused((SELECT unevaluated FROM c), pg_temp.decide_sql((SELECT unevaluated FROM c), 'approved', 'alice'),
                       'candidate % cannot be approved: it has not been evaluated (evaluation_state pending)');
SELECT pg_temp.refused((SELECT no_action FROM c), pg_temp.decide_sql((SELECT no_action FROM c), 'approved', 'alice'),
                       'candidate % cannot be approved: no rule suggested an action');
SELECT pg_temp.refused((SELECT failed_eval FROM c), pg_temp.decide_sql((SELECT failed_eval FROM c), 'approved', 'alice'),
                       '%has not been evaluated (evaluation_state failed)');
SELECT m10_test.is((SELECT string_agg(decision, ',' ORDER BY id) FROM m10_recovery.recovery_candidates
                     WHERE id IN (SELECT unnest(ARRAY[approved, rejected, pending, unevaluated, no_action, failed_eval]) FROM c)),
                   'approved,rejected,pending,pending,pending,pending', 'decisions as they were');

-- test: an auto-approved candidate cannot be re-decided by a person
UPDATE m10_recovery.settings SET value = '0.5' WHERE key = 'auto_approve_threshold';
CREATE TEMP TABLE c AS SELECT pg_temp.evaluated() AS id;
SELECT m10_test.is(pg_temp.state((SELECT id FROM c)), 'approved|system:auto|pending', 'auto-approved');
SELECT pg_temp.refused((SELECT id FROM c), pg_temp.decide_sql((SELECT id FROM c), 'approved', 'alice'),
                       '%already approved (by system:auto%');
SELECT pg_temp.refused((SELECT id FROM c), pg_temp.decide_sql((SELECT id FROM c), 'rejected', 'alice'),
                       '%already approved (by system:auto%cannot reject it');

-- test: the same decision repeated by the same actor is an idempotent retry: the recorded row, nothing new
CREATE TEMP TABLE c AS SELECT pg_temp.evaluated() AS id;
CREATE TEMP TABLE first AS SELECT * FROM m10_recovery.decide_candidate((SELECT id FROM c), 'approved', 'alice', 'first note',
                                                                        '2026-01-02 00:00:00+00');
CREATE TEMP TABLE before AS SELECT pg_temp.snapshot((SELECT id FROM c)) AS s;
CREATE TEMP TABLE again AS SELECT * FROM m10_recovery.decide_candidate((SELECT id FROM c), 'approve', 'alice', 'second note',
                                                                        '2026-01-03 00:00:00+00');
SELECT m10_test.is((SELECT to_jsonb(a) FROM again a), (SELECT to_jsonb(f) FROM first f), 'same answer');
SELECT m10_test.is(pg_temp.snapshot((SELECT id FROM c)), (SELECT s FROM before), 'nothing changed, the first note stands');
SELECT m10_test.is(pg_temp.events((SELECT id FROM c)), 'evaluated:evaluator,decided:alice', 'one decided event');

-- test: a candidate that was never evaluated can be rejected
CREATE TEMP TABLE c AS SELECT pg_temp.cand() AS id;
SELECT m10_test.is((SELECT decision || ':' || decided_by FROM m10_recovery.decide_candidate((SELECT id FROM c), 'rejected', 'bob',
                                                                                          'noise')),
                   'rejected:bob', 'rejected');
SELECT m10_test.is((SELECT details ->> 'action' FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM c) AND event = 'decided'), NULL, 'no action was decided on');
SELECT m10_test.is((SELECT decision FROM m10_recovery.decide_candidate((SELECT id FROM c), 'rejected', 'bob')), 'rejected',
                   'retry of the rejection');

-- test: claim_execution hands out approved candidates only, oldest decision first, with a lease and provenance
CREATE TEMP TABLE c AS SELECT pg_temp.approved('D1', '2026-01-01 00:00:02+00') AS later,
                              pg_temp.approved('D2', '2026-01-01 00:00:01+00') AS earlier,
                              pg_temp.evaluated() AS pending, pg_temp.evaluated() AS rejected;
SELECT m10_recovery.decide_candidate((SELECT rejected FROM c), 'rejected', 'bob');
CREATE TEMP TABLE k AS SELECT * FROM m10_recovery.claim_execution('ex1', 1, 60, '2026-01-01 01:00:00+00');
SELECT m10_test.is((SELECT format('%s|%s|%s|%s|%s', candidate_id = (SELECT earlier FROM c), suggested_action, error_code,
                                  error_signature = m10_recovery.error_signature('D2', 'it failed'), lease_until) FROM k),
                   't|retry_with_backoff|D2|t|2026-01-01 01:01:00+00', 'the earlier decision first');
SELECT m10_test.is(pg_temp.state((SELECT earlier FROM c)),
                   'approved|alice|executing|ex1|2026-01-01 01:01:00+00', 'claimed');
SELECT m10_test.is((SELECT details FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT earlier FROM c) AND event = 'execution_claimed' AND actor = 'ex1'
                       AND created_at = '2026-01-01 01:00:00+00'),
                   '{"executor": "ex1", "action": "retry_with_backoff", "lease_seconds": 60,
                     "lease_until": "2026-01-01T01:01:00+00:00", "takeover": false, "previous_executor": null,
                     "previous_lease_until": null}'::jsonb, 'execution_claimed event');
SELECT m10_test.is((SELECT array_agg(candidate_id) FROM m10_recovery.claim_execution('ex2', 10, 60, '2026-01-01 01:00:00+00')),
                   ARRAY[(SELECT later FROM c)], 'the rest: only approved ones');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('ex3', 10, 60, '2026-01-01 01:00:30+00')), 0::bigint,
                   'nothing left while the leases run');
SELECT m10_test.is(pg_temp.state((SELECT pending FROM c)) || ',' || pg_temp.state((SELECT rejected FROM c)),
                   'pending|pending,rejected|bob|pending', 'pending and rejected candidates are not executed');

-- test: claim_execution validates its arguments
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution(NULL)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution(' ')$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution('x', 0)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution('x', 1001)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution('x', 1, 0)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution('x', 1, 86401)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.claim_execution('x', NULL)$$, '22023');

-- test: the lease holder records the outcome once; a second call is false and changes nothing
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS id;
SELECT count(*) FROM m10_recovery.claim_execution('ex1', 1, 60, '2026-01-01 01:00:00+00');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'ex1', 'succeeded', '{"took_ms": 12}',
                                                 '2026-01-01 01:00:10+00'), true, 'recorded');
SELECT m10_test.is(pg_temp.state((SELECT id FROM c)), 'approved|alice|succeeded|ex1', 'status is the outcome, lease cleared');
SELECT m10_test.is((SELECT format('%s|%s|%s|%s|%s|%s|%s', error_signature = m10_recovery.error_signature('D1', 'it failed'),
                                  error_code, action_code, outcome, executed_by, details, created_at)
                      FROM m10_recovery.execution_outcomes WHERE candidate_id = (SELECT id FROM c)),
                   't|D1|retry_with_backoff|succeeded|ex1|{"took_ms": 12}|2026-01-01 01:00:10+00', 'outcome row');
SELECT m10_test.is((SELECT details - 'outcome_id' FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM c) AND event = 'executed' AND actor = 'ex1'),
                   '{"outcome": "succeeded", "action": "retry_with_backoff", "lease_until": "2026-01-01T01:01:00+00:00",
                     "lease_expired": false, "details": {"took_ms": 12}}'::jsonb, 'executed event');
SELECT m10_test.is(pg_temp.events((SELECT id FROM c)),
                   'evaluated:evaluator,decided:alice,execution_claimed:ex1,executed:ex1', 'the whole history');
CREATE TEMP TABLE before AS SELECT pg_temp.snapshot((SELECT id FROM c)) AS s;
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'ex1', 'succeeded'), false, 'repeat: false');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'ex1', 'failed'), false, 'another outcome: false');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'ex2', 'failed'), false, 'another executor: false');
SELECT m10_test.is(pg_temp.snapshot((SELECT id FROM c)), (SELECT s FROM before), 'nothing changed');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('ex3', 10, 60, '2027-01-01 00:00:00+00')), 0::bigint,
                   'an executed candidate is never claimed again');

-- test: an expired lease is taken over; the stale executor's outcome is refused, the new holder's recorded
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS id;
SELECT count(*) FROM m10_recovery.claim_execution('slow', 1, 30, '2026-01-01 01:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('fast', 1, 60, '2026-01-01 01:00:29+00')), 0::bigint,
                   'not before the lease ends');
SELECT m10_test.is((SELECT lease_until FROM m10_recovery.claim_execution('fast', 1, 60, '2026-01-01 01:00:30+00')),
                   '2026-01-01 01:01:30+00'::timestamptz, 'taken over when it ends');
SELECT m10_test.is((SELECT details ->> 'takeover' || ':' || (details ->> 'previous_executor') || ':' ||
                           (details ->> 'previous_lease_until')::timestamptz
                      FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM c) AND event = 'execution_claimed' AND actor = 'fast'),
                   'true:slow:2026-01-01 01:00:30+00', 'the takeover is recorded');
CREATE TEMP TABLE before AS SELECT pg_temp.snapshot((SELECT id FROM c)) AS s;
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'slow', 'succeeded', p_now => '2026-01-01 01:00:40+00'),
                   false, 'the stale executor gets false');
SELECT m10_test.is(pg_temp.snapshot((SELECT id FROM c)), (SELECT s FROM before), 'and changes nothing');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'fast', 'rolled_back', p_now => '2026-01-01 01:00:50+00'),
                   true, 'the holder records');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'slow', 'succeeded'), false, 'still false');
SELECT m10_test.is((SELECT string_agg(outcome || ':' || executed_by, ',') FROM m10_recovery.execution_outcomes
                     WHERE candidate_id = (SELECT id FROM c)), 'rolled_back:fast', 'one outcome, the holder''s');

-- test: an executor whose lease expired but was not taken over still records
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS id;
SELECT count(*) FROM m10_recovery.claim_execution('late', 1, 30, '2026-01-01 01:00:00+00');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'late', 'failed', p_now => '2026-01-01 02:00:00+00'),
                   true, 'recorded');
SELECT m10_test.is((SELECT details -> 'lease_expired' FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM c) AND event = 'executed'), 'true'::jsonb, 'lease_expired noted');

-- test: every outcome is a final execution status
CREATE TEMP TABLE c AS SELECT o, pg_temp.approved() AS id
                         FROM unnest(ARRAY['succeeded', 'failed', 'skipped', 'rolled_back']) o;
SELECT count(*) FROM m10_recovery.claim_execution('ex', 10, 60);
SELECT m10_test.is((SELECT bool_and(m10_recovery.record_execution(id, 'ex', o)) FROM c), true, 'all recorded');
SELECT m10_test.is((SELECT count(*) FROM c JOIN m10_recovery.recovery_candidates r ON r.id = c.id
                      JOIN m10_recovery.execution_outcomes e ON e.candidate_id = c.id
                     WHERE r.execution_status = c.o AND e.outcome = c.o AND r.execution_lease_until IS NULL),
                   4::bigint, 'status and outcome row agree');

-- test: record_execution refuses what is not being executed, and bad arguments
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS approved, pg_temp.evaluated() AS pending;
SELECT m10_test.is(m10_recovery.record_execution((SELECT approved FROM c), 'ex', 'succeeded'), false, 'never claimed');
SELECT m10_test.is(m10_recovery.record_execution((SELECT pending FROM c), 'ex', 'succeeded'), false, 'not approved');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.execution_outcomes WHERE candidate_id IN ((SELECT approved FROM c),
                                                                                                 (SELECT pending FROM c))),
                   0::bigint, 'no outcome');
SELECT count(*) FROM m10_recovery.claim_execution('ex', 1, 60);
SELECT m10_test.throws(format('SELECT m10_recovery.record_execution(%s, %L, %L)', (SELECT approved FROM c), 'ex', 'done'),
                       '22023', 'p_outcome must be one of succeeded, failed, skipped, rolled_back%');
SELECT m10_test.throws(format('SELECT m10_recovery.record_execution(%s, %L, NULL)', (SELECT approved FROM c), 'ex'), '22023');
SELECT m10_test.throws(format('SELECT m10_recovery.record_execution(%s, NULL, %L)', (SELECT approved FROM c), 'failed'), '22023');
SELECT m10_test.throws(format('SELECT m10_recovery.record_execution(%s, %L, %L, %L)', (SELECT approved FROM c), 'ex',
                              'failed', '[1]'), '22023', 'p_details must be a JSON object%');
SELECT m10_test.throws(format('SELECT m10_recovery.record_execution(%s, %L, %L, %L)', (SELECT approved FROM c), 'ex',
                              'failed', jsonb_build_object('big', repeat('x', 70000))), '22023');
SELECT m10_test.throws($$SELECT m10_recovery.record_execution(-1, 'ex', 'failed')$$, 'P0002', 'candidate -1 does not exist');
SELECT m10_test.throws($$SELECT m10_recovery.record_execution(NULL, 'ex', 'failed')$$, '22023');
SELECT m10_test.is(pg_temp.state((SELECT approved FROM c)) LIKE 'approved|alice|executing|ex|%', true, 'still executing');
SELECT m10_test.is(m10_recovery.record_execution((SELECT approved FROM c), 'ex', 'failed', NULL), true, 'NULL details is {}');

-- test: a candidate with a recorded outcome is never handed out again, even if its status is reset by hand
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS id;
SELECT count(*) FROM m10_recovery.claim_execution('ex', 1, 60);
SELECT m10_recovery.record_execution((SELECT id FROM c), 'ex', 'succeeded');
UPDATE m10_recovery.recovery_candidates SET execution_status = 'pending' WHERE id = (SELECT id FROM c);
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('ex', 10, 60)), 0::bigint, 'not claimed');
UPDATE m10_recovery.recovery_candidates SET execution_status = 'executing', execution_claimed_by = 'ex',
       execution_lease_until = now() + interval '1 minute' WHERE id = (SELECT id FROM c);
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM c), 'ex', 'failed'), false, 'the outcome is recorded once');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.execution_outcomes WHERE candidate_id = (SELECT id FROM c)), 1::bigint,
                   'one row');

-- test: outcomes are append-only
CREATE TEMP TABLE c AS SELECT pg_temp.approved() AS id;
SELECT count(*) FROM m10_recovery.claim_execution('ex', 1, 60);
SELECT m10_recovery.record_execution((SELECT id FROM c), 'ex', 'succeeded');
SELECT m10_test.throws($$UPDATE m10_recovery.execution_outcomes SET outcome = 'failed'$$, '55000');
SELECT m10_test.throws($$DELETE FROM m10_recovery.execution_outcomes$$, '55000');
SELECT m10_test.throws($$UPDATE m10_recovery.suggestion_provenance SET actor = 'x'$$, '55000');

-- test: recorded outcomes feed the next evaluation of the same signature: successes raise, failures lower, age fades
-- prior only (score 0.8): 0.6211
CREATE TEMP TABLE first AS SELECT pg_temp.evaluated('DS') AS id;
SELECT m10_test.is((SELECT confidence FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM first)), 0.6211,
                   'prior only');
CREATE TEMP TABLE ok AS SELECT pg_temp.approved('DS', '2026-01-01 00:00:00+00') AS id FROM generate_series(1, 2);
SELECT count(*) FROM m10_recovery.claim_execution('ex', 10, 60, '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT bool_and(m10_recovery.record_execution(id, 'ex', 'succeeded', p_now => '2026-01-01 00:00:00+00'))
                      FROM ok), true, 'two successes recorded');
-- a = 3.2 + 2, b = 0.8: 0.738183
CREATE TEMP TABLE nxt AS SELECT pg_temp.evaluated('DS', '2026-01-01 00:00:00+00') AS id;
SELECT m10_test.is((SELECT confidence FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM nxt)), 0.7381,
                   'the next candidate of the signature: above the prior-only value');
SELECT m10_test.is((SELECT details #>> '{history,signature,succeeded}' FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM nxt) AND event = 'evaluated'), '2', 'it saw them');
-- ten years later the two successes weigh nothing: back to 0.6211
SELECT m10_test.is((SELECT confidence FROM m10_recovery.evaluate_candidate((SELECT id FROM nxt),
                                                                           p_now => '2036-01-01 00:00:00+00')),
                   0.6211, 'decayed');
-- another signature: two failures lower it, a = 3.2, b = 0.8 + 2: 0.344772
CREATE TEMP TABLE bad AS SELECT pg_temp.approved('DF', '2026-01-01 00:00:00+00') AS id FROM generate_series(1, 2);
SELECT count(*) FROM m10_recovery.claim_execution('ex', 10, 60, '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT bool_and(m10_recovery.record_execution(id, 'ex', 'failed', p_now => '2026-01-01 00:00:00+00'))
                      FROM bad), true, 'two failures recorded');
CREATE TEMP TABLE nxt_bad AS SELECT pg_temp.evaluated('DF') AS id;
SELECT m10_test.is((SELECT confidence FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM nxt_bad)), 0.3447,
                   'below the prior-only value');

-- test: a suggestion that loses its executor's lease max_execution_attempts times fails once, with an outcome
INSERT INTO m10_recovery.recovery_candidates (failure_match_id, error_signature, signature_version, error_code,
                                              message_template, suggested_action, confidence, evaluation_state,
                                              decision, decided_by, decided_at)
VALUES (gen_random_uuid(), 'v2:crashes-every-executor', 2, 'OOM_KILLED', 'killed', 'reduce_batch_size', 0.5,
        'evaluated', 'approved', 'op', '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('e1', 10, 10, '2026-01-01 00:00:00+00')
                     WHERE error_signature = 'v2:crashes-every-executor'), 1::bigint, 'attempt 1');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('e2', 10, 10, '2026-01-01 00:00:10+00')
                     WHERE error_signature = 'v2:crashes-every-executor'), 1::bigint, 'attempt 2 after the lease');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('e3', 10, 10, '2026-01-01 00:00:20+00')
                     WHERE error_signature = 'v2:crashes-every-executor'), 1::bigint, 'attempt 3 after the lease');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.claim_execution('e4', 10, 10, '2026-01-01 00:00:30+00')
                     WHERE error_signature = 'v2:crashes-every-executor'), 0::bigint, 'not a fourth time');
SELECT m10_test.is((SELECT execution_status || ':' || execution_attempts FROM m10_recovery.recovery_candidates
                     WHERE error_signature = 'v2:crashes-every-executor'), 'failed:3', 'failed after 3 attempts');
SELECT m10_test.is((SELECT outcome || ':' || executed_by || ':' || (details->>'last_executor')
                      FROM m10_recovery.execution_outcomes WHERE error_signature = 'v2:crashes-every-executor'),
                   'failed:system:lease-expired:e3', 'one failed outcome the statistics count');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_provenance p
                      JOIN m10_recovery.recovery_candidates c ON c.id = p.candidate_id
                     WHERE c.error_signature = 'v2:crashes-every-executor' AND p.event = 'executed'),
                   1::bigint, 'and one provenance event');
SELECT m10_test.is(m10_recovery.record_execution((SELECT id FROM m10_recovery.recovery_candidates
                                                   WHERE error_signature = 'v2:crashes-every-executor'),
                                                  'e3', 'succeeded', '{}', '2026-01-01 00:00:31+00'),
                   false, 'the last executor''s late report changes nothing');
