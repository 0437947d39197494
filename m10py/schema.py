"""Versioned SQL: yoyo migrations for tables, then the functions and views of sql/, with a registry.

The registry (m10_recovery.schema_registry) keeps, for every object applied from the package, the
sha256 of its file and of its definition as PostgreSQL prints it right after applying. `status`
compares both: a changed file is *outdated* (run migrate), a changed definition is *drifted* (someone
edited the database by hand).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from psycopg import Connection, sql
from psycopg.rows import TupleRow
from yoyo import get_backend, read_migrations

from m10py import __version__
from m10py.db import connect
from m10py.resources import migrations_dir, sql_dir

SCHEMA = "m10_recovery"
ObjectKind = Literal["function", "view"]
ObjectState = Literal["ok", "missing", "outdated", "drifted", "unknown"]

_MIGRATE_LOCK = "m10py.schema.migrate"

# Definition hash of every package object as the database prints it. Comments are included, so
# a hand-edited COMMENT is drift too; several functions of one name (an overload) change the hash.
_DB_HASHES = """
SELECT 'function' AS kind, p.proname AS name,
       encode(sha256(convert_to(string_agg(
           pg_get_functiondef(p.oid) || coalesce(obj_description(p.oid, 'pg_proc'), ''),
           E'\\n' ORDER BY p.oid::regprocedure::text), 'UTF8')), 'hex') AS db_sha256
  FROM pg_proc p
 WHERE p.pronamespace = %(schema)s::regnamespace
 GROUP BY p.proname
UNION ALL
SELECT 'view', c.relname,
       encode(sha256(convert_to(c.relkind::text || pg_get_viewdef(c.oid)
           || coalesce(obj_description(c.oid, 'pg_class'), '')
           || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), E'\\n' ORDER BY 1)
                          FROM pg_index i WHERE i.indrelid = c.oid), ''), 'UTF8')), 'hex')
  FROM pg_class c
 WHERE c.relnamespace = %(schema)s::regnamespace AND c.relkind IN ('v', 'm')
