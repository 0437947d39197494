-- Recovery candidates: what ingest_failure writes, what evaluate_candidate reads and explains, and
-- what decisions and executions feed back.
-- depends: 0001_foundation

-- The actions a suggestion can name. `automated` actions can be run by the system itself;
-- `requires_approval` actions wait for a person (or an agent) to approve them.
CREATE TABLE m10_recovery.suggestion_action (
    action_code        text        PRIMARY KEY CHECK (action_code ~ '^[a-z][a-z0-9_]{0,62}$'),
    description        text        NOT NULL,
    automated          boolean     NOT NULL DEFAULT false,
    requires_approval  boolean     NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now()
);

INSERT INTO m10_recovery.suggestion_action (action_code, description, automated, requires_approval) VALUES
    ('retry_with_backoff',   'Retry the step after a capped exponential backoff',                    true,  false),
    ('wait_for_rate_limit',  'Wait until the rate-limit window resets (Retry-After), then retry',    true,  false),
    ('increase_timeout',     'Retry with a longer timeout',                                           true,  false),
    ('reconnect',            'Re-resolve the host and reconnect, then retry',                         true,  false),
    ('failover_provider',    'Send the request to a fallback provider or model',                      true,  true),
    ('refresh_credentials',  'Refresh or rotate the credentials, then retry',                         true,  true),
    ('request_permission',   'Ask an owner to grant the missing permission',                          false, true),
    ('increase_budget',      'Raise the budget or quota, or wait for the next period',                false, true),
    ('fix_input',            'Repair the input (schema, encoding, format) and retry',                 false, true),
    ('reduce_batch_size',    'Retry with a smaller batch or input to fit in memory',                  true,  true),
    ('escalate_to_human',    'Hand the failure to a person: no known recovery applies',               false, true);

