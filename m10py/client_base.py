"""What every group of client calls shares: the pool, and running a call on the caller's connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from m10py.errors import translated

if TYPE_CHECKING:
    from m10py.stream import StreamPublisher

Conn = Connection[TupleRow]


class ClientBase:
    def __init__(self, pool: ConnectionPool[Conn], stream: StreamPublisher | None = None) -> None:
        self.pool = pool
        # With a publisher, an ingest that commits on its own XADDs its work item to the stream.
        self.stream = stream

    @contextmanager
    def _conn(self, conn: Conn | None) -> Iterator[Conn]:
        """The caller's connection (its transaction) when given, else a pooled one (autocommit)."""
        if conn is not None:
            with translated():
                yield conn
            return
        with self.pool.connection() as pooled, translated():
            yield pooled
