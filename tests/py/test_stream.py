"""The Redis stream bridge against real Redis and PostgreSQL: dispatch, exactly-once evaluation,
dead letters and replay, a SIGKILLed worker, Redis killed / flushed / trimmed, Sentinel failover.

Stream keys carry a uuid (tests share the machine's Redis); scenarios that kill or flush Redis start
a redis-server of their own. Each test prints the counts it checked (pytest -s shows them).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from m10py.cli import app
from m10py.client import M10Client
from m10py.config import StreamSettings
from m10py.errors import InvalidArgument, NotFound
from m10py.models import IngestResult
from m10py.redis_conn import parse_sentinel_url, redis_client
from m10py.stream import StreamAdmin, StreamPublisher, ensure_group
from m10py.stream_worker import StreamWorker
from tests.py._stream_support import (
    REDIS_SERVER,
    CuttingProxy,
    RedisProcess,
    free_port,
    wait_until,
    worker_process,
)

needs_redis_server = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


@pytest.fixture
def settings() -> StreamSettings:
    tag = uuid.uuid4().hex[:12]
    return StreamSettings(
        stream_key=f"m10test:{tag}:stream",
        group=f"m10test:{tag}:group",
        dead_letter_stream=f"m10test:{tag}:dead",
        claim_idle_ms=300,
        max_reclaim_attempts=3,
        grace_ms=1500,
        timeout_ms=250,
    )


@pytest.fixture
def shared_redis(redis_url: str, settings: StreamSettings) -> Iterator[redis.Redis]:
    r = redis_client(redis_url, timeout=5)
    yield r
    r.delete(settings.stream_key, settings.dead_letter_stream)


@pytest.fixture
def poison(client: M10Client) -> None:
    """Evaluations of candidates listed in public.poisoned fail (a bug); public.slow slows each one."""
    with client.pool.connection() as conn:
        conn.execute(
            """
            CREATE TABLE public.poisoned (candidate_id bigint PRIMARY KEY);
            CREATE TABLE public.slow (seconds double precision NOT NULL);
            CREATE FUNCTION public.poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.event = 'evaluated' THEN
                    PERFORM pg_sleep(coalesce((SELECT max(seconds) FROM public.slow), 0));
                    IF EXISTS (SELECT 1 FROM public.poisoned p WHERE p.candidate_id = NEW.candidate_id) THEN
                        RAISE EXCEPTION 'poisoned candidate %', NEW.candidate_id;
                    END IF;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER poison BEFORE INSERT ON m10_recovery.suggestion_provenance
                FOR EACH ROW EXECUTE FUNCTION public.poison();
            """
        )


def sql(client: M10Client, query: str, *params: Any) -> Any:
    with client.pool.connection() as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


def ingest(client: M10Client, n: int, *, flush: bool = True) -> list[IngestResult]:
    """n failures of n distinct candidates, each with a new work item; with flush, XADDed on return."""
    results = [
        client.ingest_failure(uuid.uuid4(), {"error_type": f"E{i}_{uuid.uuid4().hex[:6]}", "message": "x"})
        for i in range(n)
    ]
    assert all(r.work_id is not None for r in results)
    if flush and client.stream is not None:
        assert client.stream.flush(10)
    return results


def evaluations(client: M10Client) -> int:
    return int(
        sql(client, "SELECT count(*) FROM m10_recovery.suggestion_provenance WHERE event = 'evaluated'")
    )


def evaluated_twice(client: M10Client) -> int:
    return int(
        sql(
            client,
            """SELECT count(*) FROM (SELECT candidate_id FROM m10_recovery.suggestion_provenance
                WHERE event = 'evaluated' GROUP BY candidate_id HAVING count(*) > 1) d""",
        )
    )


def queued(client: M10Client) -> int:
    return int(sql(client, "SELECT count(*) FROM m10_recovery.work_queue"))


class Running:
    """A StreamWorker on a thread, stopped like SIGTERM stops `m10 worker`."""

    def __init__(self, worker: StreamWorker) -> None:
        self.worker = worker
        self.stop = threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def drained(client: M10Client, expected: int, timeout: float = 30) -> None:
    wait_until(
        lambda: queued(client) == 0 and evaluations(client) >= expected, timeout, "the backlog to drain"
    )


# --- dispatch ------------------------------------------------------------------------------------


def test_ingest_dispatches_and_two_workers_evaluate_each_item_once(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings
) -> None:
    client.stream = StreamPublisher(shared_redis, settings)
    results = ingest(client, 40)
    assert shared_redis.xlen(settings.stream_key) == 40
    workers = [
        Running(StreamWorker(client, shared_redis, settings, batch_size=7, block_ms=50)) for _ in range(2)
    ]
    try:
        drained(client, 40)
    finally:
        for w in workers:
            w.close()
    stats = [w.worker.stats for w in workers]
    print(
        f"ingested {len(results)}, evaluated {evaluations(client)} "
        f"({[s.evaluated for s in stats]} per worker)"
    )
    assert evaluations(client) == 40 and evaluated_twice(client) == 0
    assert sum(s.acknowledged for s in stats) == 40
    assert shared_redis.xpending(settings.stream_key, settings.group)["pending"] == 0
    # Clean shutdown leaves no consumer behind (names are per process).
    assert shared_redis.xinfo_groups(settings.stream_key)[0]["consumers"] == 0


def test_a_write_of_several_items_reaches_one_blocked_consumer_whole(
    shared_redis: redis.Redis, settings: StreamSettings
) -> None:
    """The publisher's write is one MULTI/EXEC: Redis then serves one blocked XREADGROUP with all of
    it (a plain pipeline wakes one consumer per XADD, each with a batch of one)."""
    ensure_group(shared_redis, settings)
    got: dict[str, int] = {}

    def consume(name: str) -> None:
        reply = shared_redis.xreadgroup(
            settings.group, name, {settings.stream_key: ">"}, count=10, block=5000
        )
        got[name] = sum(len(entries) for _, entries in reply or [])

    readers = [threading.Thread(target=consume, args=(f"reader-{i}",)) for i in range(3)]
    for reader in readers:
        reader.start()
    wait_until(lambda: int(shared_redis.info("clients")["blocked_clients"]) >= 3, 10, "three blocked readers")
    publisher = StreamPublisher(shared_redis, settings)
    publisher.publish([(work_id, None) for work_id in range(1, 9)])  # idle: one write at once
    assert publisher.flush(10)
    shared_redis.xadd(settings.stream_key, {"wake": "the others"})
    shared_redis.xadd(settings.stream_key, {"wake": "the others"})
    for reader in readers:
        reader.join(10)
    print(f"entries per blocked reader: {sorted(got.values())}, published {publisher.published}")
    assert publisher.published == 8 and sorted(got.values()) == [1, 1, 8]


def test_a_busy_worker_lingers_to_fill_its_batch_an_idle_one_does_not(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings
) -> None:
    # A long linger against long reclaim and sweep times: nothing but the linger shapes the batches.
    lingering = dataclasses.replace(settings, linger_ms=600, claim_idle_ms=10000, grace_ms=60000)
    results = ingest(client, 5)  # no publisher: the test XADDs each item when it chooses
    batches: list[list[int]] = []
    run = Running(
        StreamWorker(client, shared_redis, lingering, batch_size=10, block_ms=2000, on_claim=batches.append)
    )
    publisher = StreamPublisher(shared_redis, settings)  # its own linger would hold the later writes

    def add(*indexes: int) -> None:
        for i in indexes:
            publisher.publish([(results[i].work_id, results[i].candidate_id)])  # type: ignore[list-item]
            assert publisher.flush(5)

    def dispatched_in(index: int) -> float:
        """Seconds from the XADD of one item to the start of its batch's evaluation."""
        start = time.monotonic()
        add(index)
        wait_until(lambda: len(batches) == index + 1, 10, f"batch {index + 1}")
        return time.monotonic() - start

    try:
        wait_until(
            lambda: int(shared_redis.info("clients")["blocked_clients"]) >= 1, 10, "the worker to block"
        )
        time.sleep(0.8)
        idle_waits = [dispatched_in(0)]  # waited longer than the linger: idle, so it goes at once
        time.sleep(0.8)
        idle_waits.append(dispatched_in(1))
        # Back in its blocking read well within the linger of its last batch: busy, so the next item
        # waits up to the linger for company instead of going alone.
        wait_until(lambda: int(shared_redis.info("clients")["blocked_clients"]) >= 1, 10, "it to block")
        add(2)
        time.sleep(0.1)
        add(3, 4)
        drained(client, 5)
    finally:
        run.close()
    ids = [r.work_id for r in results]
    print(f"batches: {batches} (work ids {ids}); idle dispatch in {[round(w, 3) for w in idle_waits]} s")
    assert batches == [[ids[0]], [ids[1]], sorted(ids[2:])]  # type: ignore[type-var]
    assert max(idle_waits) < 0.3, "an idle worker does not wait out the 0.6 s linger"


