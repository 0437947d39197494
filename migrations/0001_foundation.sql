-- Foundation: the m10_recovery schema, the registry of applied SQL objects, and the durable work queue.

CREATE SCHEMA IF NOT EXISTS m10_recovery;
COMMENT ON SCHEMA m10_recovery IS 'm10py: Postgres-native failure-recovery engine';

-- What `m10 db migrate` applied from the package: each function, view and migration file with the
-- sha256 of its file and of its definition as the database printed it right after applying, so
-- `m10 db status` can tell a package change (file hash) from a hand edit in the database (db hash).
CREATE TABLE m10_recovery.schema_registry (
    kind             text        NOT NULL CHECK (kind IN ('function', 'view', 'migration')),
    name             text        NOT NULL,
    file_sha256      text        NOT NULL,
    db_sha256        text,
    package_version  text        NOT NULL,
    applied_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);

-- Work methods are a catalog so that a typo in a job name is an error, not a row nothing consumes.
CREATE TABLE m10_recovery.work_methods (
    name                 text    PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description          text    NOT NULL,
    default_max_attempts integer NOT NULL DEFAULT 5 CHECK (default_max_attempts BETWEEN 1 AND 100)
);

INSERT INTO m10_recovery.work_methods (name, description, default_max_attempts) VALUES
    ('evaluate', 'Evaluate a recovery candidate and suggest an action', 5),
    ('execute',  'Execute an approved recovery action',                 3);

-- The durable work queue. `available_at` is the visibility time: when the item may be claimed.
-- A claim moves it to the end of the lease, so a crashed worker's items come back by themselves.
CREATE TABLE m10_recovery.work_queue (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id   bigint,
    method         text        NOT NULL DEFAULT 'evaluate',
    payload        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    priority       integer     NOT NULL DEFAULT 0,
    state          text        NOT NULL DEFAULT 'pending'
                               CHECK (state IN ('pending', 'claimed', 'completed', 'dead')),
    attempts       integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts   integer     NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    available_at   timestamptz NOT NULL DEFAULT now(),
    claimed_at     timestamptz,
    claimed_by     text,
    processed_at   timestamptz,
    error_message  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT work_queue_final_has_processed_at
        CHECK ((state IN ('completed', 'dead')) = (processed_at IS NOT NULL)),
    CONSTRAINT work_queue_claim_has_owner
        CHECK (state <> 'claimed' OR (claimed_at IS NOT NULL AND claimed_by IS NOT NULL)),
    CONSTRAINT work_queue_attempts_within_max
        CHECK (attempts <= max_attempts),
    CONSTRAINT work_queue_payload_is_object
        CHECK (jsonb_typeof(payload) = 'object')
)
WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05);

COMMENT ON TABLE m10_recovery.work_queue IS
    'Durable work queue: claim with m10_recovery.claim_work, finish with complete_work; rows stay as history until retention';
COMMENT ON COLUMN m10_recovery.work_queue.available_at IS
    'When the item may be claimed: the enqueue delay, a retry backoff, or the end of the current lease';

-- The claim path: unfinished items in claim order. Finished rows leave the index.
CREATE INDEX work_queue_ready_idx
    ON m10_recovery.work_queue (priority DESC, available_at, id)
    WHERE processed_at IS NULL;

CREATE INDEX work_queue_candidate_idx
    ON m10_recovery.work_queue (candidate_id)
    WHERE candidate_id IS NOT NULL;

-- What claim_work and complete_and_claim hand to a worker.
CREATE TYPE m10_recovery.claimed_work AS (
    work_id          bigint,
    candidate_id     bigint,
    method           text,
    payload          jsonb,
    priority         integer,
    attempts         integer,
    max_attempts     integer,
    enqueued_at      timestamptz,
    claimed_at       timestamptz,
    lease_expires_at timestamptz
);
