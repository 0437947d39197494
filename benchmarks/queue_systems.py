"""The systems under test: how each one installs, enqueues, claims and completes.

Every adapter uses the system's own public API (m10py's M10Client, pgmq's PGMQueue, PgQueuer's
Queries, procrastinate's App/JobManager) except the raw baseline, which is plain SQL. Each
enqueue or drain process holds exactly one database connection. The timed loops are shared, so
the clock starts and stops at the same points for every system. Work per job is empty: what is
measured is the queue's own overhead.

Imported by queue_runner.py in the parent process and, through pickled adapters, by the worker
processes, which is why the peers are imported lazily (only the process using one pays for it).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import psycopg
from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

QUEUE = "bench"  # queue / entrypoint / task name used by every system
LEASE_SECONDS = 300  # visibility timeout or lease: far longer than any trial
PREFILL_CHUNK = 1_000
BARRIER_TIMEOUT = 120.0

Conn = Connection[TupleRow]
H = TypeVar("H")
T = TypeVar("T")
SyncCall = Callable[[], int]
AsyncCall = Callable[[], Awaitable[int]]


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class Timed:
    """What one enqueue or drain process did in its timed phase (clock: perf_counter)."""

    items: int  # items enqueued or jobs drained while timed
    warmup_items: int  # items enqueued or jobs drained before timing started
    started: float
    finished: float
    latencies: list[float]  # seconds, one per call (enqueue) or per claim+complete cycle (drain)


# --- timed loops shared by every system ----------------------------------------------------


def time_enqueue(call: SyncCall, calls: int, warmup: int) -> Timed:
    warm = sum(call() for _ in range(warmup))
    latencies: list[float] = []
    items = 0
    started = perf_counter()
    for _ in range(calls):
        t0 = perf_counter()
        items += call()
        latencies.append(perf_counter() - t0)
    return Timed(items, warm, started, perf_counter(), latencies)


def time_drain(cycle: SyncCall, warmup: int, barrier: Barrier) -> Timed:
    """Cycle until a claim comes back empty; the timed phase starts when both consumers are ready."""
    warm = sum(cycle() for _ in range(warmup))
    barrier.wait(BARRIER_TIMEOUT)
    latencies: list[float] = []
    jobs = 0
    started = perf_counter()
    while True:
        t0 = perf_counter()
        claimed = cycle()
        t1 = perf_counter()
        if not claimed:
            return Timed(jobs, warm, started, t1, latencies)
        jobs += claimed
        latencies.append(t1 - t0)


async def time_enqueue_async(call: AsyncCall, calls: int, warmup: int) -> Timed:
    warm = 0
    for _ in range(warmup):
        warm += await call()
    latencies: list[float] = []
    items = 0
    started = perf_counter()
    for _ in range(calls):
        t0 = perf_counter()
        items += await call()
        latencies.append(perf_counter() - t0)
    return Timed(items, warm, started, perf_counter(), latencies)


async def time_drain_async(cycle: AsyncCall, warmup: int, barrier: Barrier) -> Timed:
    warm = 0
    for _ in range(warmup):
        warm += await cycle()
    barrier.wait(BARRIER_TIMEOUT)  # blocks the loop on purpose: nothing else may run meanwhile
    latencies: list[float] = []
    jobs = 0
    started = perf_counter()
    while True:
        t0 = perf_counter()
        claimed = await cycle()
        t1 = perf_counter()
        if not claimed:
            return Timed(jobs, warm, started, t1, latencies)
        jobs += claimed
        latencies.append(t1 - t0)


def counted_once(call: Callable[[], object]) -> SyncCall:
    """A single-item enqueue call, counted as one item whatever it returns."""

    def once() -> int:
        call()
        return 1

    return once


def chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


def worker_name(index: int) -> str:
    return f"bench-{os.getpid()}-{index}"


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# --- the adapter interface -----------------------------------------------------------------


class QueueSystem(ABC):
    """One system under test. Instances are pickled to the worker processes: keep them plain."""

    key: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]  # its queue tables: reset per trial, measured for dead tuples
    count_sql: ClassVar[str]  # how many items its queue tables hold
    unfinished_sql: ClassVar[str]  # how many of them are not done yet
    max_claim: ClassVar[int | None] = None  # most jobs one claim call can return (None: no limit)
    claim_note: ClassVar[str] = ""  # why max_claim limits it
    drain_only: ClassVar[str] = ""  # when set: why the enqueue modes are not run for it

    @abstractmethod
    def install(self, url: str) -> None: ...

    @abstractmethod
    def enqueue(self, url: str, batch: int, calls: int, warmup: int) -> Timed: ...

    @abstractmethod
    def prefill(self, url: str, items: int) -> None: ...

    @abstractmethod
    def drain(self, url: str, batch: int, warmup: int, worker: int, barrier: Barrier) -> Timed: ...

    @abstractmethod
    def versions(self) -> dict[str, str]: ...

    @property
    def label(self) -> str:
        return self.key


class SyncSystem(QueueSystem):
    """A system driven through one autocommit psycopg connection per process."""

    @abstractmethod
    def enqueuer(self, conn: Conn, batch: int) -> SyncCall:
        """A call that enqueues ``batch`` items (1: the single-item API) and returns the count."""

    @abstractmethod
    def drainer(self, conn: Conn, batch: int, worker: str) -> SyncCall:
        """One claim+complete cycle of up to ``batch`` jobs; returns how many it claimed."""

    @contextmanager
    def session(self, url: str) -> Iterator[Conn]:
        with psycopg.connect(url, autocommit=True) as conn:
            yield conn

    def enqueue(self, url: str, batch: int, calls: int, warmup: int) -> Timed:
        with self.session(url) as conn:
            return time_enqueue(self.enqueuer(conn, batch), calls, warmup)

    def prefill(self, url: str, items: int) -> None:
        with self.session(url) as conn:
            for size in chunks(items, PREFILL_CHUNK):
                self.enqueuer(conn, size)()

    def drain(self, url: str, batch: int, warmup: int, worker: int, barrier: Barrier) -> Timed:
        with self.session(url) as conn:
            return time_drain(self.drainer(conn, batch, worker_name(worker)), warmup, barrier)


class AsyncSystem(QueueSystem, Generic[H]):
    """A system whose API is asyncio: one event loop and one connection per process."""

    @abstractmethod
    def session(self, url: str) -> AbstractAsyncContextManager[H]: ...

    @abstractmethod
    def enqueuer(self, handle: H, batch: int) -> AsyncCall: ...

    @abstractmethod
    async def drainer(self, handle: H, batch: int, worker: str) -> AsyncCall: ...

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def enqueue(self, url: str, batch: int, calls: int, warmup: int) -> Timed:
        return self.run(self._enqueue(url, batch, calls, warmup))

    def prefill(self, url: str, items: int) -> None:
        self.run(self._prefill(url, items))

    def drain(self, url: str, batch: int, warmup: int, worker: int, barrier: Barrier) -> Timed:
        return self.run(self._drain(url, batch, warmup, worker_name(worker), barrier))

    async def _enqueue(self, url: str, batch: int, calls: int, warmup: int) -> Timed:
        async with self.session(url) as handle:
            return await time_enqueue_async(self.enqueuer(handle, batch), calls, warmup)

    async def _prefill(self, url: str, items: int) -> None:
        async with self.session(url) as handle:
            for size in chunks(items, PREFILL_CHUNK):
                await self.enqueuer(handle, size)()

    async def _drain(self, url: str, batch: int, warmup: int, worker: str, barrier: Barrier) -> Timed:
        async with self.session(url) as handle:
            cycle = await self.drainer(handle, batch, worker)
            return await time_drain_async(cycle, warmup, barrier)


# --- m10py ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class M10System(SyncSystem):
    """m10py through its public client; every call passes ``conn=``, so no pool is involved."""

    key: ClassVar[str] = "m10py"
    tables: ClassVar[tuple[str, ...]] = ("m10_recovery.work_queue",)
    count_sql: ClassVar[str] = "SELECT count(*) FROM m10_recovery.work_queue"
    unfinished_sql: ClassVar[str] = "SELECT count(*) FROM m10_recovery.work_queue WHERE processed_at IS NULL"

    def install(self, url: str) -> None:
        from m10py.schema import migrate

        migrate(url)

    def _client(self) -> Any:
        from psycopg_pool import ConnectionPool

        from m10py.client import M10Client

        return M10Client(ConnectionPool(open=False))  # never opened: every call passes conn=

    def enqueuer(self, conn: Conn, batch: int) -> SyncCall:
        client = self._client()
        if batch == 1:
            return counted_once(lambda: client.enqueue_work(payload={}, conn=conn))
        payloads: list[dict[str, Any]] = [{} for _ in range(batch)]
        return lambda: len(client.enqueue_work_batch(payloads, conn=conn))

    def drainer(self, conn: Conn, batch: int, worker: str) -> SyncCall:
        from m10py.consumer import WorkConsumer

        # The consumer claims the next batch while this one is worked on; it leaves pipeline mode
        # when a claim comes back empty, which ends the drain.
        consumer = WorkConsumer(conn, worker, batch, lease_seconds=LEASE_SECONDS)
        done: list[int] = []

        def cycle() -> int:
            claimed = consumer.next_batch(done)
            done[:] = [item.work_id for item in claimed]
            return len(claimed)

        return cycle

    def versions(self) -> dict[str, str]:
        return {"m10py": dist_version("m10py")}


@dataclass(frozen=True)
class M10LoopSystem(M10System):
    """m10py draining without claiming ahead: one complete_and_claim call per cycle, waited for."""

    key: ClassVar[str] = "m10py_loop"
    drain_only: ClassVar[str] = "enqueues as m10py does"

    @property
    def label(self) -> str:
        return "m10py, no claim-ahead"

    def drainer(self, conn: Conn, batch: int, worker: str) -> SyncCall:
        client = self._client()
        done: list[int] = []

        def cycle() -> int:
            # Completes the previous claim and claims the next batch: one round trip, one commit.
            claimed = client.complete_and_claim(worker, done, batch, lease_seconds=LEASE_SECONDS, conn=conn)
            done[:] = [item.work_id for item in claimed]
            return len(claimed)

        return cycle


@dataclass(frozen=True)
class M10OverlaySystem(M10System):
    """m10py with SQL files applied after migrating: a candidate change of sql/, measured beside
    the repository's version in the same run."""

    overlay: tuple[str, ...] = ()

    key: ClassVar[str] = "m10py_overlay"

    @property
    def label(self) -> str:
        return "m10py + overlay"

    def install(self, url: str) -> None:
        super().install(url)
        with self.session(url) as conn:
            for path in self.overlay:
                conn.execute(Path(path).read_text(encoding="utf-8"))

    def versions(self) -> dict[str, str]:
        return {
            f"m10py overlay {Path(path).name}": "sha256:"
            + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
            for path in self.overlay
        }


