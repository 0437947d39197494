-- evaluate_candidate / evaluate_candidates / match_rule / action_statistics: rule matching, the Beta
-- prior with time decay and its lower bound, auto-approval and provenance. The clock is p_now.
-- Hand-calculated numbers: Beta(a, b) has mean a/(a+b) and sd sqrt(a*b / ((a+b)^2 * (a+b+1)));
-- the confidence is mean - z * sd (z = 1 by default), truncated to 4 decimals.

-- A candidate as ingest_failure would insert it: code, raw message, template, signature.
CREATE FUNCTION pg_temp.cand(p_code text, p_message text DEFAULT 'something failed', p_signature text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO m10_recovery.recovery_candidates
           (failure_match_id, error_signature, signature_version, error_code, message_template, error_message)
    VALUES (gen_random_uuid(), coalesce(p_signature, m10_recovery.error_signature(p_code, p_message)), 1, p_code,
            coalesce(m10_recovery.normalize_message(p_message), ''), p_message)
    RETURNING id
$$;

-- An execution outcome in the history, at p_at, for a (signature, code, action) of a candidate of its own.
CREATE FUNCTION pg_temp.outcome(p_signature text, p_code text, p_action text, p_outcome text, p_at timestamptz)
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO m10_recovery.execution_outcomes
           (candidate_id, error_signature, error_code, action_code, outcome, executed_by, created_at)
    VALUES (pg_temp.cand(p_code, 'history', p_signature), p_signature, p_code, p_action, p_outcome, 'test', p_at)
    RETURNING id
$$;

-- The seeded catalog is replaced by the rules of each case where the case says so.
CREATE FUNCTION pg_temp.only_rule(p_name text, p_field text, p_kind text, p_pattern text,
                                  p_action text DEFAULT 'retry_with_backoff', p_score numeric DEFAULT 0.8,
                                  p_priority integer DEFAULT 0)
RETURNS bigint LANGUAGE sql AS $$
    UPDATE m10_recovery.suggestion_rules SET enabled = false WHERE enabled;
    INSERT INTO m10_recovery.suggestion_rules (name, priority, match_field, match_kind, pattern, action_code, score)
    VALUES (p_name, p_priority, p_field, p_kind, p_pattern, p_action, p_score)
    RETURNING id
$$;

CREATE FUNCTION pg_temp.add_rule(p_name text, p_field text, p_kind text, p_pattern text,
                                 p_action text DEFAULT 'retry_with_backoff', p_score numeric DEFAULT 0.8,
                                 p_priority integer DEFAULT 0)
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO m10_recovery.suggestion_rules (name, priority, match_field, match_kind, pattern, action_code, score)
    VALUES (p_name, p_priority, p_field, p_kind, p_pattern, p_action, p_score)
    RETURNING id
$$;

-- The rule name a candidate gets (NULL: no rule matched).
CREATE FUNCTION pg_temp.rule_for(p_code text, p_message text DEFAULT 'something failed')
RETURNS text LANGUAGE sql AS $$
    SELECT e.rule_name FROM m10_recovery.evaluate_candidate(pg_temp.cand(p_code, p_message),
                                                            p_now => '2026-01-01 00:00:00+00') e
$$;

CREATE FUNCTION pg_temp.confidence_of(p_id bigint, p_now timestamptz DEFAULT '2026-01-01 00:00:00+00')
RETURNS numeric LANGUAGE sql AS $$
    SELECT e.confidence FROM m10_recovery.evaluate_candidate(p_id, p_now => p_now) e
$$;

CREATE FUNCTION pg_temp.last_evaluation(p_id bigint)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT p.details FROM m10_recovery.suggestion_provenance p
     WHERE p.candidate_id = p_id AND p.event = 'evaluated' ORDER BY p.id DESC LIMIT 1
$$;

-- test: unknown candidate is P0002, missing id or actor is 22023
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_candidate(-1)$$, 'P0002', 'candidate -1 does not exist');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_candidate(NULL)$$, '22023');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.evaluate_candidate(%s, %L)', pg_temp.cand('X'), ' '), '22023');
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.evaluate_candidate(%s, NULL)', pg_temp.cand('X')), '22023');

-- test: the seeded catalog suggests an action with its prior-only confidence and updates the candidate
CREATE TEMP TABLE r AS
    SELECT * FROM m10_recovery.evaluate_candidate(pg_temp.cand('HTTP_429', 'slow down'), 'w1', '2026-01-01 00:00:00+00');
-- score 0.9, prior_strength 4: a = 3.6, b = 0.4; mean 0.9; sd = sqrt(1.44 / (16 * 5)) = 0.134164
-- lower bound 0.765836 -> 0.7658
SELECT m10_test.is((SELECT suggested_action || '|' || rule_name || '|' || confidence || '|' || auto_approved FROM r),
                   'wait_for_rate_limit|code: rate limited|0.7658|false', 'evaluation row');
SELECT m10_test.is((SELECT format('%s|%s|%s|%s|%s|%s', c.suggested_action, c.confidence, c.evaluation_state,
                                  c.evaluated_at, c.updated_at = c.evaluated_at, c.decision)
                      FROM m10_recovery.recovery_candidates c JOIN r ON r.candidate_id = c.id),
                   'wait_for_rate_limit|0.7658|evaluated|2026-01-01 00:00:00+00|t|pending', 'candidate updated');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_provenance p JOIN r ON r.candidate_id = p.candidate_id
                     WHERE p.event = 'evaluated' AND p.actor = 'w1' AND p.created_at = '2026-01-01 00:00:00+00'),
                   1::bigint, 'one evaluated event by the actor at p_now');
