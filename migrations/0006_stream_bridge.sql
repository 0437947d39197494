-- The Redis stream bridge: dead-letter replays are recorded in PostgreSQL, the source of truth.
-- depends: 0005_lean_ingest_path
--
-- A replay re-adds a dead-lettered stream entry (named by its id in the dead-letter stream) to the
-- evaluation stream. One row per replayed entry, written only after the re-add succeeded; the primary
-- key makes a second replay of the same entry a no-op.
CREATE TABLE m10_recovery.stream_replays (
    dead_letter_id text        PRIMARY KEY CHECK (dead_letter_id ~ '^[0-9]+-[0-9]+$'),
    work_id        bigint      NOT NULL,
    stream_id      text        NOT NULL CHECK (stream_id ~ '^[0-9]+-[0-9]+$'),
    replayed_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE m10_recovery.stream_replays IS
    'Dead-letter stream entries replayed to the evaluation stream: written after the re-add succeeded, once per entry';
