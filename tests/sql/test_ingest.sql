-- Behaviour of ingest_failure and ingest_failures (and their helper normalize_failure_payload), with
-- the clock moved through p_now. Every case starts from empty recovery tables.
-- pg_temp.ingest_state sums up every table ingest writes; a case saves it in pg_temp.snap
-- (INSERT INTO snap SELECT * FROM ingest_state) and pg_temp.unchanged then proves that calls changed
-- nothing. Timestamps are compared as UTC text.
SET LOCAL TimeZone = 'UTC';
CREATE TEMP VIEW ingest_state AS
SELECT (SELECT count(*) FROM m10_recovery.recovery_candidates) AS candidates,
       (SELECT coalesce(sum(occurrence_count), 0) FROM m10_recovery.recovery_candidates) AS occurrences,
       (SELECT count(*) FROM m10_recovery.suggestion_input) AS inputs,
       (SELECT count(*) FROM m10_recovery.suggestion_provenance) AS provenance,
       (SELECT count(*) FROM m10_recovery.ingest_requests) AS requests,
       (SELECT count(*) FROM m10_recovery.work_queue) AS work,
       (SELECT md5(coalesce(string_agg(to_jsonb(c)::text, ',' ORDER BY c.id), '')) FROM m10_recovery.recovery_candidates c)
           AS candidates_md5;
CREATE TEMP TABLE snap AS SELECT * FROM ingest_state WITH NO DATA;
CREATE TEMP VIEW unchanged AS
SELECT (SELECT to_jsonb(s) FROM ingest_state s) = (SELECT to_jsonb(b) FROM snap b) AS ok;
SELECT m10_test.is((SELECT to_jsonb(s) - 'candidates_md5' FROM ingest_state s),
                   '{"candidates": 0, "occurrences": 0, "inputs": 0, "provenance": 0, "requests": 0, "work": 0}'::jsonb,
                   'the recovery tables are empty at the start of a case');

-- test: a first report is accepted: candidate, input, provenance and an evaluate item, one transaction
CREATE TEMP TABLE r AS
SELECT * FROM m10_recovery.ingest_failure(
    '00000000-0000-4000-8000-000000000001',
    '{"error_type": "TIMEOUT", "raw": "Request to https://api.example.com/v1/items/42 timed out after 30s",
      "stack": "Traceback ...", "skill": " fetch ", "tenant": "acme", "meta": {"attempt": 2}}',
    p_source => 'agent-7', p_priority => 5, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT count(*) FROM r), 1::bigint, 'one row');
SELECT m10_test.is((SELECT status FROM r), 'accepted', 'status');
SELECT m10_test.is((SELECT is_duplicate FROM r), false, 'is_duplicate');
SELECT m10_test.is((SELECT occurrence_count FROM r), 1, 'occurrence_count');
SELECT m10_test.is((SELECT error_signature FROM r),
                   (SELECT error_signature FROM m10_recovery.learn_template(
                        'TIMEOUT', 'Request to https://api.example.com/v1/items/42 timed out after 30s')),
                   'the versioned signature of code and message: the learned template''s (v3)');
SELECT m10_test.ok((SELECT error_signature LIKE 'v3:%' FROM r), 'signature version 3');
SELECT m10_test.ok((SELECT error_signature ~ '^v[0-9]+:' FROM r), 'signature has a version prefix');
SELECT m10_test.ok((SELECT work_id IS NOT NULL FROM r), 'an evaluate item was enqueued');
SELECT m10_test.is((SELECT jsonb_build_object(
                              'failure_match_id', c.failure_match_id, 'signature_version', c.signature_version,
                              'error_code', c.error_code, 'message_template', c.message_template,
                              'error_message', c.error_message, 'source', c.source, 'skill', c.skill, 'tenant', c.tenant,
                              'idempotency_key', c.idempotency_key, 'occurrence_count', c.occurrence_count,
                              'evaluation_state', c.evaluation_state, 'decision', c.decision,
                              'execution_status', c.execution_status, 'first_seen_at', c.first_seen_at,
                              'last_seen_at', c.last_seen_at, 'created_at', c.created_at, 'updated_at', c.updated_at)
                      FROM m10_recovery.recovery_candidates c WHERE c.id = (SELECT candidate_id FROM r)),
                   jsonb_build_object(
                       'failure_match_id', '00000000-0000-4000-8000-000000000001',
                       'signature_version', split_part(substr((SELECT error_signature FROM r), 2), ':', 1)::int,
                       'error_code', 'TIMEOUT',
                       'message_template', (SELECT template FROM m10_recovery.learn_template(
                           'TIMEOUT', 'Request to https://api.example.com/v1/items/42 timed out after 30s')),
                       'error_message', 'Request to https://api.example.com/v1/items/42 timed out after 30s',
                       'source', 'agent-7', 'skill', 'fetch', 'tenant', 'acme', 'idempotency_key', NULL,
                       'occurrence_count', 1, 'evaluation_state', 'pending', 'decision', 'pending',
                       'execution_status', 'pending',
                       'first_seen_at', '2026-01-01T00:00:00+00:00', 'last_seen_at', '2026-01-01T00:00:00+00:00',
                       'created_at', '2026-01-01T00:00:00+00:00', 'updated_at', '2026-01-01T00:00:00+00:00'),
                   'the candidate row');