# --- raw SQL baseline ----------------------------------------------------------------------

RAW_SCHEMA = """
CREATE TABLE raw_queue (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    claimed_by   text,
    claimed_at   timestamptz,
    processed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_queue_unclaimed_idx ON raw_queue (id) WHERE claimed_at IS NULL;
"""
RAW_INSERT = "INSERT INTO raw_queue (payload) VALUES (%s) RETURNING id"
RAW_INSERT_MANY = "INSERT INTO raw_queue (payload) SELECT unnest(%s::jsonb[]) RETURNING id"
RAW_CLAIM = """
UPDATE raw_queue SET claimed_at = now(), claimed_by = %s
 WHERE id IN (SELECT id FROM raw_queue WHERE claimed_at IS NULL
               ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING id, payload
"""
RAW_COMPLETE = "UPDATE raw_queue SET processed_at = now() WHERE id = ANY(%s)"


@dataclass(frozen=True)
class RawSystem(SyncSystem):
    """The textbook SKIP LOCKED queue: claim in one transaction, mark done in a second one."""

    key: ClassVar[str] = "raw"
    tables: ClassVar[tuple[str, ...]] = ("public.raw_queue",)
    count_sql: ClassVar[str] = "SELECT count(*) FROM raw_queue"
    unfinished_sql: ClassVar[str] = "SELECT count(*) FROM raw_queue WHERE processed_at IS NULL"

    @property
    def label(self) -> str:
        return "raw SQL"

    def install(self, url: str) -> None:
        with self.session(url) as conn:
            conn.execute(RAW_SCHEMA)

    def enqueuer(self, conn: Conn, batch: int) -> SyncCall:
        if batch == 1:
            return lambda: len(conn.execute(RAW_INSERT, (Jsonb({}),)).fetchall())
        payloads = [Jsonb({}) for _ in range(batch)]
        return lambda: len(conn.execute(RAW_INSERT_MANY, (payloads,)).fetchall())

    def drainer(self, conn: Conn, batch: int, worker: str) -> SyncCall:
        def cycle() -> int:
            rows = conn.execute(RAW_CLAIM, (worker, batch)).fetchall()
            if rows:
                conn.execute(RAW_COMPLETE, ([row[0] for row in rows],))
            return len(rows)

        return cycle

    def versions(self) -> dict[str, str]:
        return {}


