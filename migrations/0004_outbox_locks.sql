-- The transactional outbox (side effects that leave when the transaction that caused them commits),
-- its dead letters, and distributed locks.
-- depends: 0002_recovery_candidates

-- One row per event. publish_outbox inserts it inside the caller's transaction; claim_outbox leases
-- it to a processor; complete_outbox sets processed_at; fail_outbox schedules a retry or moves it to
-- outbox_dead_letter. Runbook column names stay (next_retry_at, retry_count, last_error, processed_at).
-- `next_retry_at` is when an unprocessed event may be claimed and, while a processor holds it
-- (claimed_by set), when that lease ends: a crashed processor's events come back by themselves.
-- `event_id` is the idempotency key receivers dedup by (the webhook-id header): it never changes,
-- not on a retry, not on a replay from the dead letters.
CREATE TABLE m10_recovery.outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    next_retry_at   timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    processed_at    timestamptz,
    event_id        uuid        NOT NULL DEFAULT gen_random_uuid(),
    retry_count     integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    event_type      text        NOT NULL,
    aggregate_type  text,
    aggregate_id    text,
    claimed_by      text,  -- the processor holding the lease; once processed, the one that delivered
    payload         jsonb       NOT NULL,
    last_error      text
)
-- A claim and a completion each rewrite the row: room in the page keeps the new version beside the old.
WITH (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);

COMMENT ON TABLE m10_recovery.outbox IS
    'Transactional outbox: publish with publish_outbox, deliver with claim_outbox / complete_outbox / fail_outbox';
COMMENT ON COLUMN m10_recovery.outbox.next_retry_at IS
    'Unprocessed and unclaimed: when the event may be claimed (now, or after a retry backoff). Claimed: when the lease ends';
COMMENT ON COLUMN m10_recovery.outbox.event_id IS
    'Stable idempotency key of the event (the webhook-id header): the same on every retry and replay';

-- The one index besides the primary key, so that publishing stays one cheap insert: unprocessed
-- events by due time, claimed or not (a claim moves next_retry_at to the end of its lease).
CREATE INDEX outbox_due_idx ON m10_recovery.outbox (next_retry_at, id) WHERE processed_at IS NULL;

-- Events that will not be delivered without an operator: max attempts reached, a receiver that
-- answered 410 Gone, an event type no handler is configured for. A row keeps its outbox id and
-- event_id, so replay_outbox puts the same event back.
CREATE TABLE m10_recovery.outbox_dead_letter (
    id              bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    aggregate_type  text,
    aggregate_id    text,
    payload         jsonb       NOT NULL,
    retry_count     integer     NOT NULL,
    reason          text        NOT NULL,
    last_error      text,
    processor_id    text,
    created_at      timestamptz NOT NULL,
    dead_at         timestamptz NOT NULL
);
CREATE INDEX outbox_dead_letter_dead_at_idx ON m10_recovery.outbox_dead_letter (dead_at);

COMMENT ON TABLE m10_recovery.outbox_dead_letter IS
    'Outbox events given up on, with the reason; replay_outbox (m10 outbox replay) puts them back';

-- Named leases shared by processes on any host (the orchestrator and the standalone commands use
-- the same names, e.g. m10:outbox_processor). A row whose expires_at has passed is free to take.
CREATE TABLE m10_recovery.distributed_locks (
    lock_name    text        PRIMARY KEY,
    holder_id    text        NOT NULL,
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    extend_count integer     NOT NULL DEFAULT 0
);

COMMENT ON TABLE m10_recovery.distributed_locks IS
    'Distributed locks: acquire_lock / extend_lock / release_lock / cleanup_expired_locks';