SELECT m10_test.is((SELECT error_signature FROM m10_recovery.recovery_candidates), (SELECT error_signature FROM r),
                   'the stored signature is the returned one');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(i.input_type, i.source, i.value, i.created_at))
                      FROM m10_recovery.suggestion_input i WHERE i.candidate_id = (SELECT candidate_id FROM r)),
                   jsonb_build_array(jsonb_build_array('failure', 'agent-7',
                       '{"error_code": "TIMEOUT", "message": "Request to https://api.example.com/v1/items/42 timed out after 30s",
                         "stack": "Traceback ...", "skill": "fetch", "tenant": "acme", "meta": {"attempt": 2}}'::jsonb,
                       '2026-01-01T00:00:00+00:00')),
                   'one suggestion_input row holding the normalised failure');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(p.event, p.actor, p.created_at))
                      FROM m10_recovery.suggestion_provenance p WHERE p.candidate_id = (SELECT candidate_id FROM r)),
                   '[["ingested", "agent-7", "2026-01-01T00:00:00+00:00"]]'::jsonb, 'one ingested provenance row');
SELECT m10_test.is((SELECT p.details FROM m10_recovery.suggestion_provenance p),
                   jsonb_build_object(
                       'error_signature', (SELECT error_signature FROM r),
                       'signature_version', split_part(substr((SELECT error_signature FROM r), 2), ':', 1)::int,
                       'error_code', 'TIMEOUT',
                       'message_template', (SELECT message_template FROM m10_recovery.recovery_candidates),
                       'input', (SELECT value FROM m10_recovery.suggestion_input),
                       'source', 'agent-7', 'idempotency_key', NULL, 'occurrence_count', 1,
                       'work_id', (SELECT work_id FROM r),
                       'template', jsonb_build_object(
                           'template_id', (SELECT template_id FROM m10_recovery.recovery_candidates),
                           'template_key', (SELECT template_key FROM m10_recovery.message_templates),
                           'template', 'Request to <*> timed out after <*>', 'template_version', 1,
                           'action', 'created', 'similarity', 1, 'threshold', 0.5, 'variable_positions', '[]'::jsonb,
                           'merge_id', (SELECT id FROM m10_recovery.template_merges), 'algorithm', 'v3')),
                   'provenance holds the normalised inputs, the signature, the work item and the learned template');
SELECT m10_test.is((SELECT jsonb_build_array(w.candidate_id, w.method, w.state, w.priority, w.available_at, w.payload)
                      FROM m10_recovery.work_queue w WHERE w.id = (SELECT work_id FROM r)),
                   jsonb_build_array((SELECT candidate_id FROM r), 'evaluate', 'pending', 5,
                                     '2026-01-01T00:00:00+00:00', '{}'::jsonb),
                   'the evaluate item: for the candidate, at p_priority, available at p_now');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 1::bigint, 'exactly one work item');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.ingest_requests), 0::bigint, 'no key, no request row');

-- test: a repeat report is a duplicate: the count goes up, last_seen_at moves, no new work
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
    '{"error_type": "TIMEOUT", "raw": "Request to https://api.example.com/v1/items/42 timed out after 30s"}',
    p_now => '2026-01-01 00:00:00+00');
CREATE TEMP TABLE r AS
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
    -- only variable parts differ (id and duration), so the signature is the same
    '{"error_type": "TIMEOUT", "raw": "Request to https://api.example.com/v1/items/977 timed out after 12s", "skill": "other"}',
    p_source => 'agent-8', p_now => '2026-01-01 00:05:00+00');
SELECT m10_test.is((SELECT status || ':' || is_duplicate || ':' || occurrence_count || ':' || coalesce(work_id::text, 'no work') FROM r),
                   'duplicate:true:2:no work', 'a duplicate with count 2 and no new work');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.recovery_candidates), 1::bigint, 'still one candidate');
SELECT m10_test.is((SELECT c.id FROM m10_recovery.recovery_candidates c), (SELECT candidate_id FROM r), 'the same candidate');
SELECT m10_test.is((SELECT jsonb_build_object(
                              'error_code', c.error_code, 'error_message', c.error_message, 'source', c.source,
                              'skill', c.skill, 'tenant', c.tenant, 'occurrence_count', c.occurrence_count,
                              'first_seen_at', c.first_seen_at, 'last_seen_at', c.last_seen_at,
                              'created_at', c.created_at, 'updated_at', c.updated_at)
                      FROM m10_recovery.recovery_candidates c),
                   '{"error_code": "TIMEOUT", "error_message": "Request to https://api.example.com/v1/items/42 timed out after 30s",
                     "source": null, "skill": null, "tenant": null, "occurrence_count": 2,
                     "first_seen_at": "2026-01-01T00:00:00+00:00", "last_seen_at": "2026-01-01T00:05:00+00:00",
                     "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:05:00+00:00"}'::jsonb,
                   'count 2, last_seen_at and updated_at moved, the first report''s fields kept');
SELECT m10_test.is((SELECT string_agg(i.source || '/' || (i.value->>'skill'), ',' ORDER BY i.id) FROM m10_recovery.suggestion_input i
                     WHERE i.value ? 'skill'), 'agent-8/other', 'the repeat''s own input is recorded');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_input), 2::bigint, 'one input row per report');
SELECT m10_test.is((SELECT string_agg(p.event, ',' ORDER BY p.id) FROM m10_recovery.suggestion_provenance p),
                   'ingested,repeated', 'provenance: ingested, then repeated');
