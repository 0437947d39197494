-- Fingerprint v3: the learned template store (template_tokens, template_shape, template_similarity,
-- merge_template, learn_template(s), replay_template_log, similar_candidates).

-- test: template_tokens: a token with a placeholder is a variable, a name keeps its name, runs collapse
SELECT m10_test.is(m10_recovery.template_tokens('PacketResponder <NUM> for block blk_<NUM> terminating'),
                   ARRAY['PacketResponder', '<*>', 'for', 'block', '<*>', 'terminating'], 'digits inside a word');
SELECT m10_test.is(m10_recovery.template_tokens('login uid=<NUM> tty=console onExtend:<NUM> done'),
                   ARRAY['login', 'uid=<*>', 'tty=console', 'onExtend:<*>', 'done'], 'name=value keeps the name');
SELECT m10_test.is(m10_recovery.template_tokens('web.example.cn:<NUM> a.b.c=<NUM>'),
                   ARRAY['<*>', 'a.b.c=<*>'], 'a dotted name before : is a host and port; before = a setting');
SELECT m10_test.is(m10_recovery.template_tokens('<HOST>:<NUM> close, <SIZE> (<SIZE>) sent'),
                   ARRAY['<*>', 'close,', '<*>', 'sent'], 'a run of variables is one variable');
SELECT m10_test.is(m10_recovery.template_tokens('connection from <HOST> () at <TS>'),
                   ARRAY['connection', 'from', '<*>', 'at', '<*>'], 'empty brackets are an empty value');
SELECT m10_test.is(m10_recovery.template_tokens(''), '{}'::text[], 'empty message, no tokens');
SELECT m10_test.is(m10_recovery.template_tokens(NULL), NULL::text[], 'NULL gives NULL');
SELECT m10_test.is(m10_recovery.template_shape(ARRAY['a', 'b']), '2 a', 'shape: count and first token');
SELECT m10_test.is(m10_recovery.template_shape(ARRAY['x<*>', 'b']), '2 <*>', 'a variable first token');
SELECT m10_test.is(m10_recovery.template_shape('{}'::text[]), '0 ', 'the empty shape');

-- test: template_similarity: position-wise, refused on different fixed words except the last
SELECT m10_test.is(m10_recovery.template_similarity(ARRAY['session', 'closed', 'for', 'alice'],
                                                    ARRAY['session', 'closed', 'for', 'bob']), 0.75::real,
                   'a different last word merges');
SELECT m10_test.is(m10_recovery.template_similarity(ARRAY['VM', 'Started', 'now'], ARRAY['VM', 'Paused', 'now']),
                   NULL::real, 'a different fixed word inside the message does not');
SELECT m10_test.is(m10_recovery.template_similarity(ARRAY['a', '<*>', 'c'], ARRAY['a', 'b', 'c']), (2.0 / 3)::real,
                   'a template variable takes any token');
SELECT m10_test.is(m10_recovery.template_similarity(ARRAY['tty=x', 'c'], ARRAY['tty=<*>', 'c']), 0.5::real,
                   'a fixed value against a variable one');
SELECT m10_test.is(m10_recovery.template_similarity(ARRAY['a'], ARRAY['a', 'b']), NULL::real, 'lengths differ');
SELECT m10_test.is(m10_recovery.merge_template(ARRAY['a', 'b', 'c'], ARRAY['a', 'x', 'c']), ARRAY['a', '<*>', 'c'],
                   'merge: differing positions become <*>');

-- test: learn_template creates, merges and matches, and says why
CREATE TEMP TABLE l1 AS SELECT * FROM m10_recovery.learn_template('E', 'session closed for user alice', '2026-01-01');
CREATE TEMP TABLE l2 AS SELECT * FROM m10_recovery.learn_template('E', 'session closed for user bob', '2026-01-01');
CREATE TEMP TABLE l3 AS SELECT * FROM m10_recovery.learn_template('E', 'session closed for user carol', '2026-01-01');
SELECT m10_test.is((SELECT action || ':' || template FROM l1), 'created:session closed for user alice', 'created');
SELECT m10_test.is((SELECT jsonb_build_array(action, template, template_version, similarity, variable_positions) FROM l2),
                   '["merged", "session closed for user <*>", 2, 0.8, [5]]'::jsonb,
                   'merged: the score and the position that became a variable');
SELECT m10_test.is((SELECT jsonb_build_array(action, template_version, merge_id IS NULL) FROM l3),
                   '["matched", 2, true]'::jsonb, 'matched: nothing learned');
SELECT m10_test.is((SELECT count(DISTINCT error_signature) FROM (SELECT * FROM l1 UNION ALL SELECT * FROM l2
                                                                 UNION ALL SELECT * FROM l3) a),
                   1::bigint, 'one signature for the three, before and after the merge');
