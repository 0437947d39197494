"""The work queue under real concurrency: OS processes and connections against one database.

Only SQL goes through psycopg here; the worker loops are in tests/sql/_queue_workers.py and run in
processes of the 'spawn' context (no connection is inherited across a fork). Every claim is logged
in ``claim_log`` in the same statement as the claim, so the log holds exactly the committed claims.
A completed item is deleted; a test trigger logs every deleted row in ``completion_log`` in the same
transaction, with the worker that held it, so that log holds exactly the committed completions.
Leases are real time, kept to a few seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import psycopg
import pytest

from tests.sql import _queue_workers as workers

SPAWN = multiprocessing.get_context("spawn")


def _connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=autocommit)


def _setup(url: str, items: int) -> list[int]:
    """Create claim_log and completion_log and enqueue ``items`` items with payload {"n": i};
    return their ids."""
    with _connect(url) as conn:
        conn.execute(workers.CLAIM_LOG_DDL)  # type: ignore[arg-type]
        conn.execute(workers.COMPLETION_LOG_DDL)  # type: ignore[arg-type]
        rows = conn.execute(
            "SELECT id FROM m10_recovery.enqueue_work_batch("
            "  (SELECT array_agg(jsonb_build_object('n', g) ORDER BY g) FROM generate_series(1, %s) g))"
            " AS id",
            (items,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def _completions(conn: psycopg.Connection[Any]) -> dict[int, list[tuple[str, str, int]]]:
    """work_id -> [(worker, state, attempts)] of every committed deletion of that item."""
    per_item: dict[int, list[tuple[str, str, int]]] = {}
    for work_id, worker, state, attempts in conn.execute(
        "SELECT work_id, worker, state, attempts FROM completion_log ORDER BY logged_at"
    ):
        per_item.setdefault(work_id, []).append((worker, state, attempts))
    return per_item


def _queue_size(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM m10_recovery.work_queue").fetchone()
    assert row is not None
    return int(row[0])


def _repeat_completions_accepted(conn: psycopg.Connection[Any], ids: list[int]) -> int:
    """Complete every id again, by no worker in particular; return how many were accepted (0 is right)."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE m10_recovery.complete_work(i, true)) FROM unnest(%s::bigint[]) i",
        (ids,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _collect(results: Any, count: int, timeout: float) -> list[tuple[Any, ...]]:
    return [results.get(timeout=timeout) for _ in range(count)]


def _run_workers(
    url: str,
    names: list[str],
    *,
    mode: str,
    batch: int,
    lease: int,
    until_all_finished: bool,
    deadline: float = 20.0,
) -> dict[str, tuple[int, int, int]]:
    """Start one process per name, release them together once all are connected, wait for them;
    return name -> (claimed, completed, completions refused)."""
    start = SPAWN.Barrier(len(names) + 1)
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=workers.drain,
            args=(url, name, mode, batch, lease, until_all_finished, deadline, start, results),
            daemon=True,
        )
        for name in names
    ]
    for p in procs:
        p.start()
    try:
        start.wait(timeout=60)
        collected = _collect(results, len(procs), timeout=deadline + 30)
        for p in procs:
            p.join(timeout=10)
            assert p.exitcode == 0, f"worker {p.name} exited with {p.exitcode}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    return {name: (claimed, completed, refused) for name, claimed, completed, refused in collected}


