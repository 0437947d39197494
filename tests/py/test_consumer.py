"""WorkConsumer (claim-ahead over a libpq pipeline) against a real PostgreSQL: every item processed
and completed once, completions written, a batch claimed ahead given back, errors and dropped
connections and killed processes losing nothing."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from m10py.client import M10Client
from m10py.consumer import WorkConsumer
from m10py.errors import InvalidArgument
from tests.py import _consumer_workers as workers
from tests.sql._queue_workers import COMPLETION_LOG_DDL


@pytest.fixture
def url(fresh_db_url: str) -> str:
    """The fresh database, with every committed completion logged (with its worker) by a trigger."""
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(COMPLETION_LOG_DDL)
    return fresh_db_url


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(url, autocommit=True) as c:
        yield c


def _scalar(url: str, query: str) -> Any:
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(query).fetchone()
    assert row is not None
    return row[0]


def _completions(url: str) -> Counter[int]:
    with psycopg.connect(url, autocommit=True) as c:
        return Counter(int(r[0]) for r in c.execute("SELECT work_id FROM public.completion_log"))


def _states(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute("SELECT state, count(*) FROM m10_recovery.work_queue GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def test_one_consumer_processes_every_item_once_and_completes_them(client: M10Client, url: str) -> None:
    ids = client.enqueue_work_batch([{"n": n} for n in range(95)])
    seen: list[int] = []
    with client.consume_work("solo", 10) as consumer:
        done: list[int] = []
        while batch := consumer.next_batch(done):
            assert len(batch) <= 10
            seen.extend(item.work_id for item in batch)
            assert [item.payload["n"] for item in batch] == [ids.index(item.work_id) for item in batch]
            done = [item.work_id for item in batch]
    completions = _completions(url)
    print(f"processed {len(seen)} of {len(ids)}, completions {sum(completions.values())}")
    assert sorted(seen) == sorted(ids)
    assert completions == Counter(ids), "each item completed exactly once"
    assert _states(url) == {}, "the last batch's completions were written when the queue ran dry"


def test_consumers_in_four_processes_process_each_item_exactly_once(client: M10Client, url: str) -> None:
    ids = set(client.enqueue_work_batch([{"n": n} for n in range(1500)]))
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(5), ctx.Queue()
    names = [f"proc-{i}" for i in range(4)]
    procs = [
        ctx.Process(target=workers.consume_all, args=(url, name, 7, 300, start, results)) for name in names
    ]
    for proc in procs:
        proc.start()
    start.wait(60)
    by_worker = dict(results.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    processed = Counter(work_id for batch in by_worker.values() for work_id in batch)
    completions = _completions(url)
    with psycopg.connect(url, autocommit=True) as c:
        completed_by = dict(c.execute("SELECT work_id, worker FROM public.completion_log").fetchall())
    print(
        f"processed per worker {[len(v) for v in by_worker.values()]}, items {len(ids)}, "
        f"processed twice {sum(n > 1 for n in processed.values())}, completions {sum(completions.values())}"
    )
    assert set(processed) == ids and max(processed.values()) == 1, "every item processed exactly once"
    assert completions == Counter(ids), "every item completed exactly once"
    assert all(completed_by[w] == name for name, batch in by_worker.items() for w in batch), (
        "each item completed by the worker that processed it"
    )
    assert _states(url) == {}


@pytest.mark.parametrize("report_last", [True, False])
def test_close_completes_what_was_done_and_gives_back_the_batch_claimed_ahead(
    client: M10Client, url: str, report_last: bool
) -> None:
    ids = client.enqueue_work_batch([{"n": n} for n in range(25)])
    with client.consume_work("closer", 10) as consumer:
        first = consumer.next_batch()
        second = consumer.next_batch([item.work_id for item in first])  # the third is claimed ahead
        consumer.close([item.work_id for item in second] if report_last else [])
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute(
            "SELECT id, state, attempts, claimed_by FROM m10_recovery.work_queue ORDER BY id"
        ).fetchall()
    left = Counter((r[1], r[2]) for r in rows)
    print(f"after close: completed {sum(_completions(url).values())}, left {left}")
    finished = first + second if report_last else first
    assert _completions(url) == Counter(item.work_id for item in finished)
    assert [r[0] for r in rows if r[1] == "claimed"] == ([] if report_last else [i.work_id for i in second])
    assert [r for r in rows if r[1] == "pending"] == [(i, "pending", 0, None) for i in ids[20:]], (
        "the batch claimed ahead is pending again, its claim not counted"
    )


def test_an_empty_queue_claims_nothing_ahead_and_leaves_the_connection_usable(
    client: M10Client, conn: psycopg.Connection[Any], url: str
) -> None:
    consumer = WorkConsumer(conn, "idle", 5)
    assert consumer.next_batch() == []
    assert conn.execute("SELECT 41 + 1").fetchone() == (42,), "out of pipeline mode while idle"
    ids = client.enqueue_work_batch([{}] * 3)
    batch = consumer.next_batch()
    assert [item.work_id for item in batch] == ids
    assert consumer.next_batch([item.work_id for item in batch]) == []
    assert _states(url) == {} and _completions(url) == Counter(ids)
    prepared = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'm10_consumer_%'"
    assert conn.execute(prepared).fetchone() == (1,), "the claim is prepared once per consumer"
    consumer.close()
    assert conn.execute(prepared).fetchone() == (0,), "and deallocated when it closes"


def test_server_errors_are_raised_and_the_connection_recovers(
    client: M10Client, conn: psycopg.Connection[Any], url: str
) -> None:
    client.enqueue_work_batch([{}] * 4)
    with pytest.raises(InvalidArgument, match="unknown work method 'no_such_method'"):
        WorkConsumer(conn, "w", 2, method="no_such_method").next_batch()
    with pytest.raises(InvalidArgument, match="p_lease_seconds must be between 1 and 86400"):
        WorkConsumer(conn, "w", 2, lease_seconds=0).next_batch()
    assert conn.execute("SELECT 1").fetchone() == (1,)
    assert _states(url) == {"pending": 4}, "the refused requests changed nothing"
    with WorkConsumer(conn, "w", 2) as consumer:
        assert len(consumer.next_batch()) == 2


def test_a_request_that_fails_midway_keeps_its_completions_for_the_next(
    client: M10Client, conn: psycopg.Connection[Any], url: str
) -> None:
    ids = client.enqueue_work_batch([{"n": n} for n in range(20)])
    conn.execute("SET lock_timeout = '100ms'")
    consumer = WorkConsumer(conn, "w", 5)
    processed = [item.work_id for item in consumer.next_batch()]
    time.sleep(0.2)  # the second batch's claim, sent ahead, is done
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE m10_recovery.work_queue IN ACCESS EXCLUSIVE MODE")
        second = consumer.next_batch(processed)  # arrives; the request sent now (completing the first) waits
        processed += [item.work_id for item in second]
        with pytest.raises(psycopg.errors.LockNotAvailable):
            consumer.next_batch([item.work_id for item in second])
    # The lock is gone: the first two batches' completions go out with the next request.
    done: list[int] = []
    while batch := consumer.next_batch(done):
        processed += [item.work_id for item in batch]
        done = [item.work_id for item in batch]
    consumer.close()
    completions = _completions(url)
    print(
        f"processed {len(processed)} ({len(set(processed))} distinct), "
        f"completions {sum(completions.values())}"
    )
    assert sorted(processed) == sorted(ids), "nothing processed twice, nothing skipped"
    assert completions == Counter(ids)
    assert _states(url) == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"batch_size": -3}, "batch_size must be at least 1, got -3"),
        ({"worker_id": "w\x00x"}, "cannot contain NUL"),
        ({"method": "evaluate\x00"}, "cannot contain NUL"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    conn: psycopg.Connection[Any], kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"worker_id": "w", "batch_size": 5, **kwargs}
    with pytest.raises(InvalidArgument, match=message):
        WorkConsumer(conn, args.pop("worker_id"), args.pop("batch_size"), **args)


def test_a_connection_inside_a_transaction_is_refused(url: str) -> None:
    with psycopg.connect(url) as c:
        c.execute("SELECT 1")
        with pytest.raises(InvalidArgument, match="outside a transaction"):
            WorkConsumer(c, "w", 5)


def test_a_terminated_connection_raises_and_its_items_come_back_after_the_lease(
    client: M10Client, url: str
) -> None:
    ids = client.enqueue_work_batch([{"n": n} for n in range(30)])
    victim = psycopg.connect(url, autocommit=True)
    consumer = WorkConsumer(victim, "victim", 5, lease_seconds=1)
    first = consumer.next_batch()
    second = consumer.next_batch([item.work_id for item in first])
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
    # A result already on its way may still arrive; the call after it must fail.
    done = [item.work_id for item in second]
    with pytest.raises(psycopg.OperationalError):
        for _ in range(3):
            done = [item.work_id for item in consumer.next_batch(done)]
    victim.close()
    time.sleep(1.2)  # the victim's leases run out
    processed: list[int] = []
    with client.consume_work("rescuer", 7) as rescuer:
        done = []
        while batch := rescuer.next_batch(done):
            processed.extend(item.work_id for item in batch)
            done = [item.work_id for item in batch]
    completions = _completions(url)
    with psycopg.connect(url, autocommit=True) as c:
        by_victim = {
            r[0] for r in c.execute("SELECT work_id FROM public.completion_log WHERE worker = 'victim'")
        }
    print(f"victim completed {len(by_victim)}, rescuer processed {len(processed)}")
    assert {item.work_id for item in first} <= by_victim
    assert completions == Counter(ids), "every item completed exactly once"
    assert sorted(processed) == sorted(set(ids) - by_victim), "the rescuer did the rest, once each"
    assert _states(url) == {}


def test_a_killed_consumer_process_loses_nothing(client: M10Client, url: str) -> None:
    ids = client.enqueue_work_batch([{"n": n} for n in range(40)])
    ctx = mp.get_context("spawn")
    holding = ctx.Queue()
    proc = ctx.Process(target=workers.consume_then_hang, args=(url, "doomed", 8, 2, holding))
    proc.start()
    first, second = holding.get(timeout=60)
    # Kill only once the request in flight (completing the first batch, claiming the third) committed.
    deadline = time.monotonic() + 30
    while sum(_completions(url).values()) < len(first) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    held = _scalar(url, "SELECT count(*) FROM m10_recovery.work_queue WHERE claimed_by = 'doomed'")
    time.sleep(2.2)
    processed: list[int] = []
    with client.consume_work("heir", 10) as heir:
        done: list[int] = []
        while batch := heir.next_batch(done):
            processed.extend(item.work_id for item in batch)
            done = [item.work_id for item in batch]
    completions = _completions(url)
    print(f"killed holding {held} (second batch + one claimed ahead); heir processed {len(processed)}")
    assert held == 16, "the second batch and the third, claimed ahead"
    assert completions == Counter(ids), "every item completed exactly once"
    assert set(processed) == set(ids) - set(first), "the first batch's completion had committed"
    assert set(second) <= set(processed), "the batch the killed process held came back"
    assert _states(url) == {}