SELECT m10_test.is(pg_temp.rule_for('ECONNREFUSED'), 'code: connection or dns', 'code rule');
SELECT m10_test.is(pg_temp.rule_for('SOMETHING_NEW', 'the upstream said: Too Many Requests'),
                   'message: rate limit', 'message rule, case-insensitive');
SELECT m10_test.is(pg_temp.rule_for('SOMETHING_NEW', 'no idea'), 'fallback: unknown', 'fallback');

-- test: exact matches the whole value case-insensitively: AUTH is not OAUTH, 500 is not 5001
SELECT pg_temp.only_rule('auth', 'error_code', 'exact', 'AUTH');
SELECT pg_temp.add_rule('500', 'error_code', 'exact', '500');
SELECT m10_test.is(pg_temp.rule_for('AUTH'), 'auth', 'AUTH = AUTH');
SELECT m10_test.is(pg_temp.rule_for('auth'), 'auth', 'auth = AUTH (case-insensitive)');
SELECT m10_test.is(pg_temp.rule_for('OAUTH'), NULL, 'OAUTH is not AUTH');
SELECT m10_test.is(pg_temp.rule_for('AUTH_EXPIRED'), NULL, 'AUTH_EXPIRED is not AUTH');
SELECT m10_test.is(pg_temp.rule_for(' AUTH'), NULL, 'no trimming: the whole value');
SELECT m10_test.is(pg_temp.rule_for('500'), '500', '500 = 500');
SELECT m10_test.is(pg_temp.rule_for('5001'), NULL, '5001 is not 500');
SELECT m10_test.is(pg_temp.rule_for('1500'), NULL, '1500 is not 500');

-- test: exact on the message compares the whole message
SELECT pg_temp.only_rule('boom', 'message', 'exact', 'Boom');
SELECT m10_test.is(pg_temp.rule_for('E', 'BOOM'), 'boom', 'whole message, any case');
SELECT m10_test.is(pg_temp.rule_for('E', 'Boom!'), NULL, 'not a substring match');

-- test: prefix is a case-insensitive starts-with in which regex and LIKE metacharacters are literal
SELECT pg_temp.only_rule('dot', 'error_code', 'prefix', 'E.X');
SELECT pg_temp.add_rule('percent', 'error_code', 'prefix', 'DB%');
SELECT pg_temp.add_rule('underscore', 'error_code', 'prefix', 'A_B');
SELECT pg_temp.add_rule('regexy', 'error_code', 'prefix', '^(X|Y)*');
SELECT pg_temp.add_rule('backslash', 'error_code', 'prefix', 'C\d');
SELECT pg_temp.add_rule('conn', 'error_code', 'prefix', 'conn');
SELECT m10_test.is(pg_temp.rule_for('E.X_1'), 'dot', 'literal dot matches');
SELECT m10_test.is(pg_temp.rule_for('EAX_1'), NULL, 'a dot is not any character');
SELECT m10_test.is(pg_temp.rule_for('DB%LOCK'), 'percent', 'literal percent matches');
SELECT m10_test.is(pg_temp.rule_for('DB_ERROR'), NULL, 'a percent is not a wildcard');
SELECT m10_test.is(pg_temp.rule_for('A_B_C'), 'underscore', 'literal underscore matches');
SELECT m10_test.is(pg_temp.rule_for('AXB'), NULL, 'an underscore is not any character');
SELECT m10_test.is(pg_temp.rule_for('^(X|Y)*Z'), 'regexy', 'regex syntax is literal');
SELECT m10_test.is(pg_temp.rule_for('XY'), NULL, 'and is not interpreted');
SELECT m10_test.is(pg_temp.rule_for('C\d9'), 'backslash', 'literal backslash matches');
SELECT m10_test.is(pg_temp.rule_for('C9'), NULL, 'a backslash escape is not interpreted');
SELECT m10_test.is(pg_temp.rule_for('CONNECTION_RESET'), 'conn', 'prefix is case-insensitive');
SELECT m10_test.is(pg_temp.rule_for('DISCONNECTED'), NULL, 'prefix is anchored at the start');
SELECT m10_test.is(pg_temp.rule_for('CON'), NULL, 'a value shorter than the prefix');

-- test: regex is a case-insensitive ARE with word boundaries
SELECT pg_temp.only_rule('timeout', 'message', 'regex', '\mtime(d)? ?out\M');
SELECT m10_test.is(pg_temp.rule_for('E', 'Request TIMED OUT after 30s'), 'timeout', 'case-insensitive');
SELECT m10_test.is(pg_temp.rule_for('E', 'timeouts happen'), NULL, 'word boundary');

-- test: match_rule on its own: kinds, NULLs, an unknown kind
SELECT m10_test.is(m10_recovery.match_rule('exact', 'abc', 'ABC'), true, 'exact');
SELECT m10_test.is(m10_recovery.match_rule('prefix', 'a.', 'ab'), false, 'prefix literal');
SELECT m10_test.is(m10_recovery.match_rule('regex', '^a.$', 'AB'), true, 'regex ~*');
SELECT m10_test.is(m10_recovery.match_rule('regex', 'a', NULL), false, 'NULL value');
SELECT m10_test.throws($$SELECT m10_recovery.match_rule('glob', 'a*', 'ab')$$, '22023', 'unknown match kind%');
SELECT m10_test.throws($$SELECT m10_recovery.match_rule('regex', '(', 'ab')$$, '2201B');