@pytest.mark.parametrize("mode", ["claim_then_complete", "complete_and_claim"])
def test_workers_drain_every_item_exactly_once(fresh_db_url: str, mode: str) -> None:
    items = 2000
    ids = _setup(fresh_db_url, items)
    names = [f"worker_{i}" for i in range(4)]

    stats = _run_workers(fresh_db_url, names, mode=mode, batch=20, lease=300, until_all_finished=False)

    assert sum(s[0] for s in stats.values()) == items, stats
    assert sum(s[1] for s in stats.values()) == items, stats
    assert all(s[2] == 0 for s in stats.values()), f"a worker's own completion was refused: {stats}"
    assert sum(1 for s in stats.values() if s[0] > 0) >= 2, f"no real contention: {stats}"

    with _connect(fresh_db_url) as conn:
        log = conn.execute("SELECT work_id, worker, attempts FROM claim_log").fetchall()
        claims = Counter(work_id for work_id, _, _ in log)
        assert set(claims) == set(ids), "every enqueued item was claimed, and only those"
        doubles = {k: v for k, v in claims.items() if v != 1}
        assert not doubles, f"items claimed more than once: {doubles}"
        assert {a for _, _, a in log} == {1}

        owner = {work_id: worker for work_id, worker, _ in log}
        assert _queue_size(conn) == 0, "every completed item was deleted"
        completions = _completions(conn)
        assert set(completions) == set(ids), "every enqueued item was completed, and only those"
        for work_id, done in completions.items():
            assert done == [(owner[work_id], "claimed", 1)], (work_id, done, owner[work_id])
        per_worker = Counter(owner.values())
        completed_by = Counter(worker for done in completions.values() for worker, _, _ in done)
        for name, (claimed, completed, _) in stats.items():
            assert per_worker[name] == claimed == completed == completed_by[name], name

        assert _repeat_completions_accepted(conn, ids) == 0, "a completed item cannot be completed again"
        assert conn.execute("SELECT count(*) FROM completion_log").fetchone() == (items,)


def test_sigkilled_worker_items_come_back_after_the_lease(fresh_db_url: str) -> None:
    items, held, lease = 200, 50, 3
    ids = _setup(fresh_db_url, items)

    holding, results = SPAWN.Event(), SPAWN.Queue()
    victim = SPAWN.Process(
        target=workers.claim_and_hang,
        args=(fresh_db_url, "victim", held, lease, True, holding, results),
        daemon=True,
    )
    victim.start()
    try:
        assert holding.wait(30), "the victim never claimed its batch"
        _, victim_ids = results.get(timeout=10)
        # Killed mid-batch: it holds its items and never completes any of them.
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
    finally:
        if victim.is_alive():
            victim.kill()
    assert victim.exitcode == -signal.SIGKILL
    assert len(victim_ids) == held

    with _connect(fresh_db_url, autocommit=False) as conn:
        # Inside the lease: the victim's items are claimed by it and nobody else can take them.
        in_lease = conn.execute(
            "SELECT now() < min(lease_expires_at) FROM claim_log WHERE worker = 'victim'"
        ).fetchone()
        assert in_lease == (True,), "the test was too slow to probe inside the lease"
        states = conn.execute(
            "SELECT state, claimed_by, attempts, count(*) FROM m10_recovery.work_queue"
            " WHERE id = ANY(%s) GROUP BY 1, 2, 3",
            (victim_ids,),
        ).fetchall()
        assert states == [("claimed", "victim", 1, held)]
        probe = [
            int(r[0]) for r in conn.execute("SELECT work_id FROM m10_recovery.claim_work('probe', 10000, 60)")
        ]
        assert not set(probe) & set(victim_ids), "an item was handed out during its lease"
        assert sorted(probe) == sorted(set(ids) - set(victim_ids))
        conn.rollback()  # the probe claims nothing for real

    survivors = ["survivor_0", "survivor_1", "survivor_2"]
    stats = _run_workers(
        fresh_db_url,
        survivors,
        mode="claim_then_complete",
        batch=20,
        lease=30,
        until_all_finished=True,
        deadline=20,
    )
    assert sum(s[1] for s in stats.values()) == items, stats
    assert all(s[2] == 0 for s in stats.values()), stats

    with _connect(fresh_db_url) as conn:
        _check_every_item_finished_once_by_a_survivor(conn, ids, victim_ids, survivors, stats)


