"""Client calls of the distributed locks (sql/functions/*lock*.sql)."""

from __future__ import annotations

from psycopg.rows import class_row

from m10py import queries
from m10py.client_base import ClientBase, Conn
from m10py.models import LockRow


class LockCalls(ClientBase):
    def acquire_lock(
        self, name: str, holder_id: str, ttl_seconds: int = 60, *, conn: Conn | None = None
    ) -> bool:
        """True when ``holder_id`` holds the lock now; never waits."""
        return self._lock_call(queries.ACQUIRE_LOCK, name, holder_id, ttl_seconds, conn)

    def extend_lock(
        self, name: str, holder_id: str, ttl_seconds: int = 60, *, conn: Conn | None = None
    ) -> bool:
        """False when the lock is not ours or has expired: stop the guarded work."""
        return self._lock_call(queries.EXTEND_LOCK, name, holder_id, ttl_seconds, conn)

    def release_lock(self, name: str, holder_id: str, *, conn: Conn | None = None) -> bool:
        return self._lock_call(queries.RELEASE_LOCK, name, holder_id, None, conn)

    def cleanup_expired_locks(self, *, conn: Conn | None = None) -> int:
        with self._conn(conn) as c:
            row = c.execute(queries.CLEANUP_EXPIRED_LOCKS).fetchone()
        assert row is not None
        return int(row[0])

    def list_locks(self, *, conn: Conn | None = None) -> list[LockRow]:
        with self._conn(conn) as c, c.cursor(row_factory=class_row(LockRow)) as cur:
            return cur.execute(queries.LIST_LOCKS).fetchall()

    def _lock_call(self, query: str, name: str, holder: str, ttl: int | None, conn: Conn | None) -> bool:
        with self._conn(conn) as c:
            row = c.execute(query, {"name": name, "holder": holder, "ttl": ttl}).fetchone()
        assert row is not None
        return bool(row[0])