def test_consumer_first_finishes_its_own_pending_entries(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings
) -> None:
    client.stream = StreamPublisher(shared_redis, settings)
    ingest(client, 5)
    # A previous life of consumer "fixed" read the entries and died before evaluating them.
    shared_redis.xreadgroup(settings.group, "fixed", {settings.stream_key: ">"}, count=5)
    worker = StreamWorker(
        client, shared_redis, dataclasses.replace(settings, claim_idle_ms=3_600_000), consumer="fixed"
    )
    worker.run(threading.Event(), once=True)
    print(f"pending entries of the consumer finished on restart: {worker.stats.acknowledged}")
    assert worker.stats.acknowledged == 5 and worker.stats.reclaimed == 0
    assert evaluations(client) == 5 and queued(client) == 0


def test_slow_consumer_and_reclaimer_evaluate_an_item_once(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings, poison: None
) -> None:
    sql(client, "INSERT INTO public.slow VALUES (1.0) RETURNING 1")  # the evaluation takes a second
    client.stream = StreamPublisher(shared_redis, settings)
    ingest(client, 1)
    slow = StreamWorker(client, shared_redis, settings, consumer="slow", block_ms=50)
    slow_thread = threading.Thread(target=lambda: slow.process(slow._next_batch(once=True)))
    slow_thread.start()
    time.sleep(settings.claim_idle_ms / 1000 + 0.2)  # the entry is idle now: reclaimable
    reclaimer = StreamWorker(client, shared_redis, settings, consumer="reclaimer")
    report = reclaimer.claim_stalled()  # takes the entry over while "slow" still evaluates it
    slow_thread.join(30)
    pending = shared_redis.xpending(settings.stream_key, settings.group)["pending"]
    print(
        f"reclaimed while in progress {report.reclaimed}, evaluated by the slow consumer "
        f"{slow.stats.evaluated}, by the reclaimer {reclaimer.stats.evaluated}, total {evaluations(client)}, "
        f"pending after the slow consumer's XACK {pending}"
    )
    assert report.reclaimed == 1 and reclaimer.stats.evaluated == 0
    assert slow.stats.evaluated == 1 and slow.stats.acknowledged == 1
    assert evaluations(client) == 1 and queued(client) == 0 and pending == 0