"""


@dataclass(frozen=True)
class SqlObject:
    kind: ObjectKind
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def file_sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ObjectStatus:
    kind: str
    name: str
    state: ObjectState


@dataclass
class SchemaStatus:
    package_version: str
    applied_migrations: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)
    changed_migrations: list[str] = field(default_factory=list)
    objects: list[ObjectStatus] = field(default_factory=list)

    @property
    def problems(self) -> list[ObjectStatus]:
        return [o for o in self.objects if o.state != "ok"]

    @property
    def clean(self) -> bool:
        return not (self.pending_migrations or self.changed_migrations or self.problems)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


@dataclass(frozen=True)
class MigrateResult:
    migrations_applied: list[str]
    objects_applied: list[str]
    objects_unchanged: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RollbackResult:
    migrations_rolled_back: list[str]
    objects_dropped: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def package_objects() -> list[SqlObject]:
    """Functions first, then views, each in file-name order (file stem = object name)."""
    root = sql_dir()
    found: list[SqlObject] = []
    for kind, folder in (("function", "functions"), ("view", "views")):
        for path in sorted((root / folder).glob("*.sql")):
            found.append(SqlObject(kind, path.stem, path))  # type: ignore[arg-type]
    return found


def _yoyo_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


@contextmanager
def _yoyo(url: str) -> Iterator[tuple[Any, Any]]:
    backend = get_backend(_yoyo_url(url))
    try:
        yield backend, read_migrations(str(migrations_dir()))
    finally:
        backend.connection.close()


def _migration_hashes() -> dict[str, str]:
    return {
        p.stem: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(migrations_dir().glob("*.sql"))
        if not p.name.endswith(".rollback.sql")
    }


def _db_hashes(conn: Connection[TupleRow]) -> dict[tuple[str, str], str]:
    if not _schema_exists(conn):
        return {}
    rows = conn.execute(_DB_HASHES, {"schema": SCHEMA}).fetchall()
    return {(kind, name): digest for kind, name, digest in rows}


def _schema_exists(conn: Connection[TupleRow]) -> bool:
    row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (SCHEMA,)).fetchone()
    return bool(row and row[0])


def _registry(conn: Connection[TupleRow]) -> dict[tuple[str, str], tuple[str, str | None]]:
    row = conn.execute("SELECT to_regclass('m10_recovery.schema_registry') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return {}
    rows = conn.execute("SELECT kind, name, file_sha256, db_sha256 FROM m10_recovery.schema_registry")
    return {(k, n): (f, d) for k, n, f, d in rows}


def migrate(url: str, *, force: bool = False) -> MigrateResult:
    """Apply pending migrations, then every package object that is new, changed or drifted."""
    with _yoyo(url) as (backend, migrations), backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
        applied_migrations = [m.id for m in pending]

    applied: list[str] = []
    unchanged = 0
    with connect(url, autocommit=False) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_MIGRATE_LOCK,))
        # Bodies reference each other and tables; check them when called, not in file order.
        conn.execute("SET LOCAL check_function_bodies = off")
        registry = _registry(conn)
        db_hashes = _db_hashes(conn)
        for obj in package_objects():
            key = (obj.kind, obj.name)
            recorded = registry.get(key)
            up_to_date = (
                recorded is not None and recorded[0] == obj.file_sha256 and recorded[1] == db_hashes.get(key)
            )
            if up_to_date and not force:
                unchanged += 1
                continue
            if obj.kind == "view" and key in db_hashes:
                _drop_view(conn, obj.name)
            conn.execute(obj.text)  # package file, not user input
            applied.append(f"{obj.kind}:{obj.name}")
        db_hashes = _db_hashes(conn)
        for obj in package_objects():
            _record(conn, obj.kind, obj.name, obj.file_sha256, db_hashes.get((obj.kind, obj.name)))
        for name, digest in _migration_hashes().items():
            if name in applied_migrations or ("migration", name) not in registry:
                _record(conn, "migration", name, digest, None)
    return MigrateResult(applied_migrations, applied, unchanged)


def _record(conn: Connection[TupleRow], kind: str, name: str, file_sha: str, db_sha: str | None) -> None:
    conn.execute(
        """
        INSERT INTO m10_recovery.schema_registry (kind, name, file_sha256, db_sha256, package_version)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (kind, name) DO UPDATE
           SET file_sha256 = EXCLUDED.file_sha256, db_sha256 = EXCLUDED.db_sha256,
               package_version = EXCLUDED.package_version, applied_at = now()
        """,
        (kind, name, file_sha, db_sha, __version__),
    )


def _drop_view(conn: Connection[TupleRow], name: str) -> None:
    row = conn.execute(
        "SELECT relkind FROM pg_class WHERE relnamespace = %s::regnamespace AND relname = %s",
        (SCHEMA, name),
    ).fetchone()
    if row is None:
        return
    keyword = "MATERIALIZED VIEW" if row[0] == "m" else "VIEW"
    conn.execute(sql.SQL("DROP {} IF EXISTS {}").format(sql.SQL(keyword), sql.Identifier(SCHEMA, name)))


def status(url: str) -> SchemaStatus:
    with _yoyo(url) as (backend, migrations):
        pending = [m.id for m in backend.to_apply(migrations)]
        applied = [m.id for m in migrations if m.id not in pending]
    result = SchemaStatus(__version__, applied, pending)
    with connect(url) as conn:
        registry = _registry(conn)
        db_hashes = _db_hashes(conn)
    for name, digest in _migration_hashes().items():
        recorded = registry.get(("migration", name))
        if name in applied and recorded is not None and recorded[0] != digest:
            result.changed_migrations.append(name)
    package = {(o.kind, o.name): o for o in package_objects()}
    for key, obj in package.items():
        recorded = registry.get(key)
        state: ObjectState
        if key not in db_hashes:
            state = "missing"
        elif recorded is None or recorded[0] != obj.file_sha256:
            state = "outdated"
        elif recorded[1] != db_hashes[key]:
            state = "drifted"
        else:
            state = "ok"
        result.objects.append(ObjectStatus(obj.kind, obj.name, state))
    for kind, name in sorted(set(db_hashes) - set(package)):
        result.objects.append(ObjectStatus(kind, name, "unknown"))
    return result


def rollback(url: str, *, steps: int | None = 1) -> RollbackResult:
    """Drop the package's functions and views, then roll back `steps` migrations (None: all).

    The functions of a package version belong to its schema version, so after a rollback they are
    left out until `migrate` (of the package version you want) applies them again.
    """
    if steps is not None and steps < 1:
        raise ValueError("steps must be at least 1")
    dropped: list[str] = []
    with connect(url, autocommit=False) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_MIGRATE_LOCK,))
        if _schema_exists(conn):
            names = [o.name for o in package_objects()]
            for obj in reversed(package_objects()):
                if obj.kind == "view":
                    _drop_view(conn, obj.name)
                    dropped.append(f"view:{obj.name}")
            procs = conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p"
                " WHERE p.pronamespace = %s::regnamespace AND p.proname = ANY(%s)",
                (SCHEMA, names),
            ).fetchall()
            for (signature,) in procs:
                # regprocedure text is the catalog's own quoted signature
                # CASCADE: the append-only triggers depend on their function; the tables go next.
                conn.execute(sql.SQL("DROP FUNCTION {} CASCADE").format(sql.SQL(signature)))
                dropped.append(f"function:{signature}")
            if _registry(conn):
                conn.execute("DELETE FROM m10_recovery.schema_registry WHERE kind <> 'migration'")
    with _yoyo(url) as (backend, migrations), backend.lock():
        to_rollback = backend.to_rollback(migrations)
        if steps is not None:
            to_rollback = to_rollback[:steps]
        backend.rollback_migrations(to_rollback)
        rolled = [m.id for m in to_rollback]
    if rolled:
        with connect(url) as conn:
            if _registry(conn):
                conn.execute(
                    "DELETE FROM m10_recovery.schema_registry WHERE kind = 'migration' AND name = ANY(%s)",
                    (rolled,),
                )
    return RollbackResult(rolled, dropped)