SELECT m10_test.is((SELECT p.details FROM m10_recovery.suggestion_provenance p WHERE p.event = 'repeated'),
                   jsonb_build_object('error_signature', (SELECT error_signature FROM r), 'occurrence_count', 2,
                                      'source', 'agent-8', 'idempotency_key', NULL, 'work_id', NULL,
                                      'template', jsonb_build_object(
                                          'template_id', (SELECT id FROM m10_recovery.message_templates),
                                          'template_key', (SELECT template_key FROM m10_recovery.message_templates),
                                          'template', 'Request to <*> timed out after <*>', 'template_version', 1,
                                          'action', 'matched', 'similarity', 1, 'threshold', NULL,
                                          'variable_positions', '[]'::jsonb, 'merge_id', NULL, 'algorithm', 'v3')),
                   'repeated provenance details: the template matched, nothing learned');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 1::bigint, 'no second evaluate item');

-- test: a late report (older p_now) counts but does not move last_seen_at back
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "X"}',
                                                 p_now => '2026-01-02 00:00:00+00');
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "X"}',
                                                 p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT occurrence_count || ' ' || last_seen_at || ' ' || first_seen_at FROM m10_recovery.recovery_candidates),
                   '2 2026-01-02 00:00:00+00 2026-01-02 00:00:00+00', 'count 2, last_seen_at kept at the latest');

-- test: identity is (failure_match_id, error_signature): either part differing makes a new candidate
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "TIMEOUT", "raw": "a"}');
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000002', '{"error_type": "TIMEOUT", "raw": "a"}');
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "OOM", "raw": "a"}');
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "TIMEOUT", "raw": "b"}');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.recovery_candidates), 4::bigint, 'four identities');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 4::bigint, 'four evaluate items');
SELECT m10_test.is((SELECT count(DISTINCT error_signature) FROM m10_recovery.recovery_candidates), 3::bigint,
                   'the same signature under two failure_match_ids');

-- test: payload aliases: error_type before error_code, raw before error_message before message
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"error_code": "E1", "error_type": "E2"}')->>'error_code', 'E2',
                   'error_type wins over error_code');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"error_code": "E1"}')->>'error_code', 'E1', 'error_code alone');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"error_type": null, "error_code": "E1"}')->>'error_code', 'E1',
                   'null is absent');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"error_type": "  ", "error_code": " E1 "}')->>'error_code', 'E1',
                   'blank is absent; codes are trimmed');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{}'), '{"error_code": "UNKNOWN", "message": ""}'::jsonb,
                   'an empty payload: UNKNOWN and an empty message');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"message": "m", "error_message": "e", "raw": "r"}')->>'message', 'r',
                   'raw first');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"message": "m", "error_message": "e"}')->>'message', 'e',
                   'then error_message');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"message": "m", "raw": ""}')->>'message', 'm',
                   'then message (an empty one does not hide the next)');
SELECT m10_test.is(m10_recovery.normalize_failure_payload(
                       '{"error_type": "E", "skill": "", "tenant": null, "meta": null, "stack": "", "trace_id": "t-1", "extra": 1}'),
                   '{"error_code": "E", "message": "", "extra": {"trace_id": "t-1", "extra": 1}}'::jsonb,
                   'blank and null optional fields are absent; unknown fields are kept under extra');
SELECT m10_test.is(m10_recovery.normalize_failure_payload('{"meta": {"a": null, "b": [1, {"c": null}]}}')->'meta',
                   '{"a": null, "b": [1, {"c": null}]}'::jsonb, 'meta is kept as sent, nulls included');
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"raw": "boom"}');
SELECT m10_test.is((SELECT c.error_code FROM m10_recovery.recovery_candidates c WHERE c.id = (SELECT candidate_id FROM r)),
                   'UNKNOWN', 'a report without a code is stored as UNKNOWN');

-- test: the fingerprint reads the first 64 KiB of the message; the candidate keeps all of it
CREATE TEMP TABLE r AS
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
    jsonb_build_object('error_type', 'BIG', 'raw', repeat('word ', 13107) || 'a' || repeat('z', 100000)));
SELECT m10_test.is((SELECT length(error_message) FROM m10_recovery.recovery_candidates), 165536, 'whole message stored');
SELECT m10_test.is((SELECT message_template FROM m10_recovery.recovery_candidates),
                   (SELECT template FROM m10_recovery.learn_template(
                        'BIG', left(repeat('word ', 13107) || 'a' || repeat('z', 100000), 65536))),
                   'template of the first 65536 characters');
SELECT m10_test.is((SELECT error_signature FROM r),
                   (SELECT error_signature FROM m10_recovery.learn_template(
                        'BIG', left(repeat('word ', 13107) || 'a' || repeat('z', 100000), 65536))),
                   'signature of the first 65536 characters');
SELECT m10_test.is((SELECT occurrence_count FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                        jsonb_build_object('error_type', 'BIG', 'raw', repeat('word ', 13107) || 'a' || repeat('y', 5)))),
                   2, 'messages that differ only after 64 KiB are the same failure');

-- test: an idempotency key makes a retry a pure replay of the first answer
CREATE TEMP TABLE first_answer AS
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "TIMEOUT", "raw": "x"}',
    p_source => 's', p_idempotency_key => '10000000-0000-4000-8000-000000000001', p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT status || ':' || occurrence_count FROM first_answer), 'accepted:1', 'first use');