# --- dead letters and replay -----------------------------------------------------------------------


def test_poison_is_dead_lettered_after_exactly_max_deliveries_and_replay_evaluates_once(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings, poison: None
) -> None:
    client.stream = StreamPublisher(shared_redis, settings)
    results = ingest(client, 5)
    bad = results[2]
    sql(client, "INSERT INTO public.poisoned VALUES (%s) RETURNING 1", bad.candidate_id)
    run = Running(StreamWorker(client, shared_redis, settings, batch_size=10, block_ms=50))
    try:
        wait_until(lambda: shared_redis.xlen(settings.dead_letter_stream) == 1, 30, "the dead letter")
        stats = run.worker.stats
        assert stats.failed == settings.max_reclaim_attempts == 3  # one failed evaluation per delivery
        ((dead_id, dead),) = shared_redis.xrange(settings.dead_letter_stream)
        assert dead["orig_work_id"] == str(bad.work_id)
        assert dead["orig_candidate_id"] == str(bad.candidate_id)
        assert dead["deliveries"] == "3" and "delivered 3 times" in dead["reason"]
        assert dead["consumer"] == run.worker.consumer and dead["orig_id"]
        assert "poisoned candidate" in dead["last_error"]
        state, error = (
            client.work_item_states([bad.work_id])[bad.work_id],
            sql(  # type: ignore[index]
                client, "SELECT error_message FROM m10_recovery.work_queue WHERE id = %s", bad.work_id
            ),
        )
        assert state == "dead" and error.startswith("dead-lettered: delivered 3 times")
        assert evaluations(client) == 4  # the four healthy items, once each

        sql(client, "DELETE FROM public.poisoned RETURNING 1")  # the fix
        admin = StreamAdmin(client, shared_redis, settings)
        length = shared_redis.xlen(settings.stream_key)
        first = admin.replay(dead_id)
        second = admin.replay(dead_id)
        assert (first.status, second.status) == ("replayed", "already_replayed")
        assert shared_redis.xlen(settings.stream_key) == length + 1  # replaying twice enqueues once
        assert [r.status for r in admin.replay_all()] == ["already_replayed"]
        drained(client, 5)
    finally:
        run.close()
    listed = admin.dead_letters()
    print(
        f"deliveries before dead letter {dead['deliveries']}, failed evaluations {stats.failed}, "
        f"replays {first.status}/{second.status}, evaluations {evaluations(client)} of 5 items"
    )
    assert evaluations(client) == 5 and evaluated_twice(client) == 0
    assert listed[0].replayed_as == first.stream_id and listed[0].work_id == bad.work_id