-- test: priority really orders rules: a lower-priority rule that also matches loses, ties go to the lower id
SELECT pg_temp.only_rule('low but first', 'error_code', 'prefix', 'HTTP', 'retry_with_backoff', 0.8, 1);
SELECT pg_temp.add_rule('high', 'error_code', 'exact', 'HTTP_503', 'failover_provider', 0.6, 50);
SELECT pg_temp.add_rule('high too, later id', 'error_code', 'regex', '^HTTP_5', 'reconnect', 0.6, 50);
SELECT pg_temp.add_rule('negative', 'error_code', 'regex', '.', 'escalate_to_human', 0.3, -5);
SELECT m10_test.is(pg_temp.rule_for('HTTP_503'), 'high', 'higher priority wins over an earlier rule; tie -> lower id');
SELECT m10_test.is(pg_temp.rule_for('HTTP_502'), 'high too, later id', 'the next priority');
SELECT m10_test.is(pg_temp.rule_for('HTTP_404'), 'low but first', 'then the low one');
SELECT m10_test.is(pg_temp.rule_for('OTHER'), 'negative', 'negative priority last');
-- the rules tried are listed in that order, up to and including the match
CREATE TEMP TABLE c AS SELECT pg_temp.cand('HTTP_404') AS id;
SELECT count(*) FROM m10_recovery.evaluate_candidate((SELECT id FROM c));
SELECT m10_test.is((SELECT array_agg(t ->> 'name' || ':' || (t ->> 'matched') ORDER BY n)
                      FROM jsonb_array_elements(pg_temp.last_evaluation((SELECT id FROM c)) -> 'rules_tried')
                           WITH ORDINALITY AS x(t, n)),
                   ARRAY['high:false', 'high too, later id:false', 'low but first:true'], 'rules tried in order');

-- test: disabled rules are skipped
SELECT pg_temp.only_rule('enabled', 'error_code', 'exact', 'X1', 'retry_with_backoff', 0.8, 1);
SELECT pg_temp.add_rule('disabled', 'error_code', 'exact', 'X1', 'reconnect', 0.8, 100);
UPDATE m10_recovery.suggestion_rules SET enabled = false WHERE name = 'disabled';
SELECT m10_test.is(pg_temp.rule_for('X1'), 'enabled', 'disabled rule skipped');
CREATE TEMP TABLE c AS SELECT pg_temp.cand('X1') AS id;
SELECT count(*) FROM m10_recovery.evaluate_candidate((SELECT id FROM c));
SELECT m10_test.ok(NOT (pg_temp.last_evaluation((SELECT id FROM c)) -> 'rules_tried') @> '[{"name": "disabled"}]',
                   'a disabled rule is not even tried');

-- test: an invalid regex is skipped, recorded in provenance, and does not break other candidates
SELECT pg_temp.only_rule('broken', 'error_code', 'regex', '(unclosed', 'reconnect', 0.9, 100);
SELECT pg_temp.add_rule('works', 'error_code', 'prefix', 'E', 'retry_with_backoff', 0.8, 1);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('E1') AS a, pg_temp.cand('E2') AS b;
CREATE TEMP TABLE r AS
    SELECT * FROM m10_recovery.evaluate_candidates(ARRAY[(SELECT a FROM c), (SELECT b FROM c)],
                                                   p_now => '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT string_agg(rule_name || ':' || suggested_action, ',' ORDER BY candidate_id) FROM r),
                   'works:retry_with_backoff,works:retry_with_backoff', 'both evaluated by the next rule');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT a FROM c)) #>> '{invalid_rules,0,name}', 'broken', 'invalid rule named');
SELECT m10_test.ok(pg_temp.last_evaluation((SELECT a FROM c)) #>> '{invalid_rules,0,error}' LIKE 'invalid regular expression%',
                   'with the error');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT a FROM c)) #> '{rules_tried,0}' ->> 'matched', 'false', 'tried, not matched');
SELECT m10_test.ok(pg_temp.last_evaluation((SELECT a FROM c)) #> '{rules_tried,0}' ? 'error', 'error on the tried rule');
SELECT m10_test.is(jsonb_array_length(pg_temp.last_evaluation((SELECT b FROM c)) -> 'invalid_rules'), 1,
                   'named for every candidate it was skipped for');

-- test: message rules match the raw message when present, else the template
SELECT pg_temp.only_rule('raw 5xx', 'message', 'regex', '\m5\d\d\M');
SELECT m10_test.is(pg_temp.rule_for('E', 'upstream answered 503'), 'raw 5xx', 'digits of the raw message');
CREATE TEMP TABLE c AS SELECT pg_temp.cand('E', 'upstream answered 503') AS id;
UPDATE m10_recovery.recovery_candidates SET error_message = NULL WHERE id = (SELECT id FROM c);
SELECT m10_test.is((SELECT rule_name FROM m10_recovery.evaluate_candidate((SELECT id FROM c))), NULL,
                   'the template has <NUM> instead');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) #>> '{input,message_matched}', 'message_template',
                   'provenance says which text was matched');