def _check_every_item_finished_once_by_a_survivor(
    conn: psycopg.Connection[Any],
    ids: list[int],
    victim_ids: list[int],
    survivors: list[str],
    stats: dict[str, tuple[int, int, int]],
) -> None:
    """The victim's items were claimed twice (victim, then a survivor after the lease), the others
    once; each was completed exactly once, by the survivor holding it, and the queue is empty."""
    log = conn.execute("SELECT work_id, worker, attempts FROM claim_log ORDER BY logged_at").fetchall()
    per_item: dict[int, list[tuple[str, int]]] = {}
    for work_id, worker, attempts in log:
        per_item.setdefault(work_id, []).append((worker, attempts))
    assert set(per_item) == set(ids)
    for work_id, claims in per_item.items():
        if work_id in victim_ids:
            assert len(claims) == 2, (work_id, claims)
            assert claims[0] == ("victim", 1)
            assert claims[1][0] in survivors and claims[1][1] == 2, (work_id, claims)
        else:
            assert len(claims) == 1 and claims[0][0] in survivors and claims[0][1] == 1

    assert _queue_size(conn) == 0, "every item was completed, the victim's included"
    completions = _completions(conn)
    assert set(completions) == set(ids)
    for work_id, done in completions.items():
        assert len(done) == 1, (work_id, done)
        worker, state, attempts = done[0]
        assert state == "claimed" and worker == per_item[work_id][-1][0], (work_id, done)
        assert worker in survivors, (work_id, done)
        assert attempts == (2 if work_id in victim_ids else 1), (work_id, done)
    reclaimed = conn.execute(
        "SELECT c.work_id, c.claimed_at >= l.lease_expires_at"
        "  FROM completion_log c JOIN claim_log l ON l.work_id = c.work_id AND l.worker = 'victim'"
    ).fetchall()
    assert sorted(w for w, _ in reclaimed) == sorted(victim_ids)
    early = [w for w, after_lease in reclaimed if after_lease is not True]
    assert early == [], f"items reclaimed before the victim's lease ended: {early}"
    completed = Counter(done[0][0] for done in completions.values())
    for name, (_, completed_count, _) in stats.items():
        assert completed[name] == completed_count, name
    assert _repeat_completions_accepted(conn, ids) == 0


def test_sigkilled_worker_with_an_uncommitted_claim_loses_nothing(fresh_db_url: str) -> None:
    """A worker killed inside its claim transaction never claimed anything: PostgreSQL rolls the
    claim back when the connection drops, so the items are free at once (no lease to wait for)."""
    ids = _setup(fresh_db_url, 30)
    holding, results = SPAWN.Event(), SPAWN.Queue()
    victim = SPAWN.Process(
        target=workers.claim_and_hang,
        args=(fresh_db_url, "victim", 10, 300, False, holding, results),
        daemon=True,
    )
    victim.start()
    try:
        assert holding.wait(30)
        _, victim_ids = results.get(timeout=10)
        assert len(victim_ids) == 10
        with _connect(fresh_db_url, autocommit=False) as conn:
            # While it lives, its locked rows are skipped, not waited for.
            conn.execute("SET LOCAL lock_timeout = '200ms'")
            probe = [r[0] for r in conn.execute("SELECT work_id FROM m10_recovery.claim_work('p', 100)")]
            assert sorted(probe) == sorted(set(ids) - set(victim_ids))
            conn.rollback()
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
    finally:
        if victim.is_alive():
            victim.kill()
    assert victim.exitcode == -signal.SIGKILL

    with _connect(fresh_db_url) as conn:
        deadline = time.monotonic() + 10
        while True:  # the server notices the closed socket right away; allow it a moment
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'm10-test-worker'"
                " AND datname = current_database()"
            ).fetchone()
            if row == (0,) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert row == (0,), "the killed worker's backend is still there"
        claimed = {
            r[0]: r[1]
            for r in conn.execute("SELECT work_id, attempts FROM m10_recovery.claim_work('next', 100)")
        }
        assert set(claimed) == set(ids)
        assert set(claimed.values()) == {1}, "the rolled-back claim must not count as an attempt"
        assert conn.execute("SELECT count(*) FROM claim_log WHERE worker = 'victim'").fetchone() == (0,)


