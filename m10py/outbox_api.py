"""Client calls of the transactional outbox (sql/functions/*outbox*.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import class_row

from m10py import queries
from m10py.client_base import ClientBase, Conn
from m10py.jsonutil import bigint_array, jsonb
from m10py.models import DeadLetter, OutboxEvent, OutboxStats


class OutboxCalls(ClientBase):
    def publish_outbox(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        aggregate_type: str | None = None,
        aggregate_id: str | None = None,
        conn: Conn | None = None,
    ) -> int:
        """Publish in ``conn``'s transaction (pass one!): the event leaves only if that commits."""
        params = {
            "event_type": event_type,
            "payload": jsonb(payload, "payload"),
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
        }
        with self._conn(conn) as c:
            row = c.execute(queries.PUBLISH_OUTBOX, params).fetchone()
        assert row is not None
        return int(row[0])

    def claim_outbox(
        self,
        processor_id: str,
        batch_size: int = 10,
        *,
        lease_seconds: int = 60,
        max_attempts: int = 10,
        conn: Conn | None = None,
    ) -> list[OutboxEvent]:
        params = {
            "processor_id": processor_id,
            "batch_size": batch_size,
            "lease_seconds": lease_seconds,
            "max_attempts": max_attempts,
        }
        with self._conn(conn) as c, c.cursor(row_factory=class_row(OutboxEvent)) as cur:
            return cur.execute(queries.CLAIM_OUTBOX, params).fetchall()

    def complete_outbox(
        self, outbox_ids: Sequence[int], processor_id: str, *, conn: Conn | None = None
    ) -> int:
        """How many of ``outbox_ids`` this processor still held and marked processed."""
        params = {"outbox_ids": bigint_array(outbox_ids), "processor_id": processor_id}
        with self._conn(conn) as c:
            row = c.execute(queries.COMPLETE_OUTBOX, params).fetchone()
        assert row is not None
        return int(row[0])

    def fail_outbox(
        self,
        outbox_id: int,
        processor_id: str,
        error: str,
        *,
        retry_in_seconds: float | None = None,
        dead_letter: bool = False,
        max_attempts: int = 10,
        base_seconds: float = 2,
        cap_seconds: float = 600,
        conn: Conn | None = None,
    ) -> str:
        """'retry', 'dead' or 'stale' (see the SQL comment)."""
        params = {
            "outbox_id": outbox_id,
            "processor_id": processor_id,
            # Error text is diagnostics: a NUL (which PostgreSQL cannot store) must not lose the outcome.
            "error": error.replace("\x00", "\ufffd"),
            "retry_in_seconds": retry_in_seconds,
            "dead_letter": dead_letter,
            "max_attempts": max_attempts,
            "base_seconds": base_seconds,
            "cap_seconds": cap_seconds,
        }
        with self._conn(conn) as c:
            row = c.execute(queries.FAIL_OUTBOX, params).fetchone()
        assert row is not None
        return str(row[0])

    def replay_outbox(
        self,
        outbox_ids: Sequence[int] | None = None,
        *,
        event_type_prefix: str | None = None,
        replay_all: bool = False,
        conn: Conn | None = None,
    ) -> int:
        params = {
            "outbox_ids": list(outbox_ids) if outbox_ids is not None else None,
            "prefix": event_type_prefix,
            "all": replay_all,
        }
        with self._conn(conn) as c:
            row = c.execute(queries.REPLAY_OUTBOX, params).fetchone()
        assert row is not None
        return int(row[0])

    def outbox_stats(self, *, conn: Conn | None = None) -> OutboxStats:
        with self._conn(conn) as c, c.cursor(row_factory=class_row(OutboxStats)) as cur:
            row = cur.execute(queries.OUTBOX_STATS).fetchone()
        assert row is not None
        return row

    def dead_letters(self, limit: int = 50, *, conn: Conn | None = None) -> list[DeadLetter]:
        with self._conn(conn) as c, c.cursor(row_factory=class_row(DeadLetter)) as cur:
            return cur.execute(queries.LIST_DEAD_LETTERS, {"limit": limit}).fetchall()
