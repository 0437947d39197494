"""Connections: one pool per process, built once and passed to whoever needs it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

APPLICATION_NAME = "m10py"


def connect(url: str, *, autocommit: bool = True) -> Connection[TupleRow]:
    """A single connection, for the CLI and for migrations."""
    return Connection.connect(url, autocommit=autocommit, application_name=APPLICATION_NAME)


def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> ConnectionPool[Connection[TupleRow]]:
    """A pool whose connections are checked on checkout, so a dropped connection is replaced."""
    pool: ConnectionPool[Connection[TupleRow]] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "application_name": APPLICATION_NAME},
        check=ConnectionPool.check_connection,
        open=False,
    )
    pool.open(wait=True, timeout=30)
    return pool


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (URL form, as DATABASE_URL takes)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError("expected a postgresql:// URL")
    return urlunsplit(parts._replace(path=f"/{dbname}"))