def test_replay_errors_and_malformed_entries(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings
) -> None:
    admin = StreamAdmin(client, shared_redis, settings)
    with pytest.raises(InvalidArgument):
        admin.replay("not-an-id")
    with pytest.raises(NotFound):
        admin.replay("1-0")
    # An entry without a work id is dead-lettered at once, with a reason; nothing else happens.
    shared_redis.xgroup_create(settings.stream_key, settings.group, id="0", mkstream=True)
    shared_redis.xadd(settings.stream_key, {"junk": "\x00 not json"})
    worker = StreamWorker(client, shared_redis, settings)
    worker.run(threading.Event(), once=True)
    ((dead_id, dead),) = shared_redis.xrange(settings.dead_letter_stream)
    print(f"malformed entries dead-lettered: {worker.stats.dead_lettered}")
    assert dead["reason"] == "malformed entry: no work_id" and dead["orig_junk"] == "\x00 not json"
    with pytest.raises(InvalidArgument, match="names no work item"):
        admin.replay(dead_id)


# --- crashes and Redis failures --------------------------------------------------------------------


def test_worker_killed_mid_batch_is_reclaimed_and_each_item_evaluated_once(
    client: M10Client,
    shared_redis: redis.Redis,
    settings: StreamSettings,
    poison: None,
    fresh_db_url: str,
    redis_url: str,
) -> None:
    sql(client, "INSERT INTO public.slow VALUES (0.05) RETURNING 1")  # a batch of 10 takes 0.5 s
    client.stream = StreamPublisher(shared_redis, settings)
    ingest(client, 30)
    env = {
        "DATABASE_URL": fresh_db_url,
        "REDIS_URL": redis_url,
        "M10_STREAM_KEY": settings.stream_key,
        "M10_CONSUMER_GROUP": settings.group,
        "M10_DEAD_LETTER_STREAM": settings.dead_letter_stream,
        "M10_CLAIM_IDLE_MS": str(settings.claim_idle_ms),
        "M10_STREAM_GRACE_MS": "60000",
    }
    victim = worker_process(env, "victim", 10)
    try:
        wait_until(
            lambda: any(
                c["name"] == "victim" and c["pending"] > 0
                for c in shared_redis.xinfo_consumers(settings.stream_key, settings.group)
            ),
            30,
            "the victim to hold a batch",
        )
        time.sleep(0.2)  # inside the batch's transaction
        victim.kill()  # SIGKILL
        victim.wait()
        held = shared_redis.xpending(settings.stream_key, settings.group)["pending"]
        before = evaluations(client)
        run = Running(
            StreamWorker(client, shared_redis, dataclasses.replace(settings, grace_ms=60000), block_ms=50)
        )
        try:
            drained(client, 30)
        finally:
            run.close()
    finally:
        if victim.poll() is None:
            victim.kill()
    stats = run.worker.stats
    print(
        f"entries the victim held when killed {held}, evaluations then {before}, "
        f"reclaimed {stats.reclaimed}, "
        f"evaluated by the survivor {stats.evaluated}, by the victim's last statement (committed "
        f"server-side) {evaluations(client) - before - stats.evaluated}, total {evaluations(client)} of 30, "
        f"twice {evaluated_twice(client)}"
    )
    assert held > 0 and stats.reclaimed >= held
    assert evaluations(client) == 30 and evaluated_twice(client) == 0
    assert shared_redis.xpending(settings.stream_key, settings.group)["pending"] == 0