-- test: no matching rule leaves no suggestion and no confidence
UPDATE m10_recovery.suggestion_rules SET enabled = false;
CREATE TEMP TABLE c AS SELECT pg_temp.cand('E') AS id;
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.evaluate_candidate((SELECT id FROM c));
SELECT m10_test.is((SELECT (suggested_action, confidence, rule_name, auto_approved)::text FROM r), '(,,,f)', 'empty row');
SELECT m10_test.is((SELECT evaluation_state || coalesce(suggested_action, '-') || coalesce(confidence::text, '-')
                      FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM c)), 'evaluated--', 'candidate');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) #>> '{auto_approval,reason}', 'no rule matched', 'reason');

-- test: prior only: Beta(score * w, (1 - score) * w) and its lower bound, every number in provenance
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'P1', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('P1') AS id;
-- a = 3.2, b = 0.8; mean 0.8; sd = sqrt(2.56 / (16 * 5)) = sqrt(0.032) = 0.178885; 0.8 - 0.178885 = 0.621115
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.6211, 'confidence');
SELECT m10_test.is((SELECT jsonb_build_array(d #> '{prior,alpha}', d #> '{prior,beta}', d #> '{prior,strength}',
                                             d #> '{posterior,alpha}', d #> '{posterior,beta}', d -> 'mean',
                                             round((d ->> 'lower_bound')::numeric, 6), round((d #>> '{posterior,sd}')::numeric, 6),
                                             d #> '{posterior,z}', d -> 'confidence', d -> 'score', d -> 'rule_name',
                                             d -> 'pattern', d -> 'action', d #> '{history,scope}',
                                             d #> '{history,half_life_days}', d #> '{history,weighted_successes}',
                                             d #> '{history,weighted_failures}')
                      FROM pg_temp.last_evaluation((SELECT id FROM c)) d),
                   '[3.2, 0.8, 4, 3.2, 0.8, 0.8, 0.621115, 0.178885, 1, 0.6211, 0.800, "r", "P1", "retry_with_backoff",
                     "error_code", 30, 0, 0]'::jsonb, 'provenance numbers');

-- test: settings change the prior and the bound: strength 10, z 0 and 2, and the bound is clipped at 0
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'P2', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('P2') AS id;
UPDATE m10_recovery.settings SET value = '10' WHERE key = 'prior_strength';
-- a = 8, b = 2: sd = sqrt(16 / (100 * 11)) = 0.120605; 0.8 - 0.120605 = 0.679395
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.6793, 'strength 10 (truncated, not rounded)');
UPDATE m10_recovery.settings SET value = '4' WHERE key = 'prior_strength';
UPDATE m10_recovery.settings SET value = '0' WHERE key = 'lower_bound_z';
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.8000, 'z = 0 ranks by the mean');
UPDATE m10_recovery.settings SET value = '2' WHERE key = 'lower_bound_z';
-- 0.8 - 2 * 0.178885 = 0.442229
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.4422, 'z = 2');
UPDATE m10_recovery.settings SET value = '1' WHERE key = 'lower_bound_z';
UPDATE m10_recovery.settings SET value = '1' WHERE key = 'prior_strength';
UPDATE m10_recovery.suggestion_rules SET score = 0.05 WHERE name = 'r';
-- a = 0.05, b = 0.95: sd = sqrt(0.0475 / 2) = 0.154110 > mean 0.05 -> clipped to 0
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.0000, 'clipped at 0');
SELECT m10_test.ok((pg_temp.last_evaluation((SELECT id FROM c)) ->> 'lower_bound')::numeric = 0, 'lower bound 0');
UPDATE m10_recovery.suggestion_rules SET score = 1 WHERE name = 'r';
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 1.0000, 'score 1: certain, at most 1');

-- test: invalid settings are refused with 22023 naming the setting; a missing one takes its default
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'P3');
CREATE TEMP TABLE c AS SELECT pg_temp.cand('P3') AS id;
UPDATE m10_recovery.settings SET value = '"four"' WHERE key = 'prior_strength';
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.evaluate_candidate(%s)', (SELECT id FROM c)), '22023',
                       'setting prior_strength must be%');
UPDATE m10_recovery.settings SET value = '4' WHERE key = 'prior_strength';
UPDATE m10_recovery.settings SET value = '0' WHERE key = 'history_half_life_days';
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.evaluate_candidate(%s)', (SELECT id FROM c)), '22023',
                       'setting history_half_life_days must be%');
UPDATE m10_recovery.settings SET value = '30' WHERE key = 'history_half_life_days';
UPDATE m10_recovery.settings SET value = '1.5' WHERE key = 'auto_approve_threshold';
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.evaluate_candidate(%s)', (SELECT id FROM c)), '22023',
                       'setting auto_approve_threshold must be%');
UPDATE m10_recovery.settings SET value = '-1' WHERE key = 'auto_approve_threshold';
SELECT m10_test.throws(format('SELECT * FROM m10_recovery.evaluate_candidate(%s)', (SELECT id FROM c)), '22023');
DELETE FROM m10_recovery.settings WHERE key IN ('auto_approve_threshold', 'prior_strength', 'lower_bound_z',
                                                'history_half_life_days');
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.6211, 'defaults 0.9 / 4 / 1 / 30');

-- test: successes raise the confidence, failures and rollbacks lower it, skipped is ignored
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'H1', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE s AS SELECT m10_recovery.error_signature('H1', 'something failed') AS sig;
SELECT pg_temp.outcome((SELECT sig FROM s), 'H1', 'retry_with_backoff', 'succeeded', '2026-01-01 00:00:00+00')
  FROM generate_series(1, 2);