def test_open_claim_transactions_do_not_block_other_claimers(fresh_db_url: str) -> None:
    ids = _setup(fresh_db_url, 40)
    holders = [_connect(fresh_db_url, autocommit=False) for _ in range(4)]
    outsider = _connect(fresh_db_url)
    try:
        held: list[set[int]] = []
        for i, conn in enumerate(holders):
            # Any lock wait longer than 100 ms would raise LockNotAvailable instead of waiting.
            conn.execute("SET lock_timeout = '100ms'")
            conn.execute("SET statement_timeout = '2s'")
            t0 = time.monotonic()
            got = {
                r[0] for r in conn.execute("SELECT work_id FROM m10_recovery.claim_work(%s, 5)", (f"h{i}",))
            }
            assert time.monotonic() - t0 < 0.5
            assert len(got) == 5, f"holder {i} got {got} while others held open claims"
            held.append(got)
        all_held = set().union(*held)
        assert len(all_held) == 20, "two open claim transactions got the same item"

        outsider.execute("SET lock_timeout = '100ms'")
        outsider.execute("SET statement_timeout = '2s'")
        t0 = time.monotonic()
        rest = {r[0] for r in outsider.execute("SELECT work_id FROM m10_recovery.claim_work('out', 100)")}
        assert time.monotonic() - t0 < 0.5
        assert rest == set(ids) - all_held
        stats = outsider.execute(
            "SELECT ready, claimed FROM m10_recovery.queue_stats() WHERE method = 'evaluate'"
        ).fetchone()
        # Without waiting: uncommitted claims still count as ready, the committed ones as claimed.
        assert stats == (20, 20)

        # The timeouts are real: touching a held row does wait, and gives up after 100 ms.
        victim = min(held[1])
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            outsider.execute("SELECT m10_recovery.complete_work(%s, true)", (victim,))
        assert time.monotonic() - t0 < 1.5

        holders[0].rollback()
        for conn in holders[1:]:
            conn.commit()
        rows = dict(
            outsider.execute(
                "SELECT id, state || ':' || attempts || ':' || coalesce(claimed_by, '-')"
                "  FROM m10_recovery.work_queue"
            ).fetchall()
        )
        for work_id in held[0]:
            assert rows[work_id] == "pending:0:-", "a rolled-back claim left a trace"
        for i, got in enumerate(held[1:], start=1):
            for work_id in got:
                assert rows[work_id] == f"claimed:1:h{i}"
        for work_id in rest:
            assert rows[work_id] == "claimed:1:out"
    finally:
        for conn in (*holders, outsider):
            conn.close()


