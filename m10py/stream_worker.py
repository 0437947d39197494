"""`m10 worker --use-stream`: evaluate work items dispatched through the Redis stream.

Per batch: XREADGROUP, then one statement (evaluate_work_by_ids) claims the items by id (a row lock
on only still pending or expired items, SKIP LOCKED), evaluates them and completes them, then XACK
(sent with the next XREADGROUP, one round trip for both).
Claim, evaluation and completion commit together, so an item is evaluated at most once: a consumer whose
entry was reclaimed by another finds the item locked, completed or taken and evaluates nothing.

Beside the stream the worker keeps two duties:
- reclaim: entries idle for M10_CLAIM_IDLE_MS are XCLAIMed and processed again; an entry already
  delivered M10_MAX_RECLAIM_ATTEMPTS times moves to the dead-letter stream (XADD + XACK in one MULTI)
  and its item is marked dead in PostgreSQL.
- sweep (zero loss): items ready for longer than M10_STREAM_GRACE_MS are claimed from PostgreSQL
  directly, so whatever Redis lost (restart without persistence, FLUSHALL, trimming, an outage at
  ingest) is still evaluated. It runs while Redis is down too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
import redis

from m10py.client import M10Client
from m10py.client_base import Conn
from m10py.config import StreamSettings
from m10py.errors import M10Error
from m10py.models import ClaimReport
from m10py.stream import ensure_group, parse_int
from m10py.worker import default_worker_id

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]
ERROR_BACKOFF_SECONDS = 0.5


@dataclass
class StreamWorkerStats:
    batches: int = 0
    evaluated: int = 0
    failed: int = 0
    skipped: int = 0
    acknowledged: int = 0
    swept: int = 0
    reclaimed: int = 0
    dead_lettered: int = 0
    trimmed: int = 0
    errors: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _every(seconds: float) -> float:
    """Housekeeping interval: a quarter of the period it watches, between 50 ms and 5 s."""
    return min(5.0, max(0.05, seconds / 4))


class StreamWorker:
    def __init__(
        self,
        client: M10Client,
        redis_client: redis.Redis,
        settings: StreamSettings,
        *,
        consumer: str | None = None,
        batch_size: int = 10,
        block_ms: int = 1000,
        on_claim: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.client = client
        self.redis = redis_client
        self.settings = settings
        # Unique per process, so two processes never share (and never ack) each other's deliveries.
        self.consumer = consumer or default_worker_id()
        self.batch_size = batch_size
        self.reclaim_every = _every(settings.claim_idle_ms / 1000)
        self.sweep_every = _every(settings.grace_ms / 1000)
        self.block_ms = max(1, min(block_ms, int(1000 * min(self.reclaim_every, self.sweep_every))))
        self.on_claim = on_claim  # benchmarks time evaluation start here
        self.stats = StreamWorkerStats()
        self._next_reclaim = 0.0
        self._next_sweep = 0.0
        self._unacked: list[str] = []  # finished entries whose XACK goes out with the next read
        self._free_since = 0.0  # when the last batch was done: how long the worker has waited for work
        # While run() is busy it keeps one pooled connection for its batches: no checkout (and the
        # pool's check, a round trip) per batch. Given back whenever the worker waits for entries.
        self._hold_db = False
        self._db: Conn | None = None

    # ---- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, once: bool = False) -> StreamWorkerStats:
        """Work until `stop` is set (SIGTERM) or, with once, until neither Redis nor the sweep has work."""
        log.info("stream worker %s started (batch %d)", self.consumer, self.batch_size)
        # With a pool of one connection the worker's other calls need it: nothing is held then.
        self._hold_db = self.client.pool.max_size > 1
        try:
            self._loop(stop, once)
        finally:
            self._hold_db = False
            self._release_db()
        try:
            self._ack([])
        except redis.RedisError as exc:  # left pending: reclaimed later, their items found completed
            log.info("stream worker %s: final XACK failed: %s", self.consumer, exc)
        self.leave_group()
        log.info("stream worker %s stopped: %s", self.consumer, self.stats)
        return self.stats

    def _loop(self, stop: threading.Event, once: bool) -> None:
        own_pending_done = False
        while not stop.is_set():
            try:
                if not own_pending_done:
                    ensure_group(self.redis, self.settings)
                    self._drain_own_pending(stop)
                    own_pending_done = True
                busy = self._housekeeping(force=once)
                entries = self._next_batch(once)
                if entries:
                    self.process(entries, ack_later=True)
                    self._free_since = time.monotonic()
                elif once and not busy:
                    return
            except (redis.RedisError, psycopg.OperationalError) as exc:
                self.stats.errors += 1
                self._release_db()
                log.warning("stream worker %s: %s: %s; retrying", self.consumer, type(exc).__name__, exc)
                own_pending_done = False  # a new master (failover) may have lost the group: recreate
                if not isinstance(exc, psycopg.OperationalError):
                    self._sweep_quietly()
                if once or stop.wait(ERROR_BACKOFF_SECONDS):
                    return

    def _read(self, start: str, *, block: int | None, count: int | None = None) -> list[Entry]:
        """XREADGROUP, after the XACK of the last batch in the same round trip."""
        s = self.settings
        read: dict[str, Any] = {
            "groupname": s.group,
            "consumername": self.consumer,
            "streams": {s.stream_key: start},
            "count": count or self.batch_size,
            "block": block,
        }
        if self._unacked:
            # Taken first: an XACK that failed is not retried (those entries are reclaimed later and
            # acknowledged then, their items found completed).
            ids, self._unacked = self._unacked, []
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.xack(s.stream_key, s.group, *ids)
                pipe.xreadgroup(**read)
                acknowledged, reply = pipe.execute()
            self.stats.acknowledged += int(acknowledged)
        else:
            reply = self.redis.xreadgroup(**read)
        return [(str(i), dict(f or {})) for _, entries in (reply or []) for i, f in entries]

    def _ack(self, entry_ids: list[str]) -> None:
        """XACK these and any deferred ones now."""
        ids, self._unacked = self._unacked + entry_ids, []
        if ids:
            acknowledged = self.redis.xack(self.settings.stream_key, self.settings.group, *ids)
            self.stats.acknowledged += int(acknowledged)

    def _next_batch(self, once: bool) -> list[Entry]:
        """Idle (waited at least M10_STREAM_LINGER_MS for the first entry): process it at once
        (dispatch latency). Busy (entries already waiting, or arriving within that time): linger up to
        M10_STREAM_LINGER_MS to fill the batch: fewer, larger evaluation commits under load."""
        entries = self._read(">", block=None)
        if once:
            return entries
        linger = self.settings.linger_ms / 1000
        if not entries:
            self._release_db()
            entries = self._read(">", block=self.block_ms)
            if time.monotonic() - self._free_since >= linger:
                return entries
        if entries and len(entries) < self.batch_size and linger:
            entries += self._linger(len(entries))
        return entries

    def _linger(self, have: int) -> list[Entry]:
        # One sleep and one read, not a blocking read per arriving entry: under load CPU is the limit.
        time.sleep(self.settings.linger_ms / 1000)
        return self._read(">", block=None, count=self.batch_size - have)

    def _drain_own_pending(self, stop: threading.Event) -> None:
        """Entries delivered to this consumer name before (a restart under the same --consumer)."""
        cursor = "0"
        while not stop.is_set():
            entries = self._read(cursor, block=None)
            if not entries:
                return
            self.process(entries)
            cursor = entries[-1][0]

    def _housekeeping(self, *, force: bool) -> bool:
        """Reclaim and sweep when due; True when either found work."""
        now = time.monotonic()
        busy = False
        if force or now >= self._next_reclaim:
            report = self.claim_stalled()
            busy = report.reclaimed + report.dead_lettered + report.trimmed > 0
            self._next_reclaim = now + self.reclaim_every
        if force or now >= self._next_sweep:
            busy = self.sweep() > 0 or busy
            self._next_sweep = now + self.sweep_every
        return busy

    def _sweep_quietly(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        try:
            self.sweep()
        except (M10Error, psycopg.Error) as exc:
            log.warning("sweep failed: %s", exc)
        self._next_sweep = time.monotonic() + self.sweep_every

    def leave_group(self) -> None:
        """Remove this consumer name from the group when it holds nothing (names are per process)."""
        try:
            mine = self.redis.xpending_range(
                self.settings.stream_key, self.settings.group, "-", "+", 1, consumername=self.consumer
            )
            if not mine:
                self.redis.xgroup_delconsumer(self.settings.stream_key, self.settings.group, self.consumer)
        except redis.RedisError as exc:
            log.info("could not remove consumer %s from the group: %s", self.consumer, exc)

    # ---- one batch of entries -------------------------------------------------------------------

    def process(self, entries: Sequence[Entry], *, ack_later: bool = False) -> None:
        """Claim, evaluate and complete the entries' items, then XACK what is finished (with
        ack_later: with the next read)."""
        self.stats.batches += 1
        by_work: dict[int, list[str]] = {}
        ack: list[str] = []
        for entry_id, fields in entries:
            work_id = parse_int(fields.get("work_id"))
            if not fields:  # trimmed while pending: its item is re-driven from PostgreSQL
                self.stats.trimmed += 1
                ack.append(entry_id)
            elif work_id is None:
                self._dead_letter(entry_id, fields, self.consumer, 1, "malformed entry: no work_id")
            else:
                by_work.setdefault(work_id, []).append(entry_id)
        finished = self._evaluate_ids(list(by_work))
        unfinished = [w for w in by_work if w not in finished]
        states = self.client.work_item_states(unfinished) if unfinished else {}
        for work_id, entry_ids in by_work.items():
            state = "done" if work_id in finished else states.get(work_id, "pending")
            if state in ("done", "completed", "claimed"):
                # Done here, done elsewhere, or a DB worker holds a lease (which returns the item to
                # the sweep if that worker dies): the entry's job is over.
                ack.extend(entry_ids)
            elif state == "dead":
                for entry_id in entry_ids:
                    self._dead_letter(
                        entry_id,
                        {"work_id": str(work_id)},
                        self.consumer,
                        1,
                        "work item is dead in PostgreSQL",
                    )
            # pending / lease_expired: failed here, or locked by another transaction: the entry
            # stays pending and is reclaimed after M10_CLAIM_IDLE_MS.
        if ack_later:
            self._unacked += ack
        else:
            self._ack(ack)
        if any(not fields for _, fields in entries):
            self.sweep(grace_seconds=self.settings.claim_idle_ms / 1000)

    def _evaluate_ids(self, work_ids: list[int]) -> set[int]:
        """The ids claimed, evaluated and completed here (a failing batch is retried item by item)."""
        if not work_ids:
            return set()
        try:
            if self.on_claim is not None:
                self.on_claim(work_ids)
            done = self._evaluate_work_by_ids(work_ids)
        except (M10Error, psycopg.Error) as exc:
            if isinstance(exc, psycopg.OperationalError):
                raise
            if len(work_ids) == 1:
                self._record_failure(work_ids[0], exc)
                return set()
            log.warning("batch of %d failed (%s); evaluating its items one by one", len(work_ids), exc)
            return set().union(*(self._evaluate_ids([work_id]) for work_id in work_ids))
        with_candidate = sum(1 for _, candidate_id in done if candidate_id is not None)
        self.stats.evaluated += with_candidate
        self.stats.skipped += len(done) - with_candidate
        return {work_id for work_id, _ in done}

    def _evaluate_work_by_ids(self, work_ids: list[int]) -> list[tuple[int, int | None]]:
        """On the held connection (in run); if that one broke (server restart, backend terminated),
        once more on a fresh one from the pool. The repeat is safe: a statement that committed before
        the connection broke completed its items, and the repeat skips completed items."""
        if not self._hold_db:
            return self.client.evaluate_work_by_ids(self.consumer, work_ids)
        if self._db is None:
            self._db = self.client.pool.getconn()
        try:
            return self.client.evaluate_work_by_ids(self.consumer, work_ids, conn=self._db)
        except psycopg.OperationalError as exc:
            if not self._db.broken:
                raise
            log.warning("stream worker %s: database connection lost (%s); retrying", self.consumer, exc)
            self._release_db()
            return self.client.evaluate_work_by_ids(self.consumer, work_ids)

    def _release_db(self) -> None:
        """Give the held connection back (the pool replaces a broken one)."""
        if self._db is not None:
            self.client.pool.putconn(self._db)
            self._db = None

    def _record_failure(self, work_id: int, exc: Exception) -> None:
        """Keep the error on the item and leave it pending for the stream's redelivery; retry_in the
        grace period keeps the sweep off it meanwhile (at its last attempt it goes dead)."""
        self.stats.failed += 1
        log.warning("work item %d failed: %s", work_id, exc)
        with self.client.pool.connection() as conn, conn.transaction():
            if self.client.claim_work_by_ids(self.consumer, [work_id], lease_seconds=1, conn=conn):
                self.client.complete_work(
                    work_id,
                    False,
                    f"{type(exc).__name__}: {exc}",
                    worker_id=self.consumer,
                    retry_in_seconds=self.settings.grace_ms / 1000,
                    conn=conn,
                )

    # ---- stalled entries and dead letters --------------------------------------------------------

    def claim_stalled(self) -> ClaimReport:
        """XCLAIM entries idle for M10_CLAIM_IDLE_MS; dead-letter those delivered the maximum number
        of times (counts from XPENDING, before this claim), process the others."""
        s = self.settings
        report = ClaimReport()
        stalled: Any = self.redis.xpending_range(s.stream_key, s.group, "-", "+", 100, idle=s.claim_idle_ms)
        if not stalled:
            return report
        ids = [str(p["message_id"]) for p in stalled]
        # XCLAIM with the idle bound: of several reclaiming consumers exactly one gets each entry.
        reply: Any = self.redis.xclaim(s.stream_key, s.group, self.consumer, s.claim_idle_ms, ids)  # type: ignore[arg-type]
        claimed: dict[str, dict[str, str]] = {str(i): dict(f or {}) for i, f in reply}
        missing = [i for i in ids if i not in claimed]
        if missing:  # trimmed (Redis 7 drops them from the PEL) or just claimed by another consumer
            with self.redis.pipeline(transaction=False) as pipe:
                for entry_id in missing:
                    pipe.xrange(s.stream_key, entry_id, entry_id)
                report.trimmed = sum(1 for found in pipe.execute() if not found)
        retry: list[Entry] = []
        for p in stalled:
            entry_id = str(p["message_id"])
            if entry_id not in claimed:
                continue
            deliveries = int(p["times_delivered"])
            if deliveries >= s.max_reclaim_attempts:
                reason = f"delivered {deliveries} times (M10_MAX_RECLAIM_ATTEMPTS {s.max_reclaim_attempts})"
                if self._dead_letter(entry_id, claimed[entry_id], str(p["consumer"]), deliveries, reason):
                    report.dead_lettered += 1
                else:
                    report.acknowledged += 1
            else:
                retry.append((entry_id, claimed[entry_id]))
        report.reclaimed = len(retry)
        self.stats.reclaimed += len(retry)
        self.stats.trimmed += report.trimmed
        if retry:
            self.process(retry)
        if report.trimmed:
            self.sweep(grace_seconds=s.claim_idle_ms / 1000)
        return report

    def _dead_letter(
        self, entry_id: str, fields: dict[str, str], consumer: str, deliveries: int, reason: str
    ) -> bool:
        """Move an entry to the dead-letter stream (XADD + XACK in one MULTI) after marking its item
        dead in PostgreSQL; False when the item turned out finished or held (then only XACK)."""
        s = self.settings
        work_id = parse_int(fields.get("work_id"))
        last_error = None
        if work_id is not None:
            state, last_error = self.client.dead_letter_work(work_id, reason)
            if state != "dead":
                self.redis.xack(s.stream_key, s.group, entry_id)
                return False
        dead = {
            **{f"orig_{k}": v for k, v in fields.items()},
            "orig_id": entry_id,
            "reason": reason,
            "consumer": consumer,
            "deliveries": str(deliveries),
            "last_error": last_error or "",
            "moved_by": self.consumer,
        }
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(s.dead_letter_stream, dead)  # type: ignore[arg-type]
            pipe.xack(s.stream_key, s.group, entry_id)
            pipe.execute()
        self.stats.dead_lettered += 1
        log.warning("entry %s (work item %s) dead-lettered: %s", entry_id, work_id, reason)
        return True

    # ---- the zero-loss sweep ---------------------------------------------------------------------

    def sweep(self, *, grace_seconds: float | None = None) -> int:
        """Claim from PostgreSQL and evaluate items not completed within the grace period."""
        grace = self.settings.grace_ms / 1000 if grace_seconds is None else grace_seconds
        total = 0
        while True:
            ids = self.client.overdue_work_ids(grace, self.batch_size, method="evaluate")
            done = self._evaluate_ids(ids)
            total += len(done)
            self.stats.swept += len(done)
            # Failed items were rescheduled past the grace period: they do not come back here.
            if len(ids) < self.batch_size or not done:
                return total