def test_worker_survives_its_database_connection_dropped_mid_batch(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings, poison: None
) -> None:
    sql(client, "INSERT INTO public.slow VALUES (0.05) RETURNING 1")  # a batch of 10 takes 0.5 s
    client.stream = StreamPublisher(shared_redis, settings)
    ingest(client, 30)
    # The sweep waits a minute: whatever the worker evaluates after the drop came through the stream.
    run = Running(
        StreamWorker(
            client, shared_redis, dataclasses.replace(settings, grace_ms=60000), batch_size=10, block_ms=50
        )
    )
    terminated = 0

    def terminate_a_batch() -> bool:
        nonlocal terminated
        with client.pool.connection() as conn:
            rows = conn.execute(
                """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
                      AND query LIKE '%%evaluate_work_by_ids%%'"""
            ).fetchall()
        terminated += sum(1 for (ok,) in rows if ok)
        return terminated > 0

    try:
        wait_until(terminate_a_batch, 30, "a batch in progress to terminate", interval=0.01)
        drained(client, 30)
    finally:
        run.close()
    stats = run.worker.stats
    dead = shared_redis.xlen(settings.dead_letter_stream)
    print(
        f"backends terminated mid-batch {terminated}, worker errors {stats.errors}, "
        f"evaluated {evaluations(client)} of 30 (swept {stats.swept}), twice {evaluated_twice(client)}, "
        f"dead letters {dead}"
    )
    # Retried at once on a new connection: no error surfaced, no redelivery, nothing swept.
    assert terminated == 1 and stats.errors == 0 and stats.swept == 0 and dead == 0
    assert evaluations(client) == 30 and evaluated_twice(client) == 0 and queued(client) == 0
    assert shared_redis.xpending(settings.stream_key, settings.group)["pending"] == 0


