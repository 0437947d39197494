"""Client calls of the durable work queue (sql/functions/*work*.sql)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from m10py import queries
from m10py.client_base import ClientBase, Conn
from m10py.consumer import WorkConsumer
from m10py.jsonutil import bigint_array, json_array, jsonb
from m10py.models import ClaimedWork, QueueStats, claimed_items


class QueueCalls(ClientBase):
    def enqueue_work(
        self,
        *,
        candidate_id: int | None = None,
        method: str = "evaluate",
        payload: dict[str, Any] | None = None,
        priority: int = 0,
        delay_seconds: float = 0,
        max_attempts: int | None = None,
        conn: Conn | None = None,
    ) -> int:
        params = {
            "candidate_id": candidate_id,
            "method": method,
            "payload": jsonb({} if payload is None else payload, "payload"),
            "priority": priority,
            "delay_seconds": delay_seconds,
            "max_attempts": max_attempts,
        }
        with self._conn(conn) as c:
            row = c.execute(queries.ENQUEUE_WORK, params).fetchone()
        assert row is not None
        return int(row[0])

    def enqueue_work_batch(
        self,
        payloads: Sequence[dict[str, Any]],
        *,
        method: str = "evaluate",
        priority: int = 0,
        delay_seconds: float = 0,
        max_attempts: int | None = None,
        candidate_ids: Sequence[int] | None = None,
        conn: Conn | None = None,
    ) -> list[int]:
        params = {
            # One JSON array instead of a list of jsonb: a third of the client's cost per batch.
            "payloads": json_array(payloads),
            "method": method,
            "priority": priority,
            "delay_seconds": delay_seconds,
            "max_attempts": max_attempts,
            "candidate_ids": list(candidate_ids) if candidate_ids is not None else None,
        }
        with self._conn(conn) as c:
            return [int(r[0]) for r in c.execute(queries.ENQUEUE_WORK_BATCH, params)]

    def claim_work(
        self,
        worker_id: str,
        batch_size: int = 10,
        *,
        lease_seconds: int = 300,
        method: str | None = None,
        conn: Conn | None = None,
    ) -> list[ClaimedWork]:
        params = {
            "worker_id": worker_id,
            "batch_size": batch_size,
            "lease_seconds": lease_seconds,
            "method": method,
        }
        with self._conn(conn) as c, c.cursor(binary=True) as cur:
            return claimed_items(cur.execute(queries.CLAIM_WORK, params).fetchall())

    def complete_and_claim(
        self,
        worker_id: str,
        completed_ids: Sequence[int],
        batch_size: int = 10,
        *,
        lease_seconds: int = 300,
        method: str | None = None,
        conn: Conn | None = None,
    ) -> list[ClaimedWork]:
        """Complete ``completed_ids`` and claim the next batch in one round trip."""
        params = {
            "worker_id": worker_id,
            "completed_ids": bigint_array(completed_ids),
            "batch_size": batch_size,
            "lease_seconds": lease_seconds,
            "method": method,
        }
        with self._conn(conn) as c, c.cursor(binary=True) as cur:
            return claimed_items(cur.execute(queries.COMPLETE_AND_CLAIM, params).fetchall())

    @contextmanager
    def consume_work(
        self,
        worker_id: str,
        batch_size: int = 10,
        *,
        lease_seconds: int = 300,
        method: str | None = None,
        conn: Conn | None = None,
    ) -> Iterator[WorkConsumer]:
        """A WorkConsumer (claims the next batch while the caller works) on ``conn`` or a pooled
        connection, closed at the end of the block: completions written, a batch claimed ahead given back."""
        with (
            self._conn(conn) as c,
            WorkConsumer(c, worker_id, batch_size, lease_seconds=lease_seconds, method=method) as consumer,
        ):
            yield consumer

    def release_work(self, worker_id: str, work_ids: Sequence[int], *, conn: Conn | None = None) -> int:
        """Give back items ``worker_id`` claimed and did not start; returns how many were released."""
        params = {"worker_id": worker_id, "work_ids": bigint_array(work_ids)}
        with self._conn(conn) as c:
            row = c.execute(queries.RELEASE_WORK, params).fetchone()
        assert row is not None
        return int(row[0])

    def complete_work(
        self,
        work_id: int,
        success: bool,
        error: str | None = None,
        *,
        worker_id: str | None = None,
        retry_in_seconds: float | None = None,
        conn: Conn | None = None,
    ) -> bool:
        """True when the outcome was recorded; False when it was a no-op (see the SQL comment)."""
        params = {
            "work_id": work_id,
            "success": success,
            # Error text is diagnostics: a NUL (which PostgreSQL cannot store) must not lose the outcome.
            "error": error.replace("\x00", "\ufffd") if error is not None else None,
            "worker_id": worker_id,
            "retry_in_seconds": retry_in_seconds,
        }
        with self._conn(conn) as c:
            row = c.execute(queries.COMPLETE_WORK, params).fetchone()
        assert row is not None
        return bool(row[0])

    def release_stalled_work(self, stalled_seconds: int = 300, *, conn: Conn | None = None) -> int:
        with self._conn(conn) as c:
            row = c.execute(queries.RELEASE_STALLED_WORK, {"stalled_seconds": stalled_seconds}).fetchone()
        assert row is not None
        return int(row[0])

    def queue_stats(self, *, conn: Conn | None = None) -> list[QueueStats]:
        with self._conn(conn) as c, c.cursor(row_factory=class_row(QueueStats)) as cur:
            return cur.execute(queries.QUEUE_STATS).fetchall()

    def extend_work_lease(
        self, work_id: int, worker_id: str, lease_seconds: int = 300, *, conn: Conn | None = None
    ) -> datetime | None:
        """The new end of the lease, or None when the worker no longer holds the item: stop working."""
        params = {"work_id": work_id, "worker_id": worker_id, "lease_seconds": lease_seconds}
        with self._conn(conn) as c:
            row = c.execute(queries.EXTEND_WORK_LEASE, params).fetchone()
        assert row is not None
        expires: datetime | None = row[0]
        return expires

    def requeue_dead_work(
        self,
        work_ids: Sequence[int] | None = None,
        *,
        method: str | None = None,
        conn: Conn | None = None,
    ) -> int:
        params = {"work_ids": list(work_ids) if work_ids is not None else None, "method": method}
        with self._conn(conn) as c:
            row = c.execute(queries.REQUEUE_DEAD_WORK, params).fetchone()
        assert row is not None
        return int(row[0])
