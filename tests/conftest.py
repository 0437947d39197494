"""Databases for the tests, from the same resolver the CLI and the demo use.

DATABASE_URL / REDIS_URL when set; else containers when Docker answers; else embedded servers.
One template database is migrated per session; `db` is a connection to a clone inside a transaction
that is rolled back after the test; `fresh_db_url` is a database of its own for tests that commit or
use several connections; `empty_db_url` has no schema at all.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from psycopg import Connection, sql
from psycopg.rows import TupleRow

from m10py import schema
from m10py.client import M10Client
from m10py.config import Settings
from m10py.db import create_pool, with_database
from m10py.services import ServiceResolver

HELPERS_SQL = Path(__file__).parent / "sql" / "_helpers.sql"

# CI explores the same examples on every run (a red CI run names a bug, not a lucky draw); developers'
# runs draw new examples each time and keep the failures they find in .hypothesis/.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _admin(url: str) -> Connection[TupleRow]:
    return psycopg.connect(url, autocommit=True)


def _create_database(server_url: str, name: str, template: str | None = None) -> str:
    with _admin(server_url) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(stmt)
    return with_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceResolver]:
    with ServiceResolver(Settings.from_env()) as resolver:
        yield resolver


@pytest.fixture(scope="session")
def server_url(services: ServiceResolver) -> str:
    return services.database_url()


@pytest.fixture(scope="session")
def redis_url(services: ServiceResolver) -> str:
    return services.redis_url()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """Name of a database migrated once per session (with the SQL test helpers loaded)."""
    name = f"m10_tpl_{os.getpid()}"
    _drop_database(server_url, name)
    url = _create_database(server_url, name)
    schema.migrate(url)
    with _admin(url) as conn:
        conn.execute(HELPERS_SQL.read_text())  # type: ignore[arg-type]
    yield name
    _drop_database(server_url, name)


@pytest.fixture(scope="session")
def shared_db_url(server_url: str, template_db: str) -> Iterator[str]:
    name = f"m10_shared_{os.getpid()}"
    url = _create_database(server_url, name, template_db)
    yield url
    _drop_database(server_url, name)


@pytest.fixture
def db(shared_db_url: str) -> Iterator[Connection[TupleRow]]:
    """A connection inside a transaction that is rolled back after the test."""
    conn = psycopg.connect(shared_db_url, autocommit=False)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture
def fresh_db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A migrated database of the test's own, for commits and several connections."""
    name = f"m10_t_{uuid.uuid4().hex[:12]}"
    url = _create_database(server_url, name, template_db)
    yield url
    _drop_database(server_url, name)


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """A database with no m10 schema, for migration tests."""
    name = f"m10_e_{uuid.uuid4().hex[:12]}"
    url = _create_database(server_url, name)
    yield url
    _drop_database(server_url, name)


@pytest.fixture
def client(fresh_db_url: str) -> Iterator[M10Client]:
    pool = create_pool(fresh_db_url, min_size=1, max_size=8)
    try:
        yield M10Client(pool)
    finally:
        pool.close()