@needs_redis_server
def test_redis_killed_for_ten_seconds_during_load_loses_nothing(
    client: M10Client, settings: StreamSettings
) -> None:
    server = RedisProcess().start()
    try:
        client.stream = publisher = StreamPublisher(redis_client(server.url, timeout=0.25), settings)
        run = Running(StreamWorker(client, redis_client(server.url, timeout=2), settings, block_ms=50))
        ingested, slowest, down_at = 0, 0.0, None
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < 14:
            if down_at is None and elapsed > 2:
                server.kill()
                down_at = time.monotonic()
            if (
                down_at is not None
                and server.proc is not None
                and server.proc.poll() is not None
                and time.monotonic() - down_at >= 10
            ):
                server.start()  # same port, no persistence: an empty Redis
            t = time.monotonic()
            ingest(client, 1, flush=False)  # what a caller waits for
            slowest = max(slowest, time.monotonic() - t)
            ingested += 1
            time.sleep(0.02)
        publisher.flush(10)
        drained(client, ingested, timeout=60)
        run.close()
    finally:
        server.close()
    stats = run.worker.stats
    print(
        f"ingested {ingested} (XADDed {publisher.published}, not while Redis was down {publisher.failed}), "
        f"slowest ingest {slowest * 1000:.0f} ms, evaluated {evaluations(client)} (from the stream "
        f"{stats.evaluated - stats.swept}, swept from PostgreSQL {stats.swept}), "
        f"twice {evaluated_twice(client)}"
    )
    assert publisher.failed > 0 and publisher.published > 0
    assert slowest < 1  # the caller never waits for Redis
    assert evaluations(client) == ingested and evaluated_twice(client) == 0 and queued(client) == 0


@needs_redis_server
def test_flushall_loses_no_work(client: M10Client, settings: StreamSettings) -> None:
    server = RedisProcess().start()
    try:
        r = redis_client(server.url, timeout=2)
        client.stream = StreamPublisher(r, settings)
        ingest(client, 20)
        assert r.xlen(settings.stream_key) == 20
        r.flushall()  # our own server
        worker = StreamWorker(client, r, settings, block_ms=50)
        run = Running(worker)
        try:
            drained(client, 20)
        finally:
            run.close()
    finally:
        server.close()
    print(
        f"items in the flushed stream 20, swept from PostgreSQL {worker.stats.swept}, "
        f"evaluated {evaluations(client)}"
    )
    assert worker.stats.swept == 20 and evaluations(client) == 20 and evaluated_twice(client) == 0


def test_xtrim_to_zero_during_processing_loses_nothing(
    client: M10Client, shared_redis: redis.Redis, settings: StreamSettings, poison: None
) -> None:
    sql(client, "INSERT INTO public.slow VALUES (0.01) RETURNING 1")
    client.stream = StreamPublisher(shared_redis, settings)
    ingest(client, 60)
    run = Running(StreamWorker(client, shared_redis, settings, batch_size=10, block_ms=50))
    try:
        wait_until(lambda: run.worker.stats.acknowledged >= 10, 30, "the first batches")
        trimmed = shared_redis.xtrim(settings.stream_key, maxlen=0)
        drained(client, 60)
    finally:
        run.close()
    stats = run.worker.stats
    print(
        f"entries trimmed {trimmed}, evaluated from the stream {stats.evaluated - stats.swept}, "
        f"swept from PostgreSQL {stats.swept}, total {evaluations(client)} of 60, "
        f"twice {evaluated_twice(client)}"
    )
    assert trimmed > 0 and stats.swept > 0
    assert evaluations(client) == 60 and evaluated_twice(client) == 0


@needs_redis_server
def test_connection_cut_in_the_middle_of_a_batched_publish_loses_nothing(
    client: M10Client, settings: StreamSettings
) -> None:
    server = RedisProcess().start()
    proxy = CuttingProxy(server.port, budget=3000)  # about 25 XADDs after the connection's setup
    try:
        r = redis_client(server.url, timeout=2)
        client.stream = publisher = StreamPublisher(redis_client(proxy.url, timeout=2), settings)
        # One ingest of 60 failures: one publish, one write of 60 XADDs in a MULTI, cut part way through.
        failures = [
            {
                "failure_match_id": str(uuid.uuid4()),
                "failure_payload": {"error_type": f"CUT_{i}", "message": "m"},
            }
            for i in range(60)
        ]
        results = client.ingest_failures(failures)
        assert publisher.flush(10)
        added = r.xlen(settings.stream_key)
        run = Running(StreamWorker(client, r, settings, block_ms=50))
        try:
            drained(client, 60)
        finally:
            run.close()
    finally:
        proxy.close()
        server.close()
    stats = run.worker.stats
    print(
        f"ingested {len(results)} in one call, added to the stream before the cut {added}, confirmed "
        f"{publisher.published}, counted failed {publisher.failed}; evaluated {evaluations(client)} "
        f"(swept from PostgreSQL {stats.swept}), twice {evaluated_twice(client)}"
    )
    # The write is one MULTI/EXEC: cut before its EXEC, Redis added none of it.
    assert added == 0 and publisher.published == 0 and publisher.failed == 60
    assert stats.swept == 60
    assert evaluations(client) == 60 and evaluated_twice(client) == 0 and queued(client) == 0


