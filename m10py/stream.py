"""The Redis stream bridge: dispatch committed work items to stream workers fast; PostgreSQL stays the
source of truth.

An entry is ``{work_id, candidate_id}``. Losing one loses no work: the item is still in the queue
and the stream workers' sweep claims it from PostgreSQL once it has been ready for the grace period
(see m10py.stream_worker). So every Redis failure here is logged and survived, never raised into an
ingest.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from redis.connection import Connection

from m10py.client import M10Client
from m10py.config import StreamSettings
from m10py.errors import InvalidArgument, NotFound
from m10py.models import IngestResult, StreamDeadLetter, StreamPendingEntry, StreamReplay

log = logging.getLogger(__name__)

# After a failed XADD the publisher leaves Redis alone this long (what is queued meanwhile is given
# up on: PostgreSQL has it), so a dead Redis costs one timeout a second, not one per item.
PUBLISH_BACKOFF_SECONDS = 1.0
# Most XADDs one write carries (a backlog after an outage goes out in several round trips).
SEND_MAX = 1000

STREAM_ID = re.compile(r"[0-9]+-[0-9]+")


def entry_fields(work_id: int, candidate_id: int | None) -> dict[str, str]:
    return {"work_id": str(work_id), "candidate_id": "" if candidate_id is None else str(candidate_id)}


def parse_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def ensure_group(client: redis.Redis, settings: StreamSettings) -> None:
    """Create the consumer group (and the stream) unless it exists. From id 0, so a group recreated
    after Redis lost it still delivers what was added since."""
    try:
        client.xgroup_create(settings.stream_key, settings.group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class StreamPublisher:
    """XADDs committed work items (MAXLEN ~ M10_STREAM_MAX_LEN) from a background thread: the caller
    only queues them and never waits for Redis, dead or slow. What cannot be sent (Redis failing,
    the queue full, the process exiting first) stays claimable in PostgreSQL.

    The thread sends everything queued as one write on a connection of its own (no per-command pool
    checkout or retry). Each write costs a wake-up of the thread and of Redis, which is most of its
    CPU, so under load (the last write less than M10_STREAM_LINGER_MS ago) it waits out that time
    first and the items queued meanwhile share the write; an idle publisher sends at once."""

    def __init__(
        self,
        client: redis.Redis,
        settings: StreamSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_queued: int = 10000,
    ) -> None:
        self.redis = client
        self.settings = settings
        self.clock = clock
        self.max_queued = max_queued
        self.published = 0
        self.failed = 0
        self._queued: list[tuple[int, int | None]] = []
        self._unsent = 0  # queued or being sent
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._group_ready = False
        self._skip_until = 0.0

    def publish_results(self, results: Iterable[IngestResult]) -> None:
        self.publish([(r.work_id, r.candidate_id) for r in results if r.work_id is not None])

    def publish(self, items: Sequence[tuple[int, int | None]]) -> None:
        """Queue each (work_id, candidate_id) for XADD; call only after the commit."""
        if not items:
            return
        with self._lock:
            taken = max(0, min(len(items), self.max_queued - len(self._queued)))
            self._queued.extend(items[:taken])
            self._unsent += taken
            self.failed += len(items) - taken  # the queue is full: PostgreSQL has them
            self._work.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="m10-stream-publisher", daemon=True)
                self._thread.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued was sent or given up on; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: self._unsent == 0, timeout)

    def _run(self) -> None:
        linger = self.settings.linger_ms / 1000
        last_write = -linger
        while True:
            with self._lock:
                self._work.wait_for(lambda: bool(self._queued))
            # Busy (a write went out less than the linger ago): let more items join this one.
            time.sleep(max(0.0, last_write + linger - time.monotonic()))
            last_write = time.monotonic()
            with self._lock:
                batch, self._queued = self._queued[:SEND_MAX], self._queued[SEND_MAX:]
            sent = self._send(batch)
            with self._lock:
                self.published += sent
                self.failed += len(batch) - sent
                self._unsent -= len(batch)
                self._idle.notify_all()

    def _send(self, items: list[tuple[int, int | None]]) -> int:
        """XADD the items in one write; the number Redis confirmed."""
        if self.clock() < self._skip_until:
            return 0
        sent = 0
        error: redis.RedisError | None = None
        try:
            if not self._group_ready:
                ensure_group(self.redis, self.settings)
                self._group_ready = True
            if self._conn is None:
                self._conn = self.redis.connection_pool.get_connection()
            conn = self._conn
            commands: list[list[str | int]] = [self._xadd_args(*item) for item in items]
            if len(items) > 1:
                # One MULTI/EXEC: Redis hands a consumer blocked in XREADGROUP the whole write (up to
                # its COUNT) instead of waking one consumer per XADD with a batch of one, and a write
                # cut short adds nothing.
                commands = [["MULTI"], *commands, ["EXEC"]]
            conn.send_packed_command(conn.pack_commands(commands))  # type: ignore[no-untyped-call]
            replies = [conn.read_response() for _ in commands][-1:]  # EXEC's list, or the one XADD
            if len(items) > 1:
                replies = replies[0] or []
            sent = sum(not isinstance(reply, Exception) for reply in replies)
        except redis.RedisError as exc:  # the rest unconfirmed (added or not: the sweep has them)
            error = exc
            if self._conn is not None:
                # Back to the pool, closed: the next one connects through the pool again, which asks
                # the sentinels where the master is now.
                self._conn.disconnect()  # type: ignore[no-untyped-call]
                self.redis.connection_pool.release(self._conn)
                self._conn = None
        if error is not None:
            self._group_ready = False
            self._skip_until = self.clock() + PUBLISH_BACKOFF_SECONDS
            log.warning(
                "stream XADD of %d of %d work items failed (%s: %s); they stay claimable in PostgreSQL",
                len(items) - sent,
                len(items),
                type(error).__name__,
                error,
            )
        return sent

    def _xadd_args(self, work_id: int, candidate_id: int | None) -> list[str | int]:
        s = self.settings
        args: list[str | int] = ["XADD", s.stream_key, "MAXLEN", "~", s.max_len, "*"]
        for field, value in entry_fields(work_id, candidate_id).items():
            args += [field, value]
        return args


class StreamAdmin:
    """What `m10 stream` shows and does: info, pending entries, dead letters, replay."""

    def __init__(self, client: M10Client, redis_client: redis.Redis, settings: StreamSettings) -> None:
        self.client = client
        self.redis = redis_client
        self.settings = settings

    def info(self) -> dict[str, Any]:
        s = self.settings
        info: dict[str, Any] = {
            "stream": s.stream_key,
            "group": s.group,
            "length": self.redis.xlen(s.stream_key),
            "dead_letter_stream": s.dead_letter_stream,
            "dead_letters": self.redis.xlen(s.dead_letter_stream),
            "group_exists": False,
            "consumers": 0,
            "pending": 0,
            "lag": None,
            "last_delivered_id": None,
        }
        try:
            groups = self.redis.xinfo_groups(s.stream_key)
        except redis.ResponseError:  # no such stream yet
            groups = []
        for group in groups:
            if group["name"] == s.group:
                info.update(
                    group_exists=True,
                    consumers=group["consumers"],
                    pending=group["pending"],
                    lag=group.get("lag"),
                    last_delivered_id=group["last-delivered-id"],
                )
        return info

    def pending(self, *, limit: int = 100, min_idle_ms: int | None = None) -> list[StreamPendingEntry]:
        try:
            rows: Any = self.redis.xpending_range(
                self.settings.stream_key, self.settings.group, "-", "+", limit, idle=min_idle_ms
            )
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                return []
            raise
        return [
            StreamPendingEntry(
                str(r["message_id"]),
                str(r["consumer"]),
                int(r["time_since_delivered"]),
                int(r["times_delivered"]),
            )
            for r in rows
        ]

    def dead_letters(self, *, limit: int = 100) -> list[StreamDeadLetter]:
        rows: Any = self.redis.xrange(self.settings.dead_letter_stream, "-", "+", count=limit)
        replayed = self.client.stream_replays([str(entry_id) for entry_id, _ in rows]) if rows else {}
        return [_dead_letter(str(entry_id), fields, replayed.get(str(entry_id))) for entry_id, fields in rows]

    def replay(self, dead_letter_id: str) -> StreamReplay:
        """Re-add one dead-letter entry to the stream; a second replay of it does nothing.

        Order (under an advisory lock on the entry id): requeue the item in PostgreSQL (committed),
        XADD, then record the replay. A failed XADD raises and records nothing: the entry can be
        replayed again, and the requeued item is the sweep's meanwhile."""
        if not STREAM_ID.fullmatch(dead_letter_id):
            raise InvalidArgument(f"{dead_letter_id!r} is not a stream entry id like 1700000000000-0")
        rows: Any = self.redis.xrange(self.settings.dead_letter_stream, dead_letter_id, dead_letter_id)
        if not rows:
            raise NotFound(
                f"no entry {dead_letter_id} in the dead-letter stream {self.settings.dead_letter_stream!r}"
            )
        entry = _dead_letter(dead_letter_id, rows[0][1], None)
        if entry.work_id is None:
            raise InvalidArgument(f"dead-letter entry {dead_letter_id} names no work item (orig_work_id)")
        with self.client.pool.connection() as conn:
            self.client.lock_stream_replay(dead_letter_id, conn=conn)
            try:
                status = self.client.prepare_stream_replay(dead_letter_id, entry.work_id, conn=conn)
                if status != "ready":
                    status = "already_replayed" if status == "replayed" else status
                    return StreamReplay(dead_letter_id, entry.work_id, status, None)
                fields = {**entry_fields(entry.work_id, entry.candidate_id), "replay_of": dead_letter_id}
                stream_id = str(
                    self.redis.xadd(
                        self.settings.stream_key,
                        fields,  # type: ignore[arg-type]
                        maxlen=self.settings.max_len,
                        approximate=True,
                    )
                )
                self.client.record_stream_replay(dead_letter_id, entry.work_id, stream_id, conn=conn)
                return StreamReplay(dead_letter_id, entry.work_id, "replayed", stream_id)
            finally:
                self.client.unlock_stream_replay(dead_letter_id, conn=conn)

    def replay_all(self, *, page: int = 100) -> list[StreamReplay]:
        """Replay every entry of the dead-letter stream not replayed before."""
        results: list[StreamReplay] = []
        start = "-"
        while True:
            rows: Any = self.redis.xrange(self.settings.dead_letter_stream, start, "+", count=page)
            for entry_id, _ in rows:
                results.append(self.replay(str(entry_id)))
            if len(rows) < page:
                return results
            start = "(" + str(rows[-1][0])


def _dead_letter(entry_id: str, fields: dict[str, str], replayed_as: str | None) -> StreamDeadLetter:
    return StreamDeadLetter(
        id=entry_id,
        work_id=parse_int(fields.get("orig_work_id")),
        candidate_id=parse_int(fields.get("orig_candidate_id")),
        orig_id=fields.get("orig_id"),
        reason=fields.get("reason"),
        consumer=fields.get("consumer"),
        deliveries=parse_int(fields.get("deliveries")),
        last_error=fields.get("last_error") or None,
        replayed_as=replayed_as,
    )