SELECT m10_test.ok((SELECT error_signature ~ '^v3:[0-9a-f]{32}$' FROM l1), 'v3 signature');
SELECT m10_test.ok((SELECT error_signature FROM m10_recovery.learn_template('F', 'session closed for user dave'))
                   <> (SELECT error_signature FROM l1), 'the error code is part of the signature');
SELECT m10_test.is((SELECT provenance->>'action' FROM l2), 'merged', 'provenance carries the explanation');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(event, template_version, template_after, variable_positions) ORDER BY id)
                      FROM m10_recovery.template_merges),
                   '[["created", 1, ["session", "closed", "for", "user", "alice"], []],
                     ["merged", 2, ["session", "closed", "for", "user", "<*>"], [5]]]'::jsonb,
                   'the log holds the creation and the merge');

-- test: a changed fixed word makes another template; the learned store is deterministic
SELECT count(*) FROM m10_recovery.learn_template('E', 'VM Started (Lifecycle Event)');
SELECT m10_test.ok((SELECT error_signature FROM m10_recovery.learn_template('E', 'VM Started (Lifecycle Event)'))
                   <> (SELECT error_signature FROM m10_recovery.learn_template('E', 'VM Paused (Lifecycle Event)')),
                   'Started and Paused are two events');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.message_templates), 2::bigint, 'two templates');
SELECT m10_test.is((SELECT template_key FROM m10_recovery.message_templates ORDER BY id LIMIT 1),
                   left(encode(sha256(convert_to(E'4 VM\nVM Started (Lifecycle Event)\n0', 'UTF8')), 'hex'), 32),
                   'the key is a function of the shape, the seed and the store');

-- test: replaying the log rebuilds the store
SELECT count(*)
  FROM unnest(ARRAY['job 1 failed on host a', 'job 2 failed on host b', 'job 3 failed on host c',
                    'disk sda full', 'disk sdb full', 'job 4 killed on host a', 'VM Started now',
                    'VM Paused now', 'user alice logged in', 'user bob logged in']) WITH ORDINALITY AS u(m, n),
       LATERAL m10_recovery.learn_template('', u.m) AS l;
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(r.template_key, r.tokens, r.version) ORDER BY r.template_key)
                      FROM m10_recovery.replay_template_log() r),
                   (SELECT jsonb_agg(jsonb_build_array(t.template_key, t.tokens, t.version) ORDER BY t.template_key)
                      FROM m10_recovery.message_templates t),
                   'replay equals the store');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.replay_template_log(
                        (SELECT min(id) FROM m10_recovery.template_merges))), 1::bigint, 'replay up to a merge id');

-- test: the merge log is append-only
SELECT count(*) FROM m10_recovery.learn_template('', 'something happened');
SELECT m10_test.throws($$UPDATE m10_recovery.template_merges SET similarity = 0$$, '55000', '%append-only%');
SELECT m10_test.throws($$DELETE FROM m10_recovery.template_merges$$, '55000', '%append-only%');

-- test: a tampered store is detected by the replay
SELECT count(*) FROM m10_recovery.learn_template('', 'cache miss for key alpha');
SELECT count(*) FROM m10_recovery.learn_template('', 'cache miss for key beta');
ALTER TABLE m10_recovery.template_merges DISABLE TRIGGER template_merges_append_only;
UPDATE m10_recovery.template_merges SET template_after = ARRAY['x'] WHERE event = 'merged';
SELECT m10_test.throws($$SELECT * FROM m10_recovery.replay_template_log()$$, '55000', '%replay gives%');

-- test: learn_templates learns in order, as one by one
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(ordinal, action, template) ORDER BY ordinal)
                      FROM m10_recovery.learn_templates(ARRAY['E', 'E', 'E'],
                               ARRAY['queue alpha drained', 'queue beta drained', 'queue gamma drained'])),
                   '[[1, "created", "queue alpha drained"], [2, "created", "queue beta drained"],
                     [3, "created", "queue gamma drained"]]'::jsonb,
                   'a fixed word inside: three templates');
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(ordinal, action, template) ORDER BY ordinal)
                      FROM m10_recovery.learn_templates(ARRAY['E', 'E'], ARRAY['drained queue alpha', 'drained queue beta'])),
                   '[[1, "created", "drained queue alpha"], [2, "merged", "drained queue <*>"]]'::jsonb,
                   'the last word: merged');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.learn_templates(ARRAY['E'], ARRAY['a', 'b'])$$, '22023',
                       '%one length%');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.learn_template_tokens('E', NULL)$$, '22023', '%p_tokens%');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.learn_templates('{}', '{}')), 0::bigint, 'empty arrays');

