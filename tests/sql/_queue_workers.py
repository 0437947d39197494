"""Worker processes for tests/sql/test_queue_concurrency.py.

Each function runs in its own OS process (multiprocessing 'spawn' context), with its own
connection, and talks to the queue only through the SQL API. Every claim is written to the table
``claim_log`` in the same statement (so in the same transaction) as the claim itself: a row in the
log exists exactly when the claim committed. A completed item is deleted from the queue; a trigger
writes every deleted row to ``completion_log`` in the deleting transaction, so that log holds
exactly the committed completions, each with the worker that held the item. Keep this module
light: a spawned child imports it.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

CLAIM_LOG_DDL = """
CREATE TABLE claim_log (
    work_id          bigint      NOT NULL,
    worker           text        NOT NULL,
    attempts         integer     NOT NULL,
    lease_expires_at timestamptz NOT NULL,
    logged_at        timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""

# Test instrumentation, not part of the product: the queue functions run with
# search_path = pg_catalog, pg_temp, so the trigger names its table with the schema.
COMPLETION_LOG_DDL = """
CREATE TABLE public.completion_log (
    work_id    bigint      NOT NULL,
    worker     text,
    state      text        NOT NULL,
    attempts   integer     NOT NULL,
    claimed_at timestamptz,
    logged_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION public.log_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.completion_log (work_id, worker, state, attempts, claimed_at)
    VALUES (OLD.id, OLD.claimed_by, OLD.state, OLD.attempts, OLD.claimed_at);
    RETURN NULL;
END $$;
CREATE TRIGGER log_completion AFTER DELETE ON m10_recovery.work_queue
    FOR EACH ROW EXECUTE FUNCTION public.log_completion();
"""

# claim_work and the log row in one statement: both commit or neither does.
CLAIM_AND_LOG = """
WITH c AS (
    SELECT * FROM m10_recovery.claim_work(p_worker_id => %(worker)s, p_batch_size => %(batch)s,
                                          p_lease_seconds => %(lease)s)
)
INSERT INTO claim_log (work_id, worker, attempts, lease_expires_at)
SELECT c.work_id, %(worker)s, c.attempts, c.lease_expires_at FROM c
RETURNING work_id
"""

COMPLETE_AND_CLAIM_AND_LOG = """
WITH c AS (
    SELECT * FROM m10_recovery.complete_and_claim(
        p_worker_id => %(worker)s, p_completed_ids => %(done)s::bigint[], p_batch_size => %(batch)s,
        p_lease_seconds => %(lease)s)
)
INSERT INTO claim_log (work_id, worker, attempts, lease_expires_at)
SELECT c.work_id, %(worker)s, c.attempts, c.lease_expires_at FROM c
RETURNING work_id
"""

COMPLETE = "SELECT m10_recovery.complete_work(%s, true, NULL, %s)"

# Completed items are deleted, dead ones stay: what is left to do is pending or claimed.
UNFINISHED = "SELECT count(*) FROM m10_recovery.work_queue WHERE state IN ('pending', 'claimed')"


def _connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=autocommit, application_name="m10-test-worker")


def claim_and_log(conn: psycopg.Connection[Any], worker: str, batch: int, lease: int) -> list[int]:
    rows = conn.execute(CLAIM_AND_LOG, {"worker": worker, "batch": batch, "lease": lease}).fetchall()
    return [int(r[0]) for r in rows]


def drain(
    url: str,
    worker: str,
    mode: str,
    batch: int,
    lease: int,
    until_all_finished: bool,
    deadline_seconds: float,
    start: Any,
    results: Any,
) -> None:
    """Claim and complete items until the queue is empty (or, with ``until_all_finished``, until
    no unfinished item is left at all, waiting for leases of dead workers to run out).

    ``start`` is a barrier the test and every worker pass once connected, so they start together.
    Puts ``(worker, claimed, completed, completions_refused)`` on ``results``: every completion
    of an item this worker holds must be accepted, so ``completions_refused`` should be 0.
    """
    claimed = completed = refused = 0
    deadline = time.monotonic() + deadline_seconds
    with _connect(url) as conn:
        start.wait(30)
        done: list[int] = []
        while time.monotonic() < deadline:
            if mode == "claim_then_complete":
                ids = claim_and_log(conn, worker, batch, lease)
                for work_id in ids:
                    row = conn.execute(COMPLETE, (work_id, worker)).fetchone()
                    if row is not None and row[0] is True:
                        completed += 1
                    else:
                        refused += 1
            elif mode == "complete_and_claim":
                ids = [
                    int(r[0])
                    for r in conn.execute(
                        COMPLETE_AND_CLAIM_AND_LOG,
                        {"worker": worker, "done": done, "batch": batch, "lease": lease},
                    ).fetchall()
                ]
                completed += len(done)
                done = ids
            else:
                raise ValueError(mode)
            claimed += len(ids)
            if ids:
                continue
            if not until_all_finished:
                break
            row = conn.execute(UNFINISHED).fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.05)
    results.put((worker, claimed, completed, refused))


def claim_and_hang(
    url: str, worker: str, batch: int, lease: int, commit: bool, holding: Any, results: Any
) -> None:
    """Claim a batch (committed or inside an open transaction), report the ids, then hang until
    the test kills this process with SIGKILL. It never completes anything."""
    conn = _connect(url, autocommit=commit)
    ids = claim_and_log(conn, worker, batch, lease)
    results.put((worker, ids))
    holding.set()
    time.sleep(600)