SELECT m10_test.is((SELECT jsonb_build_array(r.candidate_id, r.status, r.payload_sha256 ~ '^[0-9a-f]{64}$', r.created_at)
                      FROM m10_recovery.ingest_requests r WHERE r.idempotency_key = '10000000-0000-4000-8000-000000000001'),
                   jsonb_build_array((SELECT candidate_id FROM first_answer), 'accepted', true, '2026-01-01T00:00:00+00:00'),
                   'the first use is recorded with its answer and the request''s sha256');
SELECT m10_test.is((SELECT idempotency_key FROM m10_recovery.recovery_candidates), '10000000-0000-4000-8000-000000000001'::uuid,
                   'the candidate names the key of its first report');
INSERT INTO snap SELECT * FROM ingest_state;
CREATE TEMP TABLE replay AS
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
    -- the same JSON written differently (key order, white space) is the same request
    '{"raw": "x",   "error_type": "TIMEOUT"}', p_source => 's', p_idempotency_key => '10000000-0000-4000-8000-000000000001',
    p_now => '2026-01-01 01:00:00+00');
SELECT m10_test.is((SELECT to_jsonb(r) FROM replay r), (SELECT to_jsonb(f) || '{"work_id": null}' FROM first_answer f),
                   'the same answer, without the work item');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'a replay changes nothing: no count, no input, no provenance, no work');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                        '{"error_type": "TIMEOUT", "raw": "x"}', p_source => 's',
                        p_idempotency_key => '10000000-0000-4000-8000-000000000001', p_priority => 9)), 1::bigint,
                   'another priority is still a replay (the key covers the report, not how it is queued)');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'still nothing changed');

-- test: a replay reports the count as now stored, and a duplicate's key replays 'duplicate'
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}',
                                                 p_idempotency_key => '10000000-0000-4000-8000-000000000001');
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}');
CREATE TEMP TABLE dup AS
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}',
                                          p_idempotency_key => '10000000-0000-4000-8000-000000000002');
SELECT m10_test.is((SELECT status || ':' || is_duplicate || ':' || occurrence_count FROM dup), 'duplicate:true:3', 'keyed repeat');
SELECT m10_test.is((SELECT status FROM m10_recovery.ingest_requests WHERE idempotency_key = '10000000-0000-4000-8000-000000000002'),
                   'duplicate', 'recorded as duplicate');
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}');
SELECT m10_test.is((SELECT status || ':' || is_duplicate || ':' || occurrence_count || ':' || coalesce(work_id::text, '-')
                      FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}',
                                                       p_idempotency_key => '10000000-0000-4000-8000-000000000001')),
                   'accepted:false:4:-', 'first key replays accepted, with the count as now stored');
SELECT m10_test.is((SELECT status || ':' || occurrence_count
                      FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}',
                                                       p_idempotency_key => '10000000-0000-4000-8000-000000000002')),
                   'duplicate:4', 'second key replays duplicate');
SELECT m10_test.is((SELECT occurrence_count FROM m10_recovery.recovery_candidates), 4, 'two keyed and two plain reports');

-- test: the same key with a different request is an error naming the key, and writes nothing
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T", "raw": "x"}',
                                                 p_source => 's', p_idempotency_key => '10000000-0000-4000-8000-000000000001');
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           '{"error_type": "T", "raw": "y"}', p_source => 's',
                           p_idempotency_key => '10000000-0000-4000-8000-000000000001')$$,
                       '22023', 'idempotency key 10000000-0000-4000-8000-000000000001 was already used with a different payload');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           '{"error_type": "T", "raw": "x"}', p_source => 'other',
                           p_idempotency_key => '10000000-0000-4000-8000-000000000001')$$,
                       '22023', '% was already used with a different payload');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           '{"error_type": "T", "raw": "x"}',
                           p_idempotency_key => '10000000-0000-4000-8000-000000000001')$$,
                       '22023', '% was already used with a different payload');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000002',
                           '{"error_type": "T", "raw": "x"}', p_source => 's',
                           p_idempotency_key => '10000000-0000-4000-8000-000000000001')$$,
                       '22023', '% was already used with a different payload');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000003", "failure_payload": {}},
                             {"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "T"},
                              "idempotency_key": "10000000-0000-4000-8000-000000000001"}]')$$,
                       '22023', 'p_failures[2].idempotency_key 10000000-0000-4000-8000-000000000001 was already used with a different payload');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'nothing written by the rejected calls');

-- test: re-evaluation: a repeat enqueues evaluate work only for an evaluated, undecided candidate without any
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}');
DELETE FROM m10_recovery.work_queue;
SELECT m10_test.is((SELECT work_id FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}')),
                   NULL::bigint, 'evaluation_state pending: its evaluation is already on its way');
UPDATE m10_recovery.recovery_candidates SET evaluation_state = 'evaluated', evaluated_at = now();
CREATE TEMP TABLE again AS
SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}', p_priority => 3);
SELECT m10_test.ok((SELECT work_id IS NOT NULL FROM again), 'evaluated and undecided: re-evaluate');
SELECT m10_test.is((SELECT candidate_id || ':' || method || ':' || priority FROM m10_recovery.work_queue),
                   (SELECT candidate_id || ':evaluate:3' FROM again), 'the re-evaluation item');
SELECT m10_test.is((SELECT p.details->>'work_id' FROM m10_recovery.suggestion_provenance p ORDER BY p.id DESC LIMIT 1),
                   (SELECT work_id::text FROM again), 'the repeated provenance names the work item');
SELECT m10_test.is((SELECT work_id FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}')),
                   NULL::bigint, 'one pending already: no second item');
