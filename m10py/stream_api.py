"""Client calls of the stream bridge's SQL (claim by id, the zero-loss sweep, dead letters, replays)."""

from __future__ import annotations

from collections.abc import Sequence

from m10py import queries
from m10py.client_base import ClientBase, Conn
from m10py.jsonutil import bigint_array
from m10py.models import ClaimedWork, claimed_items


class StreamCalls(ClientBase):
    def claim_work_by_ids(
        self, worker_id: str, work_ids: Sequence[int], *, lease_seconds: int = 300, conn: Conn | None = None
    ) -> list[ClaimedWork]:
        """Claim those of `work_ids` still pending or whose lease expired (SKIP LOCKED)."""
        params = {"worker_id": worker_id, "work_ids": bigint_array(work_ids), "lease_seconds": lease_seconds}
        with self._conn(conn) as c, c.cursor(binary=True) as cur:
            return claimed_items(cur.execute(queries.CLAIM_WORK_BY_IDS, params).fetchall())

    def overdue_work_ids(
        self,
        grace_seconds: float,
        batch_size: int = 10,
        *,
        method: str | None = None,
        conn: Conn | None = None,
    ) -> list[int]:
        """The zero-loss sweep's ids: expired leases, then items ready for longer than grace_seconds."""
        params = {"grace_seconds": grace_seconds, "batch_size": batch_size, "method": method}
        with self._conn(conn) as c:
            row = c.execute(queries.OVERDUE_WORK_IDS, params).fetchone()
        assert row is not None
        return list(row[0])

    def evaluate_work_by_ids(
        self, worker_id: str, work_ids: Sequence[int], *, conn: Conn | None = None
    ) -> list[tuple[int, int | None]]:
        """Lock, evaluate and complete the claimable items of `work_ids` in one statement;
        (work_id, candidate_id) of those done."""
        params = {"worker_id": worker_id, "work_ids": bigint_array(work_ids)}
        with self._conn(conn) as c:
            return [(int(r[0]), r[1]) for r in c.execute(queries.EVALUATE_WORK_BY_IDS, params)]

    def work_item_states(self, work_ids: Sequence[int], *, conn: Conn | None = None) -> dict[int, str]:
        """pending, claimed, lease_expired, dead or completed, by work id."""
        with self._conn(conn) as c:
            rows = c.execute(queries.WORK_ITEM_STATES, {"work_ids": bigint_array(work_ids)}).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def dead_letter_work(
        self, work_id: int, reason: str, *, conn: Conn | None = None
    ) -> tuple[str, str | None]:
        """(state afterwards: dead, completed or claimed; the item's last error before)."""
        with self._conn(conn) as c:
            row = c.execute(queries.DEAD_LETTER_WORK, {"work_id": work_id, "reason": reason}).fetchone()
        assert row is not None
        return str(row[0]), row[1]

    def prepare_stream_replay(self, dead_letter_id: str, work_id: int, *, conn: Conn | None = None) -> str:
        """replayed, completed or ready (the item requeued if it was dead)."""
        params = {"dead_letter_id": dead_letter_id, "work_id": work_id}
        with self._conn(conn) as c:
            row = c.execute(queries.PREPARE_STREAM_REPLAY, params).fetchone()
        assert row is not None
        return str(row[0])

    def record_stream_replay(
        self, dead_letter_id: str, work_id: int, stream_id: str, *, conn: Conn | None = None
    ) -> bool:
        params = {"dead_letter_id": dead_letter_id, "work_id": work_id, "stream_id": stream_id}
        with self._conn(conn) as c:
            row = c.execute(queries.RECORD_STREAM_REPLAY, params).fetchone()
        assert row is not None
        return bool(row[0])

    def stream_replays(self, dead_letter_ids: Sequence[str], *, conn: Conn | None = None) -> dict[str, str]:
        """The stream id each of `dead_letter_ids` was replayed as, for those replayed."""
        with self._conn(conn) as c:
            rows = c.execute(queries.STREAM_REPLAYS, {"dead_letter_ids": list(dead_letter_ids)}).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def lock_stream_replay(self, dead_letter_id: str, *, conn: Conn) -> None:
        """Session lock serialising replays of one entry; hold it on `conn` until unlock_stream_replay."""
        conn.execute(queries.STREAM_REPLAY_LOCK, {"dead_letter_id": dead_letter_id})

    def unlock_stream_replay(self, dead_letter_id: str, *, conn: Conn) -> None:
        conn.execute(queries.STREAM_REPLAY_UNLOCK, {"dead_letter_id": dead_letter_id})