# --- pgmq ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgmqSystem(SyncSystem):
    """pgmq's Python client, its SQL loaded from the wheel (no extension to compile)."""

    finish: Literal["delete", "archive"] = "delete"

    key: ClassVar[str] = "pgmq"
    tables: ClassVar[tuple[str, ...]] = (f"pgmq.q_{QUEUE}", f"pgmq.a_{QUEUE}")
    count_sql: ClassVar[str] = (
        f"SELECT (SELECT count(*) FROM pgmq.q_{QUEUE}) + (SELECT count(*) FROM pgmq.a_{QUEUE})"
    )
    unfinished_sql: ClassVar[str] = f"SELECT count(*) FROM pgmq.q_{QUEUE}"

    @property
    def label(self) -> str:
        return f"pgmq ({self.finish})"

    def _queue(self) -> Any:
        from pgmq import PGMQueue
        from psycopg_pool import ConnectionPool

        # The pool is never opened: every call passes conn= (pgmq's documented transaction API).
        return PGMQueue(pool=ConnectionPool(open=False), init_extension=False)

    def install(self, url: str) -> None:
        from pgmq.install import install_pgmq_from_sql

        install_pgmq_from_sql(dsn=url)
        with self.session(url) as conn:
            self._queue().create_queue(QUEUE, conn=conn)

    def enqueuer(self, conn: Conn, batch: int) -> SyncCall:
        queue = self._queue()
        if batch == 1:
            return counted_once(lambda: queue.send(QUEUE, {}, conn=conn))
        messages: list[dict[str, Any]] = [{} for _ in range(batch)]
        return lambda: len(queue.send_batch(QUEUE, messages, conn=conn))

    def drainer(self, conn: Conn, batch: int, worker: str) -> SyncCall:
        queue = self._queue()
        finish = queue.delete_batch if self.finish == "delete" else queue.archive_batch

        def cycle() -> int:
            messages = queue.read_batch(QUEUE, vt=LEASE_SECONDS, batch_size=batch, conn=conn)
            if messages:
                finish(QUEUE, [m.msg_id for m in messages], conn=conn)
            return len(messages)

        return cycle

    def versions(self) -> dict[str, str]:
        from pgmq.install import get_embedded_sql_version

        return {"pgmq": dist_version("pgmq"), "pgmq SQL": get_embedded_sql_version()}