-- a = 3.2 + 2 = 5.2, b = 0.8: mean 0.866667, sd = sqrt(4.16 / (36 * 7)) = 0.128483; 0.738183
SELECT m10_test.is(pg_temp.confidence_of(pg_temp.cand('H1')), 0.7381, 'two successes: 0.7381 > 0.6211');
SELECT pg_temp.outcome((SELECT sig FROM s), 'H1', 'retry_with_backoff', 'skipped', '2026-01-01 00:00:00+00')
  FROM generate_series(1, 5);
SELECT m10_test.is(pg_temp.confidence_of(pg_temp.cand('H1')), 0.7381, 'skipped outcomes change nothing');
SELECT pg_temp.outcome((SELECT sig FROM s), 'H1', 'retry_with_backoff', 'failed', '2026-01-01 00:00:00+00');
-- a = 5.2, b = 1.8: mean 0.742857, sd = sqrt(9.36 / (49 * 8)) = 0.154524; 0.588334
SELECT m10_test.is(pg_temp.confidence_of(pg_temp.cand('H1')), 0.5883, 'a failure lowers it');
SELECT pg_temp.outcome((SELECT sig FROM s), 'H1', 'retry_with_backoff', 'rolled_back', '2026-01-01 00:00:00+00');
-- a = 5.2, b = 2.8: mean 0.65, sd = sqrt(14.56 / (64 * 9)) = 0.158990; 0.491010
SELECT m10_test.is(pg_temp.confidence_of(pg_temp.cand('H1')), 0.4910, 'a rollback counts as a failure');
-- outcomes of another action for the same signature do not count
SELECT pg_temp.outcome((SELECT sig FROM s), 'H1', 'reconnect', 'succeeded', '2026-01-01 00:00:00+00')
  FROM generate_series(1, 3);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('H1') AS id;
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.4910, 'other actions do not count');
SELECT m10_test.is((SELECT d #> '{history,signature}' FROM pg_temp.last_evaluation((SELECT id FROM c)) d),
                   '{"outcomes": 4, "succeeded": 2, "failed": 1, "rolled_back": 1, "skipped": 5,
                     "weighted_successes": 2, "weighted_failures": 2}'::jsonb, 'counts in provenance');

-- test: two failures lower the confidence below the prior-only value
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'H2', 'retry_with_backoff', 0.8);
SELECT pg_temp.outcome(m10_recovery.error_signature('H2', 'something failed'), 'H2', 'retry_with_backoff', 'failed',
                       '2026-01-01 00:00:00+00') FROM generate_series(1, 2);
-- a = 3.2, b = 2.8: mean 0.533333, sd = sqrt(8.96 / (36 * 7)) = 0.188562; 0.344772
SELECT m10_test.is(pg_temp.confidence_of(pg_temp.cand('H2')), 0.3447, 'two failures: 0.3447 < 0.6211');

-- test: time decay halves an outcome's weight every half-life; far in the future history fades to the prior
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'H3', 'retry_with_backoff', 0.8);
SELECT pg_temp.outcome(m10_recovery.error_signature('H3', 'something failed'), 'H3', 'retry_with_backoff', 'succeeded',
                       '2026-01-01 00:00:00+00') FROM generate_series(1, 2);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('H3') AS id;
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2026-01-01 00:00:00+00'), 0.7381, 'age 0: weight 1 each');
-- 30 days later (one half-life): a = 3.2 + 2 * 0.5 = 4.2, b = 0.8: mean 0.84, sd = sqrt(3.36 / (25 * 6)) = 0.149666
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2026-01-31 00:00:00+00'), 0.6903, 'one half-life');
SELECT m10_test.is((pg_temp.last_evaluation((SELECT id FROM c)) #>> '{history,weighted_successes}')::numeric, 1::numeric,
                   'weighted successes 2 * 0.5');
-- 60 days: a = 3.2 + 2 * 0.25 = 3.7, b = 0.8: mean 0.822222, sd = sqrt(2.96 / (20.25 * 5.5)) = 0.163024; 0.659198
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2026-03-02 00:00:00+00'), 0.6591, 'two half-lives');
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2036-01-01 00:00:00+00'), 0.6211,
                   'ten years later: back to the prior-only value');
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2025-12-31 23:59:59+00'), 0.6211,
                   'outcomes after p_now do not exist yet');
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2126-01-01 00:00:00+00'), 0.6211,
                   'a century later (1217 half-lives): weight 0, no floating-point underflow');
UPDATE m10_recovery.settings SET value = '60' WHERE key = 'history_half_life_days';
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c), '2026-03-02 00:00:00+00'), 0.6903,
                   'half-life 60: 60 days is one half-life');

-- test: a signature with fewer than min_signature_outcomes outcomes borrows the history of its error code
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'H4', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE s AS SELECT m10_recovery.error_signature('H4', 'something failed') AS mine, 'v1:other-H4' AS other;
SELECT pg_temp.outcome((SELECT mine FROM s), 'H4', 'retry_with_backoff', 'succeeded', '2026-01-01 00:00:00+00');
SELECT pg_temp.outcome((SELECT other FROM s), 'H4', 'retry_with_backoff', 'failed', '2026-01-01 00:00:00+00')
  FROM generate_series(1, 2);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('H4') AS id;