-- Rules map a failure to an action. They are tried in priority order (higher first, then id) and
-- the first match wins; `score` is the rule's prior confidence in its action.
-- match_kind: exact (whole value, case-insensitive), prefix (starts with, case-insensitive), or
-- regex (PostgreSQL ARE, case-insensitive; use \m and \M for word boundaries).
CREATE TABLE m10_recovery.suggestion_rules (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    priority     integer     NOT NULL DEFAULT 0,
    match_field  text        NOT NULL CHECK (match_field IN ('error_code', 'message')),
    match_kind   text        NOT NULL CHECK (match_kind IN ('exact', 'prefix', 'regex')),
    pattern      text        NOT NULL CHECK (pattern <> ''),
    action_code  text        NOT NULL REFERENCES m10_recovery.suggestion_action (action_code),
    score        numeric(4, 3) NOT NULL CHECK (score BETWEEN 0 AND 1),
    enabled      boolean     NOT NULL DEFAULT true,
    description  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX suggestion_rules_order_idx ON m10_recovery.suggestion_rules (priority DESC, id) WHERE enabled;

-- A sensible catalogue for agent and job failures: codes first (precise), then message patterns.
INSERT INTO m10_recovery.suggestion_rules (name, priority, match_field, match_kind, pattern, action_code, score, description) VALUES
    ('code: timeout',            100, 'error_code', 'regex',  '^(TIMEOUT|TIMED_OUT|DEADLINE_EXCEEDED|ETIMEDOUT|HTTP_408|HTTP_504|GATEWAY_TIMEOUT)$', 'retry_with_backoff', 0.800, 'Timeouts are usually transient'),
    ('code: rate limited',       100, 'error_code', 'regex',  '^(RATE_LIMIT(ED)?|TOO_MANY_REQUESTS|THROTTLED|HTTP_429)$', 'wait_for_rate_limit', 0.900, 'Back off until the window resets'),
    ('code: server error',        90, 'error_code', 'regex',  '^(HTTP_5(00|02|03)|INTERNAL_SERVER_ERROR|BAD_GATEWAY|SERVICE_UNAVAILABLE|UPSTREAM_ERROR)$', 'retry_with_backoff', 0.700, 'A 5xx from the far side is often transient'),
    ('code: budget or quota',    100, 'error_code', 'regex',  '^(BUDGET_EXCEEDED|QUOTA_EXCEEDED|INSUFFICIENT_QUOTA|BILLING_LIMIT|HTTP_402)$', 'increase_budget', 0.850, 'Retrying does not help until the limit moves'),
    ('code: auth expired',       100, 'error_code', 'regex',  '^(AUTH_EXPIRED|TOKEN_EXPIRED|INVALID_TOKEN|UNAUTHENTICATED|UNAUTHORIZED|HTTP_401)$', 'refresh_credentials', 0.800, 'Credentials need refreshing'),
    ('code: permission denied',  100, 'error_code', 'regex',  '^(PERMISSION_DENIED|FORBIDDEN|ACCESS_DENIED|EACCES|HTTP_403)$', 'request_permission', 0.800, 'A person must grant access'),
    ('code: connection or dns',  100, 'error_code', 'regex',  '^(CONNECTION_(REFUSED|RESET|ERROR)|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|DNS_ERROR|NETWORK_ERROR)$', 'reconnect', 0.750, 'Network failures are often transient'),
    ('code: parse or validation', 100, 'error_code', 'regex', '^(PARSE_ERROR|JSON_DECODE_ERROR|VALIDATION_ERROR|SCHEMA_ERROR|INVALID_INPUT|HTTP_400|HTTP_422|UNPROCESSABLE_ENTITY)$', 'fix_input', 0.700, 'The same input will fail again'),
    ('code: out of memory',      100, 'error_code', 'regex',  '^(OOM|OOM_KILLED|OUT_OF_MEMORY|MEMORY_ERROR|ENOMEM|EXIT_137)$', 'reduce_batch_size', 0.700, 'Smaller inputs fit'),
    ('code: provider down',       90, 'error_code', 'regex',  '^(MODEL_OVERLOADED|PROVIDER_UNAVAILABLE|OVERLOADED|HTTP_529)$', 'failover_provider', 0.650, 'Another provider can serve meanwhile'),
    ('message: timed out',        50, 'message',    'regex',  '\m(timed? ?out|timeout|deadline exceeded)\M', 'retry_with_backoff', 0.600, 'Timeout named in the message'),
    ('message: rate limit',       50, 'message',    'regex',  '\m(rate.?limit(ed)?|too many requests|throttl\w*)\M', 'wait_for_rate_limit', 0.700, 'Rate limit named in the message'),
    ('message: quota',            50, 'message',    'regex',  '\m(quota|budget|billing|insufficient (funds|credits?))\M', 'increase_budget', 0.600, 'Quota named in the message'),
    ('message: auth',             50, 'message',    'regex',  '\m(unauthori[sz]ed|expired token|token (has )?expired|invalid (api )?key|authentication failed)\M', 'refresh_credentials', 0.600, 'Authentication named in the message'),
    ('message: permission',       50, 'message',    'regex',  '\m(permission denied|forbidden|access denied|not allowed)\M', 'request_permission', 0.600, 'Permission named in the message'),
    ('message: connection',       50, 'message',    'regex',  '\m(connection (refused|reset|closed|aborted)|could not resolve|name or service not known|no route to host|network (is )?unreachable|dns)\M', 'reconnect', 0.600, 'Network failure named in the message'),
    ('message: server error',     40, 'message',    'regex',  '\m(5\d\d|internal server error|bad gateway|service unavailable)\M', 'retry_with_backoff', 0.500, 'A 5xx status named in the message'),
    ('message: parse',            50, 'message',    'regex',  '\m(parse error|json|unexpected token|invalid (input|format|syntax)|validation (error|failed)|schema)\M', 'fix_input', 0.500, 'Malformed input named in the message'),
    ('message: memory',           50, 'message',    'regex',  '\m(out of memory|oom|memory ?error|cannot allocate memory|killed)\M', 'reduce_batch_size', 0.500, 'Memory exhaustion named in the message'),
    ('fallback: unknown',       -1000, 'error_code', 'regex', '.', 'escalate_to_human', 0.300, 'Nothing more specific matched');

-- One candidate per (failure_match_id, error_signature): exactly one unique index on that identity.
CREATE TABLE m10_recovery.recovery_candidates (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    failure_match_id     uuid        NOT NULL,
    error_signature      text        NOT NULL,
    signature_version    smallint    NOT NULL,
    error_code           text        NOT NULL,
    message_template     text        NOT NULL,
    error_message        text,
    source               text,
    skill                text,
    tenant               text,
    idempotency_key      uuid,
    occurrence_count     integer     NOT NULL DEFAULT 1 CHECK (occurrence_count >= 1),
    suggested_action     text        REFERENCES m10_recovery.suggestion_action (action_code),
    confidence           numeric(5, 4) CHECK (confidence BETWEEN 0 AND 1),
    evaluation_state     text        NOT NULL DEFAULT 'pending'
                                     CHECK (evaluation_state IN ('pending', 'evaluated', 'failed')),
    evaluated_at         timestamptz,
    decision             text        NOT NULL DEFAULT 'pending'
                                     CHECK (decision IN ('pending', 'approved', 'rejected')),
    decided_by           text,
    decided_at           timestamptz,
    decision_note        text,
    execution_status     text        NOT NULL DEFAULT 'pending'
                                     CHECK (execution_status IN ('pending', 'executing', 'succeeded', 'failed',
                                                                 'skipped', 'rolled_back')),
    execution_claimed_by text,
    execution_lease_until timestamptz,
    execution_attempts   smallint    NOT NULL DEFAULT 0 CHECK (execution_attempts >= 0),
    first_seen_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at         timestamptz NOT NULL DEFAULT now(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rc_decided_has_actor CHECK (decision = 'pending' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)),
    CONSTRAINT rc_execution_needs_approval CHECK (execution_status = 'pending' OR decision = 'approved'),
    CONSTRAINT rc_executing_has_lease
        CHECK (execution_status <> 'executing' OR (execution_claimed_by IS NOT NULL AND execution_lease_until IS NOT NULL))
);

CREATE UNIQUE INDEX uq_rc_fmid_sig ON m10_recovery.recovery_candidates (failure_match_id, error_signature);
CREATE INDEX rc_signature_idx ON m10_recovery.recovery_candidates (error_signature);
CREATE INDEX rc_pending_decision_idx ON m10_recovery.recovery_candidates (confidence DESC, id)
    WHERE decision = 'pending';
CREATE INDEX rc_created_at_idx ON m10_recovery.recovery_candidates (created_at);
-- What claim_execution looks through: approved candidates not executed yet (or whose lease expired).
CREATE INDEX rc_execution_ready_idx ON m10_recovery.recovery_candidates (decided_at, id)
    WHERE decision = 'approved' AND execution_status IN ('pending', 'executing');

COMMENT ON TABLE m10_recovery.recovery_candidates IS
    'One row per (failure_match_id, error_signature): the failure, its suggestion, decision and execution';

-- A repeated failure re-enqueues evaluation unless one is waiting: found here, not by a scan. Only
-- pending rows qualify, so a claim takes the row out and writes nothing to this index.
CREATE INDEX work_queue_pending_candidate_idx ON m10_recovery.work_queue (candidate_id)
    WHERE state = 'pending' AND candidate_id IS NOT NULL;

-- Idempotency keys: a retried ingest with the same key and payload is a pure replay of the first
-- answer; the same key with another payload is an error.
CREATE TABLE m10_recovery.ingest_requests (
    idempotency_key  uuid        PRIMARY KEY,
    payload_sha256   text        NOT NULL,
    candidate_id     bigint      NOT NULL REFERENCES m10_recovery.recovery_candidates (id) ON DELETE CASCADE,
    status           text        NOT NULL CHECK (status IN ('accepted', 'duplicate')),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- What each ingest brought in: the normalised failure, one row per occurrence.
CREATE TABLE m10_recovery.suggestion_input (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id  bigint      NOT NULL REFERENCES m10_recovery.recovery_candidates (id) ON DELETE CASCADE,
    input_type    text        NOT NULL CHECK (input_type IN ('failure', 'stack', 'context')),
    source        text,
    value         jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_requests_candidate_idx ON m10_recovery.ingest_requests (candidate_id);
CREATE INDEX suggestion_input_candidate_idx ON m10_recovery.suggestion_input (candidate_id);
CREATE INDEX suggestion_input_created_at_idx ON m10_recovery.suggestion_input (created_at);

-- How every suggestion came about: append-only (an UPDATE or DELETE is refused, except a DELETE by
-- retention archival, which sets m10_recovery.archiving = 'on' for its transaction).
CREATE TABLE m10_recovery.suggestion_provenance (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id  bigint      NOT NULL REFERENCES m10_recovery.recovery_candidates (id) ON DELETE CASCADE,
    event         text        NOT NULL CHECK (event IN ('ingested', 'repeated', 'evaluated', 'decided',
                                                          'auto_approved', 'execution_claimed', 'executed')),
    actor         text,
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX suggestion_provenance_candidate_idx ON m10_recovery.suggestion_provenance (candidate_id, id);
CREATE INDEX suggestion_provenance_created_at_idx ON m10_recovery.suggestion_provenance (created_at);

-- Outcomes of executed suggestions: append-only; the statistics of (signature, action) and
-- (error_code, action) that evaluate_candidate uses are computed from these rows.
CREATE TABLE m10_recovery.execution_outcomes (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id     bigint      NOT NULL REFERENCES m10_recovery.recovery_candidates (id) ON DELETE CASCADE,
    error_signature  text        NOT NULL,
    error_code       text        NOT NULL,
    action_code      text        NOT NULL REFERENCES m10_recovery.suggestion_action (action_code),
    outcome          text        NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'skipped', 'rolled_back')),
    executed_by      text        NOT NULL,
    details          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX execution_outcomes_once_idx ON m10_recovery.execution_outcomes (candidate_id);
CREATE INDEX execution_outcomes_signature_idx ON m10_recovery.execution_outcomes (error_signature, action_code, created_at);
CREATE INDEX execution_outcomes_code_idx ON m10_recovery.execution_outcomes (error_code, action_code, created_at);

-- Tunables of the engine, read by the SQL functions (not by Python), changed by operators.
CREATE TABLE m10_recovery.settings (
    key          text        PRIMARY KEY,
    value        jsonb       NOT NULL,
    description  text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO m10_recovery.settings (key, value, description) VALUES
    ('auto_approve_threshold', '0.9',
     'Confidence at or above which an automated action that needs no approval is approved by the system'),
    ('prior_strength', '4',
     'Weight of the rule score as a Beta prior, in pseudo-outcomes (alpha = score * w, beta = (1 - score) * w)'),
    ('history_half_life_days', '30',
     'Half-life of an execution outcome in the statistics: older outcomes count less'),
    ('lower_bound_z', '1.0',
     'z of the lower confidence bound used to rank suggestions (0 ranks by the posterior mean)'),
    ('max_payload_bytes', '1048576',
     'Largest failure payload ingest_failure accepts, as JSON text'),
    ('max_execution_attempts', '3',
     'Executions whose lease expired (a crashed or hung executor) after which the suggestion counts as failed'),
    ('min_signature_outcomes', '3',
     'Outcomes of (error_signature, action) below which evaluate_candidate uses the (error_code, action) history instead');

-- The append-only triggers are created with their function, in
-- sql/functions/refuse_change_of_append_only.sql.
