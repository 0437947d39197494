"""The database a benchmark run works in: created on the server, migrated, dropped at the end.

Shared by benchmarks/outbox.py, stream.py and pipeline.py (which keep this folder last on sys.path,
so that the standard library's queue module still wins over benchmarks/queue.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from m10py import schema
from m10py.db import with_database

DURABLE = {"fsync": "on", "synchronous_commit": "on"}


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[tuple[str, str]]:
    """Yield (url, server version) of a fresh migrated database named <prefix>_<pid>; drop it after.

    Exits with status 2 unless fsync and synchronous_commit are on: figures from a server that
    does not flush its commits are not comparable.
    """
    db_name = f"{prefix}_{os.getpid()}"
    name = sql.Identifier(db_name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        settings = dict(
            admin.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')"
            ).fetchall()
        )
        if settings != DURABLE:
            raise SystemExit(f"refusing to run: need fsync and synchronous_commit on, got {settings}")
        row = admin.execute("SHOW server_version").fetchone()
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        url = with_database(server_url, db_name)
        schema.migrate(url)
        yield url, str(row[0]) if row else ""
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