SELECT count(*) FROM m10_recovery.claim_work('w', 10);
SELECT m10_test.ok((SELECT work_id IS NOT NULL FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}')),
                   'one running (it may have read the candidate before this report): a new item waits behind it');
SELECT m10_test.is((SELECT work_id FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}')),
                   NULL::bigint, 'and then one waiting: no third item');
DELETE FROM m10_recovery.work_queue;
UPDATE m10_recovery.recovery_candidates SET decision = 'approved', decided_by = 'op', decided_at = now();
SELECT m10_test.is((SELECT work_id FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}')),
                   NULL::bigint, 'decided: no re-evaluation');
UPDATE m10_recovery.recovery_candidates SET decision = 'pending', decided_by = NULL, decided_at = NULL,
                                            evaluation_state = 'failed';
SELECT m10_test.is((SELECT work_id FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "T"}')),
                   NULL::bigint, 'evaluation failed: left to the dead-letter path');
SELECT m10_test.is((SELECT occurrence_count FROM m10_recovery.recovery_candidates), 8, 'every report counted');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.work_queue), 0::bigint, 'no work left over');

-- test: batch: one row per element in order; an identity twice counts twice; work only for new candidates
CREATE TEMP TABLE b AS
SELECT * FROM m10_recovery.ingest_failures(
    '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A", "raw": "took 5s"}},
      {"failure_match_id": "00000000-0000-4000-8000-000000000002", "failure_payload": {"error_type": "A"}, "source": "own"},
      {"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A", "raw": "took 7s"}},
      {"failure_match_id": "00000000-0000-4000-8000-000000000003", "failure_payload": {"error_code": "B"}},
      {"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A", "raw": "took 9s"}}]',
    p_source => 'batch-src', p_priority => 4, p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT string_agg(ordinal || ':' || status || ':' || is_duplicate || ':' || occurrence_count || ':'
                                      || (work_id IS NOT NULL), ',' ORDER BY ordinal) FROM b),
                   '1:accepted:false:1:true,2:accepted:false:1:true,3:duplicate:true:2:false,4:accepted:false:1:true,5:duplicate:true:3:false',
                   'ordinals, statuses and running counts');
SELECT m10_test.is((SELECT count(DISTINCT candidate_id) FROM b WHERE ordinal IN (1, 3, 5)), 1::bigint, 'one candidate for 1, 3, 5');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.recovery_candidates), 3::bigint, 'three candidates');
SELECT m10_test.is((SELECT occurrence_count FROM m10_recovery.recovery_candidates
                     WHERE failure_match_id = '00000000-0000-4000-8000-000000000001'), 3, 'stored count 3');
SELECT m10_test.is((SELECT string_agg(source, ',' ORDER BY failure_match_id) FROM m10_recovery.recovery_candidates),
                   'batch-src,own,batch-src', 'an element''s source overrides p_source');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_input), 5::bigint, 'an input row per element');
SELECT m10_test.is((SELECT string_agg(event, ',' ORDER BY id) FROM m10_recovery.suggestion_provenance),
                   'ingested,ingested,repeated,ingested,repeated', 'provenance per element, in order');
SELECT m10_test.is((SELECT string_agg(w.priority || '@' || w.available_at, ',') FROM m10_recovery.work_queue w),
                   '4@2026-01-01 00:00:00+00,4@2026-01-01 00:00:00+00,4@2026-01-01 00:00:00+00', 'work at p_priority and p_now');
SELECT m10_test.is((SELECT array_agg(w.candidate_id ORDER BY w.candidate_id) FROM m10_recovery.work_queue w),
                   (SELECT array_agg(candidate_id ORDER BY candidate_id) FROM b WHERE work_id IS NOT NULL), 'work ids map to candidates');
SELECT m10_test.is((SELECT error_signature FROM b WHERE ordinal = 4),
                   (SELECT error_signature FROM m10_recovery.learn_template('B', '')), 'error_code alias');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.ingest_failures('[]')), 0::bigint, 'an empty batch returns no rows');

-- test: a batch gives the same answers and rows as the same reports sent one by one
CREATE TEMP TABLE b AS
SELECT * FROM m10_recovery.ingest_failures(
    '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A", "skill": "s", "meta": {"k": 1}}},
      {"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A"}, "source": "x"},
      {"failure_match_id": "00000000-0000-4000-8000-000000000002", "failure_payload": {"error_type": "B", "raw": "r 1"}}]',
    p_now => '2026-01-01 00:00:00+00');
CREATE TEMP TABLE s AS
SELECT 1 AS ordinal, * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000011',
    '{"error_type": "A", "skill": "s", "meta": {"k": 1}}', p_now => '2026-01-01 00:00:00+00')
UNION ALL SELECT 2, * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000011', '{"error_type": "A"}',
    p_source => 'x', p_now => '2026-01-01 00:00:00+00')
UNION ALL SELECT 3, * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000012', '{"error_type": "B", "raw": "r 1"}',
    p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(ordinal, status, is_duplicate, occurrence_count, error_signature, work_id IS NULL) ORDER BY ordinal) FROM b),
                   (SELECT jsonb_agg(jsonb_build_array(ordinal, status, is_duplicate, occurrence_count, error_signature, work_id IS NULL) ORDER BY ordinal) FROM s),
                   'same answers');