-- 1 signature outcome < 3: code scope, 1 success + 2 failures: a = 4.2, b = 2.8
-- mean 0.6, sd = sqrt(11.76 / (49 * 8)) = 0.173205; 0.426795
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.4267, 'code scope');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) #>> '{history,scope}', 'error_code', 'scope named');
SELECT pg_temp.outcome((SELECT mine FROM s), 'H4', 'retry_with_backoff', 'succeeded', '2026-01-01 00:00:00+00')
  FROM generate_series(1, 2);
-- 3 signature outcomes: signature scope, 3 successes: a = 6.2, b = 0.8
-- mean 0.885714, sd = sqrt(4.96 / (49 * 8)) = 0.112486; 0.773228
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.7732, 'signature scope');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) #>> '{history,scope}', 'signature', 'scope named');
SELECT m10_test.is((pg_temp.last_evaluation((SELECT id FROM c)) #>> '{history,error_code,outcomes}')::int, 5,
                   'code scope counted too, for the explanation');
INSERT INTO m10_recovery.settings (key, value, description) VALUES ('min_signature_outcomes', '10', 'test')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
-- code scope again: 3 successes + 2 failures: a = 6.2, b = 2.8: mean 0.688889, sd = sqrt(17.36 / (81 * 10)) = 0.146397; 0.542492
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.5424, 'the setting moves the switch');

-- test: action_statistics lists both scopes with raw and weighted counts
SELECT pg_temp.outcome('v1:sig-a', 'AS1', 'reconnect', 'succeeded', '2026-01-01 00:00:00+00');
SELECT pg_temp.outcome('v1:sig-a', 'AS1', 'reconnect', 'skipped', '2026-01-01 00:00:00+00');
SELECT pg_temp.outcome('v1:sig-b', 'AS1', 'reconnect', 'failed', '2025-12-02 00:00:00+00');
SELECT pg_temp.outcome('v1:sig-b', 'AS1', 'retry_with_backoff', 'failed', '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT array_agg(format('%s:%s/%s/%s/%s/%s:%s/%s', scope, outcomes, succeeded, failed, rolled_back,
                                            skipped, weighted_successes, weighted_failures))
                      FROM m10_recovery.action_statistics('v1:sig-a', 'AS1', 'reconnect', 30,
                                                          '2026-01-01 00:00:00+00')),
                   ARRAY['signature:1/1/0/0/1:1/0', 'error_code:2/1/1/0/1:1/0.5'], 'both scopes');
SELECT m10_test.is((SELECT array_agg(outcomes) FROM m10_recovery.action_statistics('v1:none', 'NONE', 'reconnect')),
                   ARRAY[0::bigint, 0::bigint], 'no history: zero rows are still two rows');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.action_statistics('a', 'b', 'reconnect', 0)$$, '22023');

-- test: auto-approval at the threshold approves, just below it does not
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'AA', 'retry_with_backoff', 0.8);
UPDATE m10_recovery.settings SET value = '0.6211' WHERE key = 'auto_approve_threshold';
CREATE TEMP TABLE c AS SELECT pg_temp.cand('AA') AS at_threshold;
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.evaluate_candidate((SELECT at_threshold FROM c), 'w',
                                                                     '2026-01-01 00:00:00+00');
SELECT m10_test.is((SELECT confidence || ':' || auto_approved FROM r), '0.6211:true', 'at the threshold: approved');
SELECT m10_test.is((SELECT decision || '|' || decided_by || '|' || decided_at || '|' || decision_note
                      FROM m10_recovery.recovery_candidates WHERE id = (SELECT at_threshold FROM c)),
                   'approved|system:auto|2026-01-01 00:00:00+00|auto-approved: confidence 0.6211 >= threshold 0.6211',
                   'approved by the system');
SELECT m10_test.is((SELECT string_agg(event || ':' || actor, ',' ORDER BY id) FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT at_threshold FROM c)), 'evaluated:w,auto_approved:system:auto',
                   'evaluated, then auto_approved');
SELECT m10_test.is((SELECT details FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT at_threshold FROM c) AND event = 'auto_approved'),
                   '{"decision": "approved", "action": "retry_with_backoff", "confidence": 0.6211, "threshold": 0.6211,
                     "rule_name": "r", "evaluated_by": "w"}'::jsonb, 'auto_approved details');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT at_threshold FROM c)) -> 'auto_approval',
                   '{"approved": true, "reason": "confidence at or above the threshold", "threshold": 0.6211,
                     "automated": true, "requires_approval": false, "decision_before": "pending"}'::jsonb,
                   'the decision and its inputs in the evaluation');
UPDATE m10_recovery.settings SET value = '0.6212' WHERE key = 'auto_approve_threshold';
CREATE TEMP TABLE c2 AS SELECT pg_temp.cand('AA') AS below;
SELECT m10_test.is((SELECT confidence || ':' || auto_approved FROM m10_recovery.evaluate_candidate((SELECT below FROM c2))),
                   '0.6211:false', 'just below: not approved');
SELECT m10_test.is((SELECT decision || coalesce(decided_by, '-') FROM m10_recovery.recovery_candidates
                     WHERE id = (SELECT below FROM c2)), 'pending-', 'still pending');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT below FROM c2) AND event = 'auto_approved'), 0::bigint, 'no auto_approved');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT below FROM c2)) #>> '{auto_approval,reason}',
                   'confidence below the threshold', 'reason');