# --- PgQueuer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgQueuerSystem(AsyncSystem[Any]):
    """PgQueuer's Queries on asyncpg under uvloop, as its own CLI runs it."""

    key: ClassVar[str] = "pgqueuer"
    tables: ClassVar[tuple[str, ...]] = ("public.pgqueuer", "public.pgqueuer_log")
    count_sql: ClassVar[str] = "SELECT count(*) FROM pgqueuer"  # its log also records enqueues
    unfinished_sql: ClassVar[str] = "SELECT count(*) FROM pgqueuer"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)

    @asynccontextmanager
    async def session(self, url: str) -> AsyncIterator[Any]:
        import asyncpg  # type: ignore[import-untyped]
        from pgqueuer.queries import Queries

        conn = await asyncpg.connect(url)
        try:
            yield Queries.from_asyncpg_connection(conn)
        finally:
            await conn.close()

    def install(self, url: str) -> None:
        async def install() -> None:
            async with self.session(url) as queries:
                await queries.install()

        self.run(install())

    def enqueuer(self, handle: Any, batch: int) -> AsyncCall:
        if batch == 1:

            async def one() -> int:
                return len(await handle.enqueue(QUEUE, None, 0))

            return one
        names, payloads, priorities = [QUEUE] * batch, [None] * batch, [0] * batch

        async def many() -> int:
            return len(await handle.enqueue(names, payloads, priorities))

        return many

    async def drainer(self, handle: Any, batch: int, worker: str) -> AsyncCall:
        from pgqueuer.queries import EntrypointExecutionParameter

        entrypoints = {QUEUE: EntrypointExecutionParameter(concurrency_limit=0)}
        manager_id = uuid.uuid4()

        async def cycle() -> int:
            jobs = await handle.dequeue(
                batch_size=batch,
                entrypoints=entrypoints,
                queue_manager_id=manager_id,
                global_concurrency_limit=None,
                heartbeat_timeout=timedelta(seconds=LEASE_SECONDS),
            )
            if jobs:
                await handle.log_jobs([(job, "successful", None) for job in jobs])
            return len(jobs)

        return cycle

    def versions(self) -> dict[str, str]:
        return {"pgqueuer": dist_version("pgqueuer"), "asyncpg": dist_version("asyncpg")}