SELECT m10_test.is((SELECT jsonb_agg(to_jsonb(c) - 'id' - 'failure_match_id' ORDER BY c.failure_match_id)
                      FROM m10_recovery.recovery_candidates c WHERE c.failure_match_id::text LIKE '%00000000000_'),
                   (SELECT jsonb_agg(to_jsonb(c) - 'id' - 'failure_match_id' ORDER BY c.failure_match_id)
                      FROM m10_recovery.recovery_candidates c WHERE c.failure_match_id::text LIKE '%00000000001_'),
                   'same candidate rows');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(i.input_type, i.source, i.value) ORDER BY i.id)
                      FROM m10_recovery.suggestion_input i JOIN b ON b.candidate_id = i.candidate_id AND b.ordinal <> 2),
                   (SELECT jsonb_agg(jsonb_build_array(i.input_type, i.source, i.value) ORDER BY i.id)
                      FROM m10_recovery.suggestion_input i JOIN s ON s.candidate_id = i.candidate_id AND s.ordinal <> 2),
                   'same inputs');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(p.event, p.actor,
                                                       p.details - 'work_id' - 'input' - 'message_template' - 'template',
                                                       p.details->'template'->>'template_key')
                                     ORDER BY p.id)
                      FROM m10_recovery.suggestion_provenance p JOIN b ON b.candidate_id = p.candidate_id AND b.ordinal <> 2),
                   (SELECT jsonb_agg(jsonb_build_array(p.event, p.actor,
                                                       p.details - 'work_id' - 'input' - 'message_template' - 'template',
                                                       p.details->'template'->>'template_key')
                                     ORDER BY p.id)
                      FROM m10_recovery.suggestion_provenance p JOIN s ON s.candidate_id = p.candidate_id AND s.ordinal <> 2),
                   'same provenance (and the same template; the batch created it, the single reports matched it)');

-- test: batch idempotency keys: a replay of a recorded key, and a key repeated inside the batch
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "A"}', p_source => 'src',
                                                 p_idempotency_key => '10000000-0000-4000-8000-000000000001');
CREATE TEMP TABLE b AS
SELECT * FROM m10_recovery.ingest_failures(
    '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A"},
       "idempotency_key": "10000000-0000-4000-8000-000000000001"},
      {"failure_match_id": "00000000-0000-4000-8000-000000000002", "failure_payload": {"error_type": "B"},
       "idempotency_key": "10000000-0000-4000-8000-000000000002", "source": "other"},
      {"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": "A"}},
      {"failure_match_id": "00000000-0000-4000-8000-000000000002", "failure_payload": {"error_type": "B"},
       "idempotency_key": "10000000-0000-4000-8000-000000000002", "source": "other"}]',
    p_source => 'src');
SELECT m10_test.is((SELECT string_agg(ordinal || ':' || status || ':' || occurrence_count || ':' || (work_id IS NOT NULL),
                                      ',' ORDER BY ordinal) FROM b),
                   '1:accepted:2:false,2:accepted:1:true,3:duplicate:2:false,4:accepted:1:false',
                   'a recorded key replays (count as now stored); a key repeated in the batch replays its first use there');
SELECT m10_test.is((SELECT (SELECT candidate_id FROM b WHERE ordinal = 2) = (SELECT candidate_id FROM b WHERE ordinal = 4)),
                   true, 'the in-batch replay answers with the first use''s candidate');
SELECT m10_test.is((SELECT string_agg(occurrence_count::text, ',' ORDER BY failure_match_id) FROM m10_recovery.recovery_candidates),
                   '2,1', 'replays counted nothing');
SELECT m10_test.is((SELECT string_agg(idempotency_key::text || '=' || status, ',' ORDER BY idempotency_key) FROM m10_recovery.ingest_requests),
                   '10000000-0000-4000-8000-000000000001=accepted,10000000-0000-4000-8000-000000000002=accepted', 'each key recorded once');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_input), 3::bigint, 'inputs of the three reports applied');
SELECT m10_test.is((SELECT to_jsonb(f) - 'work_id' FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000002',
                        '{"error_type": "B"}', p_source => 'other', p_idempotency_key => '10000000-0000-4000-8000-000000000002') f),
                   (SELECT to_jsonb(b) - 'ordinal' - 'work_id' FROM b WHERE ordinal = 2),
                   'a key first used in a batch replays through ingest_failure too');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000005", "failure_payload": {"error_type": "A"},
                              "idempotency_key": "10000000-0000-4000-8000-000000000009"},
                             {"failure_match_id": "00000000-0000-4000-8000-000000000005", "failure_payload": {"error_type": "Z"},
                              "idempotency_key": "10000000-0000-4000-8000-000000000009"}]')$$,
                       '22023', 'p_failures[2].idempotency_key 10000000-0000-4000-8000-000000000009 was already used with a different payload');