-- test: auto-approval only for automated actions that need no approval, and only from pending
UPDATE m10_recovery.settings SET value = '0' WHERE key = 'auto_approve_threshold';
SELECT pg_temp.only_rule('needs approval', 'error_code', 'exact', 'N1', 'failover_provider', 0.99);
SELECT pg_temp.add_rule('manual', 'error_code', 'exact', 'N2', 'request_permission', 0.99);
SELECT pg_temp.add_rule('free', 'error_code', 'exact', 'N3', 'reconnect', 0.99);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('N1') AS n1, pg_temp.cand('N2') AS n2, pg_temp.cand('N3') AS n3,
                              pg_temp.cand('N3') AS rejected;
SELECT m10_recovery.decide_candidate((SELECT rejected FROM c), 'rejected', 'alice');
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.evaluate_candidates(
    ARRAY[(SELECT n1 FROM c), (SELECT n2 FROM c), (SELECT n3 FROM c), (SELECT rejected FROM c)]);
SELECT m10_test.is((SELECT string_agg(suggested_action || ':' || auto_approved, ',' ORDER BY candidate_id) FROM r),
                   'failover_provider:false,request_permission:false,reconnect:true,reconnect:false', 'who is approved');
SELECT m10_test.is((SELECT string_agg(decision, ',' ORDER BY id) FROM m10_recovery.recovery_candidates
                     WHERE id IN (SELECT candidate_id FROM r)), 'pending,pending,approved,rejected', 'decisions');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT n1 FROM c)) #>> '{auto_approval,reason}', 'action requires approval', 'n1');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT n2 FROM c)) #>> '{auto_approval,reason}', 'action is not automated', 'n2');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT rejected FROM c)) #>> '{auto_approval,reason}',
                   'decision is already rejected', 'rejected');

-- test: re-evaluating a pending candidate recomputes everything
SELECT pg_temp.only_rule('first', 'error_code', 'exact', 'RE1', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('RE1') AS id;
SELECT m10_test.is(pg_temp.confidence_of((SELECT id FROM c)), 0.6211, 'first evaluation');
SELECT pg_temp.add_rule('better', 'error_code', 'exact', 'RE1', 'reconnect', 0.9, 10);
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.evaluate_candidate((SELECT id FROM c), p_now => '2026-01-02 00:00:00+00');
SELECT m10_test.is((SELECT rule_name || ':' || suggested_action || ':' || confidence FROM r), 'better:reconnect:0.7658',
                   'second evaluation takes the new rule');
SELECT m10_test.is((SELECT suggested_action || ':' || confidence || ':' || evaluated_at FROM m10_recovery.recovery_candidates
                     WHERE id = (SELECT id FROM c)), 'reconnect:0.7658:2026-01-02 00:00:00+00', 'stored');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) -> 'previous',
                   '{"suggested_action": "retry_with_backoff", "confidence": 0.6211, "evaluation_state": "evaluated",
                     "decision": "pending"}'::jsonb, 'the previous suggestion is in the provenance');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_provenance
                     WHERE candidate_id = (SELECT id FROM c) AND event = 'evaluated'), 2::bigint, 'two evaluations');

-- test: re-evaluating an approved candidate recomputes the confidence of its action and never changes the decision
SELECT pg_temp.only_rule('first', 'error_code', 'exact', 'RE2', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('RE2') AS id;
SELECT count(*) FROM m10_recovery.evaluate_candidate((SELECT id FROM c));
SELECT m10_recovery.decide_candidate((SELECT id FROM c), 'approved', 'alice', p_now => '2026-01-01 00:00:00+00');
-- a higher rule now names another action: the approved action stays, its confidence is recomputed
SELECT pg_temp.add_rule('other action', 'error_code', 'exact', 'RE2', 'reconnect', 0.9, 10);
UPDATE m10_recovery.suggestion_rules SET score = 0.9 WHERE name = 'first';
CREATE TEMP TABLE r AS SELECT * FROM m10_recovery.evaluate_candidate((SELECT id FROM c));
SELECT m10_test.is((SELECT rule_name || ':' || suggested_action || ':' || confidence || ':' || auto_approved FROM r),
                   'first:retry_with_backoff:0.7658:false', 'same action, new confidence');
SELECT m10_test.is((SELECT decision || ':' || decided_by || ':' || suggested_action || ':' || confidence
                      FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM c)),
                   'approved:alice:retry_with_backoff:0.7658', 'decision unchanged');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) #>> '{first_matching_rule,name}', 'other action',
                   'the rule that would suggest otherwise is named');
-- no rule names the approved action any more: everything is kept
UPDATE m10_recovery.suggestion_rules SET enabled = false WHERE name = 'first';
CREATE TEMP TABLE r2 AS SELECT * FROM m10_recovery.evaluate_candidate((SELECT id FROM c));
SELECT m10_test.is((SELECT coalesce(rule_name, '-') || ':' || suggested_action || ':' || confidence FROM r2),
                   '-:retry_with_backoff:0.7658', 'kept');
SELECT m10_test.is(pg_temp.last_evaluation((SELECT id FROM c)) -> 'confidence_kept', 'true'::jsonb, 'said so');
SELECT m10_test.is((SELECT decision FROM m10_recovery.recovery_candidates WHERE id = (SELECT id FROM c)), 'approved', 'still');