def test_dead_redis_never_fails_an_ingest(client: M10Client, settings: StreamSettings) -> None:
    client.stream = publisher = StreamPublisher(
        redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.25), settings
    )
    results = ingest(client, 3)
    claimed = client.claim_work("db-worker", 10)
    print(f"ingested {len(results)} with Redis down, claimable in PostgreSQL {len(claimed)}")
    assert publisher.published == 0 and publisher.failed == 3
    assert sorted(c.work_id for c in claimed) == sorted(r.work_id for r in results)  # type: ignore[type-var]


def test_settings_and_urls_are_checked() -> None:
    target = parse_sentinel_url("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/mymaster/2")
    assert (target.sentinels, target.service, target.db) == (
        [("10.0.0.1", 26379), ("10.0.0.2", 26380)],
        "mymaster",
        2,
    )
    assert "s3cret" not in repr(target)
    for bad in ("redis+sentinel://host/mymaster", "redis+sentinel://h:1", "redis+sentinel://h:1/m/x"):
        with pytest.raises(ValueError, match="REDIS_URL"):
            parse_sentinel_url(bad)
    with pytest.raises(ValueError, match="M10_CLAIM_IDLE_MS must be an integer"):
        StreamSettings.from_env({"M10_CLAIM_IDLE_MS": "soon"})
    with pytest.raises(ValueError, match="M10_MAX_RECLAIM_ATTEMPTS must be at least 1"):
        StreamSettings.from_env({"M10_MAX_RECLAIM_ATTEMPTS": "0"})
    defaults = StreamSettings.from_env({})
    assert (defaults.claim_idle_ms, defaults.max_reclaim_attempts, defaults.max_len) == (60000, 3, 100000)


# --- CLI -------------------------------------------------------------------------------------------