-- test: bad arguments of ingest_failure raise 22023 naming the argument or field, and write nothing
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "SEED"}');
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure(NULL, '{}')$$, '22023', 'p_failure_match_id is required');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', NULL)$$,
                       '22023', 'failure_payload is required: a JSON object describing the failure');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', 'null')$$,
                       '22023', 'failure_payload is required%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '[1]')$$,
                       '22023', 'failure_payload must be a JSON object, got array');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '"TIMEOUT"')$$,
                       '22023', 'failure_payload must be a JSON object, got string');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '7')$$,
                       '22023', 'failure_payload must be a JSON object, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": 504}')$$,
                       '22023', 'failure_payload.error_type must be a string, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_code": true}')$$,
                       '22023', 'failure_payload.error_code must be a string, got boolean');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           '{"error_type": "A", "error_code": ["B"]}')$$,
                       '22023', 'failure_payload.error_code must be a string, got array');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"raw": {"a": 1}}')$$,
                       '22023', 'failure_payload.raw must be a string, got object');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_message": [1]}')$$,
                       '22023', 'failure_payload.error_message must be a string, got array');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"message": 1.5}')$$,
                       '22023', 'failure_payload.message must be a string, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"stack": ["f1", "f2"]}')$$,
                       '22023', 'failure_payload.stack must be a string, got array');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"skill": 3}')$$,
                       '22023', 'failure_payload.skill must be a string, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"tenant": {}}')$$,
                       '22023', 'failure_payload.tenant must be a string, got object');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"meta": "k=v"}')$$,
                       '22023', 'failure_payload.meta must be a JSON object, got string');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"meta": [1, 2]}')$$,
                       '22023', 'failure_payload.meta must be a JSON object, got array');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('error_type', repeat('E', 201))),
                       '22023', 'failure_payload.error_type must be at most 200 characters, got 201');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('error_code', repeat('E', 5000))),
                       '22023', 'failure_payload.error_code must be at most 200 characters, got 5000');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('skill', repeat('s', 201))),
                       '22023', 'failure_payload.skill must be at most 200 characters, got 201');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('tenant', repeat('t', 201))),
                       '22023', 'failure_payload.tenant must be at most 200 characters, got 201');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{}', p_source => '')$$,
                       '22023', 'p_source must be NULL or a non-blank name of at most 200 characters, got 0 characters');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{}', p_source => '  ')$$,
                       '22023', 'p_source must be NULL or a non-blank name%');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L, p_source => %L)',
                              '00000000-0000-4000-8000-000000000001', '{}', repeat('s', 201)),
                       '22023', 'p_source must be NULL or a non-blank name of at most 200 characters, got 201 characters');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{}', p_priority => NULL)$$,
                       '22023', 'p_priority must be between -32768 and 32767, got NULL');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{}', p_priority => 40000)$$,
                       '22023', 'p_priority must be between -32768 and 32767, got 40000');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'nothing written by any rejected call');

-- test: values PostgreSQL refuses before ingest runs: non-UUID ids (22P02) and NUL in JSON (22P05)
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "SEED"}');
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('not-a-uuid', '{}')$$, '22P02', 'invalid input syntax for type uuid%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-00000000000', '{}')$$, '22P02', '%uuid%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('', '{}')$$, '22P02', '%uuid%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{}',
                           p_idempotency_key => 'key-1')$$, '22P02', '%uuid%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           '{"raw": "a\u0000b"}')$$, '22P05', 'unsupported Unicode escape sequence');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           '{"meta": {"k\u0000": 1}}')$$, '22P05', 'unsupported Unicode escape sequence');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"raw": ')$$,
                       '22P02', 'invalid input syntax for type json');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'nothing written');
-- an escaped backslash followed by u0000 is ordinary text
SELECT m10_test.is((SELECT status FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                        '{"raw": "a\\u0000b"}')), 'accepted', 'a literal backslash-u0000 is text');

-- test: size and depth limits: 54000 over max_payload_bytes, 22023 past 32 levels of nesting
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "SEED"}');
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           jsonb_build_object('raw', repeat('x', 10 * 1024 * 1024)))$$,
                       '54000', 'failure_payload is 10485771 bytes as JSON text; the limit is 1048576 bytes');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           jsonb_build_object('meta', jsonb_build_object('blob', repeat('x', 1048576))))$$,
                       '54000', 'failure_payload is % bytes as JSON text; the limit is 1048576 bytes');
UPDATE m10_recovery.settings SET value = '100' WHERE key = 'max_payload_bytes';
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                           jsonb_build_object('raw', repeat('x', 100)))$$,
                       '54000', 'failure_payload is 111 bytes as JSON text; the limit is 100 bytes');
SELECT m10_test.is((SELECT status FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                        jsonb_build_object('raw', repeat('x', 89)))), 'accepted', '100 bytes exactly is accepted');
UPDATE m10_recovery.settings SET value = '1048576' WHERE key = 'max_payload_bytes';
-- meta may nest 32 levels (meta itself is one); one more is refused with the field named
SELECT m10_test.is((SELECT status FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                        jsonb_build_object('meta', (repeat('{"a": ', 32) || '1' || repeat('}', 32))::jsonb))),
                   'accepted', '32 levels');
SELECT m10_test.is((SELECT status FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                        jsonb_build_object('meta', jsonb_build_object('l', (repeat('[', 31) || repeat(']', 31))::jsonb)))),
                   'duplicate', '32 levels, arrays counting as levels too');
TRUNCATE snap;
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('meta', (repeat('{"a": ', 33) || '1' || repeat('}', 33))::jsonb)),
                       '22023', 'failure_payload.meta nests deeper than 32 levels');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('meta', jsonb_build_object('l', (repeat('[', 32) || repeat(']', 32))::jsonb))),
                       '22023', 'failure_payload.meta nests deeper than 32 levels');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failure(%L, %L)', '00000000-0000-4000-8000-000000000001',
                              jsonb_build_object('context', (repeat('[', 2000) || repeat(']', 2000))::jsonb)),
                       '22023', 'failure_payload.context nests deeper than 32 levels');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'nothing written by the rejected calls');