# --- procrastinate -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcrastinateSystem(AsyncSystem[Any]):
    """procrastinate's async App (psycopg pool of one) and its JobManager, as its worker uses."""

    key: ClassVar[str] = "procrastinate"
    tables: ClassVar[tuple[str, ...]] = (
        "public.procrastinate_jobs",
        "public.procrastinate_events",
        "public.procrastinate_workers",
    )
    count_sql: ClassVar[str] = "SELECT count(*) FROM procrastinate_jobs"
    unfinished_sql: ClassVar[str] = "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'"
    max_claim: ClassVar[int | None] = 1
    claim_note: ClassVar[str] = "n/a: fetch_job claims one job per call (no batch claim API)"

    @asynccontextmanager
    async def session(self, url: str) -> AsyncIterator[Any]:
        from procrastinate import App, PsycopgConnector

        app = App(connector=PsycopgConnector(conninfo=url, min_size=1, max_size=1))
        task = app.task(name=QUEUE, queue=QUEUE)(_procrastinate_noop)
        async with app.open_async():
            yield app, task

    def install(self, url: str) -> None:
        from procrastinate import App, SyncPsycopgConnector

        app = App(connector=SyncPsycopgConnector(conninfo=url, min_size=1, max_size=1))
        with app.open():
            app.schema_manager.apply_schema()

    def enqueuer(self, handle: Any, batch: int) -> AsyncCall:
        _app, task = handle
        if batch == 1:

            async def one() -> int:
                await task.defer_async()
                return 1

            return one
        kwargs: list[dict[str, Any]] = [{} for _ in range(batch)]

        async def many() -> int:
            return len(await task.batch_defer_async(*kwargs))

        return many

    async def drainer(self, handle: Any, batch: int, worker: str) -> AsyncCall:
        from procrastinate.jobs import Status

        manager = handle[0].job_manager
        worker_id = await manager.register_worker()

        async def cycle() -> int:
            job = await manager.fetch_job([QUEUE], worker_id)
            if job is None:
                return 0
            await manager.finish_job(job, Status.SUCCEEDED, delete_job=False)
            return 1

        return cycle

    def versions(self) -> dict[str, str]:
        return {"procrastinate": dist_version("procrastinate")}


def _procrastinate_noop() -> None:
    """The task procrastinate defers (never run: the benchmark claims and finishes jobs itself)."""


def build_systems(
    keys: tuple[str, ...], pgmq_finish: Literal["delete", "archive"], m10_overlay: tuple[Path, ...] = ()
) -> list[QueueSystem]:
    available: dict[str, QueueSystem] = {
        "m10py": M10System(),
        "m10py_loop": M10LoopSystem(),
        "raw": RawSystem(),
        "pgmq": PgmqSystem(finish=pgmq_finish),
        "pgqueuer": PgQueuerSystem(),
        "procrastinate": ProcrastinateSystem(),
    }
    systems = [available[key] for key in keys]
    if m10_overlay:
        candidate = M10OverlaySystem(overlay=tuple(str(path) for path in m10_overlay))
        at = keys.index("m10py") + 1 if "m10py" in keys else 0
        systems.insert(at, candidate)
    return systems


# --- entry points of the worker processes --------------------------------------------------

_barrier: Barrier | None = None


def init_worker(barrier: Barrier) -> None:
    global _barrier  # noqa: PLW0603  # set once per worker process by the pool initializer
    _barrier = barrier


def run_enqueue(system: QueueSystem, url: str, batch: int, calls: int, warmup: int) -> Timed:
    return system.enqueue(url, batch, calls, warmup)


def run_prefill(system: QueueSystem, url: str, items: int) -> None:
    system.prefill(url, items)


def run_drain(system: QueueSystem, url: str, batch: int, warmup: int, worker: int) -> Timed:
    if _barrier is None:
        raise RuntimeError("run_drain runs in a pool started with init_worker")
    return system.drain(url, batch, warmup, worker, _barrier)
