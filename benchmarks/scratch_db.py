"""The database a benchmark run works in (created on the server, migrated, dropped at the end) and
where its results go.

Shared by benchmarks/outbox.py, stream.py and pipeline.py (which keep this folder last on sys.path,
so that the standard library's queue module still wins over benchmarks/queue.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from m10py import schema
from m10py.db import with_database

DURABLE = {"fsync": "on", "synchronous_commit": "on"}
RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, result: dict[str, Any]) -> None:
    """Write benchmarks/results/<name>.json (whole or not at all) and say so."""
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"wrote benchmarks/results/{out.name}")


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