-- test: bad batches raise 22023 naming the element and field; an invalid element rejects the whole batch
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001', '{"error_type": "SEED"}');
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(NULL)$$, '22023', 'p_failures must be a JSON array of failures, got NULL');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('{}')$$, '22023', 'p_failures must be a JSON array of failures, got a JSON object');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('"x"')$$, '22023', '%got a JSON string');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[{"failure_match_id": "00000000-0000-4000-8000-000000000001",
                           "failure_payload": {}}, 5]')$$, '22023', 'p_failures[2] must be a JSON object, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[{"failure_payload": {}}]')$$,
                       '22023', 'p_failures[1].failure_match_id is required');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[{"failure_match_id": null, "failure_payload": {}}]')$$,
                       '22023', 'p_failures[1].failure_match_id is required');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[{"failure_match_id": 42, "failure_payload": {}}]')$$,
                       '22023', 'p_failures[1].failure_match_id must be a string holding a UUID, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}},
                             {"failure_match_id": "00000000-0000-4000-8000-000000000002", "failure_payload": {}},
                             {"failure_match_id": "not-a-uuid", "failure_payload": {}}]')$$,
                       '22023', 'p_failures[3].failure_match_id is not a UUID: "not-a-uuid"');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-00000000000g", "failure_payload": {}}]')$$,
                       '22023', 'p_failures[1].failure_match_id is not a UUID%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": " 00000000-0000-4000-8000-000000000001", "failure_payload": {}}]')$$,
                       '22023', 'p_failures[1].failure_match_id is not a UUID%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001"}]')$$,
                       '22023', 'p_failures[1].failure_payload is required: a JSON object describing the failure');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": "boom"}]')$$,
                       '22023', 'p_failures[1].failure_payload must be a JSON object, got string');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}},
                             {"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {"error_type": 1}}]')$$,
                       '22023', 'p_failures[2].failure_payload.error_type must be a string, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}, "idempotency_key": 7}]')$$,
                       '22023', 'p_failures[1].idempotency_key must be a string holding a UUID, got number');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}, "idempotency_key": "k-1"}]')$$,
                       '22023', 'p_failures[1].idempotency_key is not a UUID: "k-1"');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}, "source": ["a"]}]')$$,
                       '22023', 'p_failures[1].source must be a string, got array');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}, "source": " "}]')$$,
                       '22023', 'p_failures[1].source must be a non-blank name of at most 200 characters, got 1 characters');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001", "failure_payload": {}, "idempotencyKey": "x"}]')$$,
                       '22023', 'p_failures[1] has an unknown field "idempotencyKey"');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failures(%L)',
                              jsonb_build_array(jsonb_build_object('failure_match_id', '00000000-0000-4000-8000-000000000001',
                                                                   'failure_payload', jsonb_build_object('raw', repeat('x', 1048576))))),
                       '54000', 'p_failures[1].failure_payload is 1048587 bytes as JSON text; the limit is 1048576 bytes');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.ingest_failures(%L)',
                              jsonb_build_array(jsonb_build_object('failure_match_id', '00000000-0000-4000-8000-000000000001',
                                  'failure_payload', jsonb_build_object('meta', jsonb_build_object('l', (repeat('[', 40) || repeat(']', 40))::jsonb))))),
                       '22023', 'p_failures[1].failure_payload.meta nests deeper than 32 levels');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           (SELECT jsonb_agg(jsonb_build_object('failure_match_id', gen_random_uuid(), 'failure_payload', '{}'::jsonb))
                              FROM generate_series(1, 10001)))$$,
                       '54000', 'p_failures holds 10001 failures; the limit is 10000 per call');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[]', p_source => '')$$, '22023', 'p_source must be NULL%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[]', p_priority => -40000)$$, '22023',
                       'p_priority must be between -32768 and 32767, got -40000');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures('[{"failure_match_id": "00000000-0000-4000-8000-000000000001",
                           "failure_payload": {"raw": "\u0000"}}]')$$, '22P05', 'unsupported Unicode escape sequence');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'nothing written by the rejected batches');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.ingest_failures(
                        '[{"failure_match_id": "{00000000-0000-4000-8000-000000000001}", "failure_payload": {}},
                          {"failure_match_id": "00000000000040008000000000000001", "failure_payload": {}},
                          {"failure_match_id": "00000000-0000-4000-8000-00000000000A", "failure_payload": {}}]')),
                   3::bigint, 'the UUID spellings PostgreSQL accepts are accepted');
SELECT m10_test.is((SELECT occurrence_count FROM m10_recovery.recovery_candidates WHERE error_code = 'UNKNOWN'
                      AND failure_match_id = '00000000-0000-4000-8000-000000000001'), 2, 'braces and no hyphens are one id');

-- test: without the seeded 'evaluate' work method, both ingest forms refuse with 55000 and write nothing
DELETE FROM m10_recovery.work_methods WHERE name = 'evaluate';
INSERT INTO snap SELECT * FROM ingest_state;
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                                                                  '{"error_type": "TIMEOUT"}')$$,
                       '55000', 'work method ''evaluate'' is missing from m10_recovery.work_methods');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.ingest_failures(
                           '[{"failure_match_id": "00000000-0000-4000-8000-000000000001",
                              "failure_payload": {"error_type": "TIMEOUT"}}]')$$,
                       '55000', 'work method ''evaluate'' is missing from m10_recovery.work_methods');
SELECT m10_test.ok((SELECT ok FROM unchanged), 'nothing was written');
