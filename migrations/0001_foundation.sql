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

-- The durable work queue. It holds unfinished and dead work only: a completed item is deleted in
-- the transaction that completes it (as graphile-worker and pgmq do), which is the cheapest way to
-- take a row out of every index; what the work produced is recorded by the domain tables.
-- `available_at` is when a pending item may be claimed (enqueue delay, retry backoff) and, while it
-- is claimed, when its lease ends: a crashed worker's items come back by themselves.
-- Fixed-width columns first, so no alignment padding: every claim writes a new row version, and a
-- narrower row means fewer pages and less WAL per claim.
CREATE TABLE m10_recovery.work_queue (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id   bigint,
    available_at   timestamptz NOT NULL DEFAULT now(),
    claimed_at     timestamptz,
    processed_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    priority       smallint    NOT NULL DEFAULT 0,
    attempts       smallint    NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts   smallint    NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    state          text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'dead')),
    method         text        NOT NULL DEFAULT 'evaluate',
    claimed_by     text,
    payload        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error_message  text,
    CONSTRAINT work_queue_dead_has_processed_at CHECK ((state = 'dead') = (processed_at IS NOT NULL)),
    CONSTRAINT work_queue_claim_has_owner
        CHECK (state <> 'claimed' OR (claimed_at IS NOT NULL AND claimed_by IS NOT NULL)),
    CONSTRAINT work_queue_attempts_within_max CHECK (attempts <= max_attempts),
    CONSTRAINT work_queue_payload_is_object CHECK (jsonb_typeof(payload) = 'object')
)
-- Every claim rewrites the row: free space in each page keeps the new version beside the old one.
-- The queue churns, so autovacuum should not wait for 20 % of it to be dead.
WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05);

COMMENT ON TABLE m10_recovery.work_queue IS
    'Durable work queue: unfinished and dead items. Claim with m10_recovery.claim_work, finish with complete_work (a completed item is deleted)';
COMMENT ON COLUMN m10_recovery.work_queue.available_at IS
    'Pending: when the item may be claimed (enqueue delay or retry backoff). Claimed: when the lease ends';

-- Claim order for pending items. A claim moves the row out of this index and into the lease index,
-- so neither index ever makes a claim step over rows that are not claimable.
CREATE INDEX work_queue_ready_idx
    ON m10_recovery.work_queue (priority DESC, available_at, id)
    WHERE state = 'pending';

-- Running leases by end time: the claim takes expired ones first, so crashed workers' items return.
CREATE INDEX work_queue_lease_idx
    ON m10_recovery.work_queue (available_at, id)
    WHERE state = 'claimed';

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