def test_stream_cli(
    client: M10Client,
    shared_redis: redis.Redis,
    settings: StreamSettings,
    fresh_db_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "REDIS_URL": redis_url,
        "M10_STREAM_KEY": settings.stream_key,
        "M10_CONSUMER_GROUP": settings.group,
        "M10_DEAD_LETTER_STREAM": settings.dead_letter_stream,
        "M10_CLAIM_IDLE_MS": "100",
        "M10_MAX_RECLAIM_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def m10(*args: str) -> Any:
        result = runner.invoke(app, ["--database-url", fresh_db_url, *args])
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return json.loads(result.stdout) if "--json" in args else result.stdout

    out = m10("ingest", "--use-stream", "--json", '{"error_type": "CLI_STREAM", "message": "m"}')
    info = m10("stream", "info", "--json")
    assert info["length"] == 1 and info["lag"] == 1 and info["group_exists"]
    shared_redis.xreadgroup(settings.group, "gone", {settings.stream_key: ">"})  # a consumer that dies
    time.sleep(0.15)
    [pending] = m10("stream", "pending", "--json")
    assert pending["consumer"] == "gone" and pending["deliveries"] == 1
    report = m10("stream", "claim-stalled", "--json")
    assert report["dead_lettered"] == 1  # delivered once, M10_MAX_RECLAIM_ATTEMPTS 1
    [dead] = m10("stream", "dead-letter", "list", "--json")
    assert dead["work_id"] == out["work_id"] and dead["consumer"] == "gone"
    [replayed] = m10("stream", "replay", dead["id"], "--json")
    assert replayed["status"] == "replayed"
    assert m10("stream", "replay", "--all", "--json")[0]["status"] == "already_replayed"
    summary = m10("worker", "--use-stream", "--once", "--json")
    print(f"cli: dead-lettered {report['dead_lettered']}, replayed 1, evaluated {summary['evaluated']}")
    assert summary["evaluated"] == 1 and queued(client) == 0
    assert "stream" in m10("stream", "--help")
    bad = runner.invoke(app, ["--database-url", fresh_db_url, "stream", "replay"])
    assert bad.exit_code == 2
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    down = runner.invoke(app, ["--database-url", fresh_db_url, "stream", "info"])
    assert down.exit_code == 3 and "redis unavailable" in down.stderr


# --- Sentinel --------------------------------------------------------------------------------------

SENTINEL_CONF = """port {port}
bind 127.0.0.1
sentinel monitor mymaster 127.0.0.1 {master} 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 4000
sentinel parallel-syncs mymaster 1
"""


@needs_redis_server
def test_sentinel_failover_mid_run_loses_nothing(client: M10Client, settings: StreamSettings) -> None:
    master = RedisProcess(extra=["--repl-diskless-sync-delay", "0"]).start()
    replicas = [RedisProcess(extra=["--replicaof", "127.0.0.1", str(master.port)]).start() for _ in range(2)]
    sentinels: list[RedisProcess] = []
    try:
        for _ in range(3):
            port = free_port()
            sentinels.append(
                RedisProcess(port, sentinel=SENTINEL_CONF.format(port=port, master=master.port)).start()
            )
        wait_until(
            lambda: all(
                redis.Redis(port=r.port).info("replication")["master_link_status"] == "up" for r in replicas
            ),
            30,
            "the replicas to sync",
        )
        probe = [redis.Redis(port=s.port, decode_responses=True) for s in sentinels]
        wait_until(
            lambda: all(
                len(p.sentinel_slaves("mymaster")) == 2 and len(p.sentinel_sentinels("mymaster")) == 2
                for p in probe
            ),
            30,
            "sentinels to see two replicas and each other",
        )
        url = "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in sentinels) + "/mymaster/0"
        client.stream = publisher = StreamPublisher(redis_client(url, timeout=0.25), settings)
        run = Running(StreamWorker(client, redis_client(url, timeout=2), settings, block_ms=50))
        ingested, killed_at, new_master = 0, None, None
        while True:
            ingest(client, 1, flush=False)
            ingested += 1
            time.sleep(0.02)
            if killed_at is None and ingested == 50:
                master.kill()
                killed_at = time.monotonic()
                stream_before = run.worker.stats.evaluated - run.worker.stats.swept
            if killed_at is not None and new_master is None:
                addr = probe[1].sentinel_get_master_addr_by_name("mymaster")
                if addr and int(addr[1]) != master.port:
                    new_master = int(addr[1])
                    published_at_failover = publisher.published
            if new_master is not None and publisher.published - published_at_failover >= 30:
                break
            assert killed_at is None or time.monotonic() - killed_at < 60, "no failover within 60 s"
        publisher.flush(10)
        drained(client, ingested, timeout=60)
        run.close()
        stats = run.worker.stats
        after = stats.evaluated - stats.swept - stream_before
        on_new_master = redis.Redis(port=new_master).xlen(settings.stream_key)
    finally:
        for p in [*sentinels, *replicas, master]:
            p.close()
    print(
        f"ingested {ingested}, XADDed {publisher.published} ({publisher.failed} during the failover), master "
        f"{master.port} -> {new_master}, entries on the new master {on_new_master}, "
        f"evaluated from the stream after the kill {after}, swept {stats.swept}, "
        f"evaluated {evaluations(client)}, twice {evaluated_twice(client)}"
    )
    assert after >= 30 and on_new_master >= 30  # work continued through the new master
    assert evaluations(client) == ingested and evaluated_twice(client) == 0 and queued(client) == 0
