"""Distributed locks between real processes: mutual exclusion, expiry takeover, keep-alive, loss."""

from __future__ import annotations

import itertools
import multiprocessing
import time

import psycopg
import pytest

from m10py.client import M10Client
from m10py.locks import DistributedLock, LockNotAcquired
from tests.py import _lock_workers

SPAWN = multiprocessing.get_context("spawn")


def test_processes_contending_for_a_lock_never_overlap(fresh_db_url: str) -> None:
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.lock_log"
            " (holder text NOT NULL, entered_at timestamptz NOT NULL, left_at timestamptz)"
        )
    procs = [
        SPAWN.Process(target=_lock_workers.contend, args=(fresh_db_url, "contended", 10)) for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with psycopg.connect(fresh_db_url) as conn:
        rows = conn.execute(
            "SELECT holder, entered_at, left_at FROM public.lock_log ORDER BY entered_at"
        ).fetchall()
        left = conn.execute("SELECT count(*) FROM m10_recovery.distributed_locks").fetchone()
    assert len(rows) == 40 and len({r[0].split(":")[1] for r in rows}) == 4, "four processes"
    assert all(r[2] is not None for r in rows)
    overlaps = [(a, b) for a, b in itertools.pairwise(rows) if b[1] < a[2]]
    assert overlaps == [], "two holders were inside the critical section at once"
    assert left == (0,), "every holder released on exit"


def test_a_crashed_holders_lock_is_taken_over_after_its_ttl(client: M10Client, fresh_db_url: str) -> None:
    p = SPAWN.Process(target=_lock_workers.acquire_and_die, args=(fresh_db_url, "job", 1))
    p.start()
    p.join(60)
    assert not client.acquire_lock("job", "successor", 30), "the dead holder's lock is still live"
    with DistributedLock(client, "job", holder_id="successor", wait_seconds=10, retry_interval=0.05):
        (row,) = client.list_locks()
        assert row.holder_id == "successor"
    assert client.list_locks() == []


def test_the_context_manager_keeps_a_short_lease_alive_and_releases_on_exit(client: M10Client) -> None:
    with DistributedLock(client, "long-job", ttl_seconds=1, holder_id="worker") as lock:
        deadline = time.monotonic() + 2.5  # longer than two TTLs
        while time.monotonic() < deadline:
            assert not client.acquire_lock("long-job", "intruder", 30)
            time.sleep(0.1)
        assert not lock.lost.is_set()
        (row,) = client.list_locks()
        assert row.extend_count >= 2
    assert client.acquire_lock("long-job", "intruder", 30), "released on exit"


def test_a_lock_that_expired_and_was_taken_cannot_be_extended(client: M10Client) -> None:
    with DistributedLock(client, "fragile", ttl_seconds=1, holder_id="first") as lock:
        with client.pool.connection() as conn:  # as if the holder paused past its TTL and lost the lock
            conn.execute(
                "UPDATE m10_recovery.distributed_locks"
                " SET holder_id = 'second', expires_at = now() + interval '1 min'"
            )
        assert lock.lost.wait(5), "the refused extension is reported"
    assert [r.holder_id for r in client.list_locks()] == ["second"], (
        "exit does not release the new holder's lock"
    )


def test_waiting_too_long_raises(client: M10Client) -> None:
    assert client.acquire_lock("busy", "other", 30)
    with pytest.raises(LockNotAcquired, match="busy"), DistributedLock(client, "busy", wait_seconds=0.2):
        pass