def _wait_until_waiting_on_lock(observer: psycopg.Connection[Any], pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        row = observer.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        if row == ("Lock",):
            return
        time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited on the row lock")


def test_release_first_then_stale_completion_returns_false(fresh_db_url: str) -> None:
    (work_id,) = _setup(fresh_db_url, 1)
    with _connect(fresh_db_url) as conn:
        conn.execute("SELECT count(*) FROM m10_recovery.claim_work('slow', 1)")

    operator = _connect(fresh_db_url, autocommit=False)
    worker = _connect(fresh_db_url)
    try:
        released = operator.execute("SELECT m10_recovery.release_stalled_work(0)").fetchone()
        assert released == (1,)
        (worker_pid,) = worker.execute("SELECT pg_backend_pid()").fetchone()  # type: ignore[misc]

        outcome: list[Any] = []

        def complete() -> None:
            try:
                row = worker.execute(
                    "SELECT m10_recovery.complete_work(%s, true, NULL, 'slow')", (work_id,)
                ).fetchone()
                outcome.append(row)
            except Exception as exc:  # reported by the assertion below
                outcome.append(exc)

        thread = threading.Thread(target=complete)
        thread.start()
        with _connect(fresh_db_url) as observer:
            _wait_until_waiting_on_lock(observer, worker_pid)  # the race is real: it waits
        operator.commit()
        thread.join(timeout=10)
        assert outcome == [(False,)], "the stale completion must be refused"

        row = worker.execute(
            "SELECT state, attempts, claimed_by, error_message FROM m10_recovery.work_queue"
        ).fetchone()
        assert row == ("pending", 1, None, "released after stalling on attempt 1 of 5 (worker slow)")
        again = worker.execute("SELECT attempts FROM m10_recovery.claim_work('fast', 1)").fetchall()
        assert again == [(2,)]
        assert worker.execute(
            "SELECT m10_recovery.complete_work(%s, true, NULL, 'slow')", (work_id,)
        ).fetchone() == (False,)
        assert worker.execute(
            "SELECT m10_recovery.complete_work(%s, true, NULL, 'fast')", (work_id,)
        ).fetchone() == (True,)
        assert _queue_size(worker) == 0, "completed and deleted"
        assert _completions(worker) == {work_id: [("fast", "claimed", 2)]}
        for name in ("slow", "fast"):
            assert worker.execute(
                "SELECT m10_recovery.complete_work(%s, true, NULL, %s)", (work_id, name)
            ).fetchone() == (False,), f"a repeated completion by {name} is a no-op"
        assert len(_completions(worker)[work_id]) == 1
    finally:
        operator.close()
        worker.close()


def test_completion_first_then_release_skips_the_item(fresh_db_url: str) -> None:
    (work_id,) = _setup(fresh_db_url, 1)
    with _connect(fresh_db_url) as conn:
        conn.execute("SELECT count(*) FROM m10_recovery.claim_work('slow', 1)")

    worker = _connect(fresh_db_url, autocommit=False)
    operator = _connect(fresh_db_url)
    try:
        assert worker.execute(
            "SELECT m10_recovery.complete_work(%s, true, NULL, 'slow')", (work_id,)
        ).fetchone() == (True,)
        operator.execute("SET lock_timeout = '100ms'")
        t0 = time.monotonic()
        assert operator.execute("SELECT m10_recovery.release_stalled_work(0)").fetchone() == (0,)
        assert time.monotonic() - t0 < 0.5, "release waited for the completing worker"
        assert operator.execute(
            "SELECT state, attempts, claimed_by FROM m10_recovery.work_queue"
        ).fetchone() == ("claimed", 1, "slow"), "the delete is not visible before it commits"
        assert _completions(operator) == {}
        worker.commit()
        assert operator.execute("SELECT m10_recovery.release_stalled_work(0)").fetchone() == (0,)
        assert _queue_size(operator) == 0, "the completed item is deleted, not released"
        assert _completions(operator) == {work_id: [("slow", "claimed", 1)]}
        assert operator.execute(
            "SELECT m10_recovery.complete_work(%s, true, NULL, 'slow')", (work_id,)
        ).fetchone() == (False,)
    finally:
        worker.close()
        operator.close()


def test_release_racing_many_completions_each_item_has_one_outcome(fresh_db_url: str) -> None:
    items = 600
    ids = _setup(fresh_db_url, items)
    with _connect(fresh_db_url) as conn:
        claimed = [r[0] for r in conn.execute("SELECT work_id FROM m10_recovery.claim_work('slow', 1000)")]
    assert len(claimed) == items

    results: dict[int, bool] = {}
    released: list[int] = []
    errors: list[BaseException] = []
    progress = threading.Event()

    def complete_all() -> None:
        try:
            with _connect(fresh_db_url) as conn:
                for n, work_id in enumerate(claimed):
                    row = conn.execute(
                        "SELECT m10_recovery.complete_work(%s, true, NULL, 'slow')", (work_id,)
                    ).fetchone()
                    assert row is not None
                    results[work_id] = row[0]
                    if n == items // 4:
                        progress.set()
        except BaseException as exc:
            errors.append(exc)
            progress.set()

    def release() -> None:
        try:
            progress.wait(10)
            with _connect(fresh_db_url) as conn:
                row = conn.execute("SELECT m10_recovery.release_stalled_work(0)").fetchone()
                assert row is not None
                released.append(row[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=complete_all), threading.Thread(target=release)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(results) == items and len(released) == 1

    with _connect(fresh_db_url) as conn:
        final = dict(
            conn.execute(
                "SELECT id, state || ':' || attempts || ':' || coalesce(claimed_by, '-')"
                "  FROM m10_recovery.work_queue"
            ).fetchall()
        )
        completions = _completions(conn)
    accepted = {w for w, ok in results.items() if ok}
    refused = {w for w, ok in results.items() if not ok}
    assert accepted | refused == set(ids)
    assert not accepted & set(final), "an accepted completion left its item in the queue"
    assert set(completions) == accepted, "the deleted items are exactly the accepted completions"
    assert all(done == [("slow", "claimed", 1)] for done in completions.values()), completions
    for work_id in refused:
        assert final[work_id] == "pending:1:-", work_id
    assert set(final) == refused
    assert len(refused) == released[0], "every released item, and only those, refused the completion"
    assert accepted and refused, f"no race happened: {len(accepted)} completed, {len(refused)} released"