-- test: learn_templates gives a repeat what learning it again would, across merges in between
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(ordinal, action, template, template_version, similarity,
                                                        merge_id IS NULL) ORDER BY ordinal)
                      FROM m10_recovery.learn_templates(ARRAY['E', 'E', 'E', 'E', 'E', 'F', ' e '],
                               ARRAY['session closed for alice', 'session closed for alice', 'session closed for bob',
                                     'session closed for alice', 'session closed for bob', 'session closed for alice',
                                     'session closed for alice'])),
                   '[[1, "created", "session closed for alice", 1, 1, false],
                     [2, "matched", "session closed for alice", 1, 1, true],
                     [3, "merged", "session closed for <*>", 2, 0.75, false],
                     [4, "matched", "session closed for <*>", 2, 0.75, true],
                     [5, "matched", "session closed for <*>", 2, 0.75, true],
                     [6, "matched", "session closed for <*>", 2, 0.75, true],
                     [7, "matched", "session closed for <*>", 2, 0.75, true]]'::jsonb,
                   'a repeat after a merge is learned again; repeats with no change in between reuse the match');
SELECT m10_test.is((SELECT count(DISTINCT error_signature)
                      FROM m10_recovery.learn_templates(ARRAY['E', 'F', ' e ', 'E'],
                               ARRAY['session closed for carol', 'session closed for carol',
                                     'session closed for carol', 'session closed for dave'])),
                   2::bigint, 'the code is part of the signature; a code is trimmed and upper-cased');
SELECT m10_test.is((SELECT array_agg(error_signature ORDER BY ordinal)
                      FROM m10_recovery.learn_templates(ARRAY['E', 'E'],
                               ARRAY['session closed for erin', 'session closed for erin'])),
                   (SELECT array_agg(l.error_signature)
                      FROM generate_series(1, 2), LATERAL m10_recovery.learn_template('E', 'session closed for erin') AS l),
                   'the same signatures as one by one');

-- test: ingest links the candidate to its template and explains the grouping
SELECT count(*) FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                                                 '{"error_type": "E", "raw": "worker alpha lost its lease"}');
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                                                 '{"error_type": "E", "raw": "worker beta lost its lease"}');
SELECT m10_test.is((SELECT jsonb_build_array(status, occurrence_count) FROM r), '["accepted", 1]'::jsonb,
                   'a fixed word inside changed: another candidate');
CREATE TEMP TABLE r2 AS SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                                                 '{"error_type": "E", "raw": "lease lost by worker alpha"}');
CREATE TEMP TABLE r3 AS SELECT * FROM m10_recovery.ingest_failure('00000000-0000-4000-8000-000000000001',
                                                 '{"error_type": "E", "raw": "lease lost by worker beta"}');
SELECT m10_test.is((SELECT jsonb_build_array(status, occurrence_count) FROM r3), '["duplicate", 2]'::jsonb,
                   'the last word changed: the same candidate');
SELECT m10_test.is((SELECT jsonb_build_array(c.template_id = t.id, c.message_template, t.template)
                      FROM m10_recovery.recovery_candidates c JOIN m10_recovery.message_templates t
                        ON t.template = 'lease lost by worker <*>'
                     WHERE c.id = (SELECT candidate_id FROM r3)),
                   '[true, "lease lost by worker alpha", "lease lost by worker <*>"]'::jsonb,
                   'the candidate points at its template (message_template as it was at ingest)');
SELECT m10_test.is((SELECT (p.details->'template') - 'template_id' - 'template_key' - 'merge_id'
                      FROM m10_recovery.suggestion_provenance p
                     WHERE p.candidate_id = (SELECT candidate_id FROM r3) AND p.event = 'repeated'),
                   '{"action": "merged", "template": "lease lost by worker <*>", "algorithm": "v3", "threshold": 0.5,
                     "similarity": 0.8, "template_version": 2, "variable_positions": [5]}'::jsonb,
                   'provenance: which template, the similarity, the positions that became variables');

-- test: similar_candidates scores near templates and explains the score
SELECT count(*)
  FROM unnest(ARRAY['disk is full on node 1', 'disk is full on node 2', 'disk is failing on node 3',
                    'network down']) WITH ORDINALITY AS u(m, n),
       LATERAL m10_recovery.ingest_failure(gen_random_uuid(), jsonb_build_object('error_type', 'E', 'raw', u.m)) AS i;
SELECT m10_test.is((SELECT jsonb_agg(jsonb_build_array(s.template, s.score, s.shared_words) ORDER BY s.score DESC, s.candidate_id)
                      FROM m10_recovery.similar_candidates(
                               (SELECT min(id) FROM m10_recovery.recovery_candidates), 10) s),
                   '[["disk is full on node <*>", 1, ["disk", "full", "is", "node", "on"]],
                     ["disk is failing on node <*>", 0.6666667, ["disk", "is", "node", "on"]]]'::jsonb,
                   'the same template scores 1, a near one by shared words; an unrelated one is left out');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.similar_candidates(
                        (SELECT min(id) FROM m10_recovery.recovery_candidates), 1)), 1::bigint, 'p_limit');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.similar_candidates(-1)$$, 'P0002', 'candidate -1 not found');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.similar_candidates(1, 0)$$, '22023', '%p_limit%');
