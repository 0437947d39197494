"""What every group of client calls shares: the pool, and running a call on the caller's connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from m10py.errors import translated

Conn = Connection[TupleRow]


class ClientBase:
    def __init__(self, pool: ConnectionPool[Conn]) -> None:
        self.pool = pool

    @contextmanager
    def _conn(self, conn: Conn | None) -> Iterator[Conn]:
        """The caller's connection (its transaction) when given, else a pooled one (autocommit)."""
        if conn is not None:
            with translated():
                yield conn
            return
        with self.pool.connection() as pooled, translated():
            yield pooled