-- test: re-evaluating a rejected candidate keeps it rejected, even when auto-approval would apply
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'RE3', 'reconnect', 0.8);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('RE3') AS evaluated_first, pg_temp.cand('RE3') AS rejected_first;
SELECT count(*) FROM m10_recovery.evaluate_candidate((SELECT evaluated_first FROM c));
SELECT m10_recovery.decide_candidate((SELECT evaluated_first FROM c), 'reject', 'bob');
SELECT m10_recovery.decide_candidate((SELECT rejected_first FROM c), 'reject', 'bob');
UPDATE m10_recovery.settings SET value = '0' WHERE key = 'auto_approve_threshold';
SELECT m10_test.is((SELECT string_agg(suggested_action || ':' || auto_approved, ',' ORDER BY candidate_id)
                      FROM m10_recovery.evaluate_candidates(ARRAY[(SELECT evaluated_first FROM c),
                                                                  (SELECT rejected_first FROM c)])),
                   'reconnect:false,reconnect:false', 'not approved');
SELECT m10_test.is((SELECT string_agg(decision || ':' || decided_by, ',' ORDER BY id) FROM m10_recovery.recovery_candidates
                     WHERE id IN ((SELECT evaluated_first FROM c), (SELECT rejected_first FROM c))),
                   'rejected:bob,rejected:bob', 'still rejected');

-- test: evaluate_candidates returns one row per distinct existing id in input order and skips unknown ids
SELECT pg_temp.only_rule('r', 'error_code', 'prefix', 'B');
CREATE TEMP TABLE c AS SELECT pg_temp.cand('B1') AS a, pg_temp.cand('B2') AS b, pg_temp.cand('B3') AS c;
CREATE TEMP TABLE r AS SELECT row_number() OVER () AS pos, * FROM m10_recovery.evaluate_candidates(
    ARRAY[(SELECT c FROM c), -5, (SELECT a FROM c), (SELECT c FROM c), (SELECT b FROM c)], 'batcher');
SELECT m10_test.is((SELECT array_agg(candidate_id ORDER BY pos) FROM r),
                   ARRAY[(SELECT c FROM c), (SELECT a FROM c), (SELECT b FROM c)], 'input order, once each, unknown skipped');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.suggestion_provenance p JOIN r ON r.candidate_id = p.candidate_id
                     WHERE p.event = 'evaluated' AND p.actor = 'batcher'), 3::bigint, 'one evaluation each');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.evaluate_candidates('{}')), 0::bigint, 'empty batch');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.evaluate_candidates(ARRAY[-1, -2])), 0::bigint, 'only unknown ids');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_candidates(NULL)$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_candidates(ARRAY[1, NULL])$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_candidates(ARRAY[1], '')$$, '22023');
SELECT m10_test.throws($$SELECT * FROM m10_recovery.evaluate_candidates(array_fill(1::bigint, ARRAY[10001]))$$, '22023');

-- test: the evaluated provenance holds every input and number
SELECT pg_temp.only_rule('r', 'error_code', 'exact', 'PV', 'retry_with_backoff', 0.8);
CREATE TEMP TABLE c AS SELECT pg_temp.cand('PV', 'it broke at 10:32 on host-7') AS id;
SELECT count(*) FROM m10_recovery.evaluate_candidate((SELECT id FROM c), 'explainer', '2026-01-01 00:00:00+00');
CREATE TEMP TABLE d AS SELECT pg_temp.last_evaluation((SELECT id FROM c)) AS d;
SELECT m10_test.is((SELECT array_agg(k ORDER BY k) FROM d, jsonb_object_keys(d.d) k),
                   ARRAY['action', 'auto_approval', 'confidence', 'history', 'input', 'invalid_rules', 'lower_bound',
                         'mean', 'now', 'pattern', 'posterior', 'previous', 'prior', 'rule', 'rule_name', 'rules_tried',
                         'score', 'settings'], 'top-level keys');
SELECT m10_test.is((SELECT d -> 'input' FROM d),
                   jsonb_build_object('error_code', 'PV', 'error_signature',
                                      m10_recovery.error_signature('PV', 'it broke at 10:32 on host-7'),
                                      'signature_version', 1,
                                      'message_template', m10_recovery.normalize_message('it broke at 10:32 on host-7'),
                                      'message_matched', 'error_message', 'message', 'it broke at 10:32 on host-7',
                                      'occurrence_count', 1), 'inputs');
SELECT m10_test.is((SELECT d -> 'rule' FROM d),
                   '{"name": "r", "priority": 0, "match_field": "error_code", "match_kind": "exact", "pattern": "PV",
                     "score": 0.800, "action": "retry_with_backoff"}'::jsonb
                   || jsonb_build_object('id', (SELECT id FROM m10_recovery.suggestion_rules WHERE name = 'r')), 'rule');
SELECT m10_test.is((SELECT d -> 'settings' FROM d),
                   '{"prior_strength": 4, "history_half_life_days": 30, "lower_bound_z": 1,
                     "auto_approve_threshold": 0.9, "min_signature_outcomes": 3}'::jsonb, 'settings');
SELECT m10_test.is((SELECT (d ->> 'now')::timestamptz FROM d), '2026-01-01 00:00:00+00'::timestamptz, 'clock');
SELECT m10_test.ok((SELECT d -> 'history' ?& ARRAY['scope', 'half_life_days', 'min_signature_outcomes', 'signature',
                                                   'error_code', 'weighted_successes', 'weighted_failures'] FROM d),
                   'history keys');
SELECT m10_test.ok((SELECT d -> 'posterior' ?& ARRAY['alpha', 'beta', 'mean', 'sd', 'z', 'lower_bound'] FROM d),
                   'posterior keys');
