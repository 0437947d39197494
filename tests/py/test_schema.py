"""Versioned SQL: migrate, status (pending, drift, outdated), rollback, and the package/DB match."""

from __future__ import annotations

import hashlib
import multiprocessing
import re
from pathlib import Path

import psycopg
import pytest

from m10py import schema
from m10py.resources import migrations_dir, sql_dir

# Everything that makes up the schema as PostgreSQL sees it, for comparing two databases.
CATALOG_FINGERPRINT = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                 || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'm10_recovery'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'm10_recovery'
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'm10_recovery'::regnamespace
UNION ALL
SELECT 'function', pg_get_functiondef(oid) || coalesce(obj_description(oid, 'pg_proc'), '')
  FROM pg_proc WHERE pronamespace = 'm10_recovery'::regnamespace
UNION ALL
SELECT 'type', t.typname || ' ' || string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ','
                                              ORDER BY a.attnum)
  FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE t.typnamespace = 'm10_recovery'::regnamespace AND c.relkind = 'c'
 GROUP BY t.typname
UNION ALL
SELECT 'trigger', tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
  FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'm10_recovery.%%'
UNION ALL
SELECT 'seed', 'work_methods ' || string_agg(name || '/' || default_max_attempts, ',' ORDER BY name)
  FROM m10_recovery.work_methods
ORDER BY 1, 2
"""


MIGRATIONS = sorted(p.stem for p in migrations_dir().glob("*.sql") if not p.name.endswith(".rollback.sql"))


def fingerprint(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(k, v) for k, v in conn.execute(CATALOG_FINGERPRINT).fetchall()]


def test_fresh_migrate_shows_no_drift(empty_db_url: str) -> None:
    before = schema.status(empty_db_url)
    assert before.pending_migrations == MIGRATIONS
    assert {o.state for o in before.objects} == {"missing"}

    result = schema.migrate(empty_db_url)
    assert result.migrations_applied == MIGRATIONS
    assert len(result.objects_applied) == len(schema.package_objects())

    after = schema.status(empty_db_url)
    assert after.clean, after.to_json()
    assert [o.state for o in after.objects] == ["ok"] * len(schema.package_objects())

    again = schema.migrate(empty_db_url)
    assert again.migrations_applied == [] and again.objects_applied == []
    assert again.objects_unchanged == len(schema.package_objects())


def test_hand_edited_function_shows_as_drift_and_migrate_repairs_it(fresh_db_url: str) -> None:
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(
            """CREATE OR REPLACE FUNCTION m10_recovery.retry_delay(
                   p_attempt integer, p_base_seconds double precision DEFAULT 2,
                   p_cap_seconds double precision DEFAULT 600)
               RETURNS double precision LANGUAGE sql SET search_path = pg_catalog, pg_temp
               AS $$ SELECT 60::double precision $$"""
        )
        conn.execute("COMMENT ON FUNCTION m10_recovery.queue_stats(timestamptz) IS 'edited by hand'")
    status = schema.status(fresh_db_url)
    assert {(o.name, o.state) for o in status.problems} == {
        ("retry_delay", "drifted"),
        ("queue_stats", "drifted"),
    }
    assert not status.clean

    repaired = schema.migrate(fresh_db_url)
    assert sorted(repaired.objects_applied) == ["function:queue_stats", "function:retry_delay"]
    assert schema.status(fresh_db_url).clean


def test_extra_overload_and_unknown_function_are_reported(fresh_db_url: str) -> None:
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION m10_recovery.retry_delay(p_attempt text) RETURNS int"
            " LANGUAGE sql AS $$ SELECT 1 $$"
        )
        conn.execute("CREATE FUNCTION m10_recovery.handmade() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$")
    states = {(o.name, o.state) for o in schema.status(fresh_db_url).problems}
    assert states == {("retry_delay", "drifted"), ("handmade", "unknown")}


def test_changed_package_file_shows_as_outdated(fresh_db_url: str) -> None:
    # Simulate an upgrade of the package: the registry remembers another file hash.
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE m10_recovery.schema_registry SET file_sha256 = 'older'"
            " WHERE kind = 'function' AND name = 'claim_work'"
        )
    assert [(o.name, o.state) for o in schema.status(fresh_db_url).problems] == [("claim_work", "outdated")]
    assert schema.migrate(fresh_db_url).objects_applied == ["function:claim_work"]
    assert schema.status(fresh_db_url).clean


def test_edited_migration_after_apply_is_reported(fresh_db_url: str) -> None:
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE m10_recovery.schema_registry SET file_sha256 = 'before-edit'"
            " WHERE kind = 'migration' AND name = '0001_foundation'"
        )
    status = schema.status(fresh_db_url)
    assert status.changed_migrations == ["0001_foundation"]
    assert not status.clean


def test_migrate_rollback_all_migrate_round_trips(empty_db_url: str) -> None:
    schema.migrate(empty_db_url)
    first = fingerprint(empty_db_url)
    assert first, "the fingerprint query found the schema"

    rolled = schema.rollback(empty_db_url, steps=None)
    assert rolled.migrations_rolled_back == MIGRATIONS[::-1]
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute("SELECT to_regnamespace('m10_recovery')").fetchone()
    assert row == (None,), "rollback of every migration removes the schema"
    status = schema.status(empty_db_url)
    assert status.pending_migrations == MIGRATIONS

    schema.migrate(empty_db_url)
    assert fingerprint(empty_db_url) == first
    assert schema.status(empty_db_url).clean


def test_rollback_one_step_then_migrate_restores_the_same_schema(empty_db_url: str) -> None:
    schema.migrate(empty_db_url)
    first = fingerprint(empty_db_url)
    rolled = schema.rollback(empty_db_url, steps=1)
    assert rolled.migrations_rolled_back == MIGRATIONS[-1:]
    status = schema.status(empty_db_url)
    assert status.pending_migrations == MIGRATIONS[-1:]
    assert {o.state for o in status.objects} == {"missing"}, "functions wait for migrate"
    schema.migrate(empty_db_url)
    assert fingerprint(empty_db_url) == first
    assert schema.status(empty_db_url).clean


def test_rollback_steps_must_be_positive(empty_db_url: str) -> None:
    with pytest.raises(ValueError, match="steps must be at least 1"):
        schema.rollback(empty_db_url, steps=0)


def _migrate_in_child(url: str) -> None:
    schema.migrate(url)


def test_concurrent_migrations_serialise(empty_db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_migrate_in_child, args=(empty_db_url,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert schema.status(empty_db_url).clean


def test_database_objects_equal_package_files(fresh_db_url: str) -> None:
    """Every package file is exactly one object in the database and vice versa, with the house rules."""
    with psycopg.connect(fresh_db_url) as conn:
        functions = conn.execute(
            """SELECT p.proname, count(*), bool_and(obj_description(p.oid, 'pg_proc') IS NOT NULL),
                      bool_and(EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%%')),
                      bool_and(coalesce((SELECT bool_and(a LIKE 'p\\_%%')
                                          FROM unnest(p.proargnames[1:p.pronargs]) a), true))
                 FROM pg_proc p WHERE p.pronamespace = 'm10_recovery'::regnamespace
                GROUP BY p.proname ORDER BY 1"""
        ).fetchall()
        views = {
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'm10_recovery'::regnamespace"
                " AND relkind IN ('v', 'm')"
            )
        }
    files = {p.stem for p in (sql_dir() / "functions").glob("*.sql")}
    assert {name for name, *_ in functions} == files
    for name, count, commented, has_search_path, p_params in functions:
        assert count == 1, f"{name}: one function per name (a signature change is a migration)"
        assert commented, f"{name}: COMMENT ON FUNCTION is missing"
        assert has_search_path, f"{name}: SET search_path is missing"
        assert p_params, f"{name}: parameters are named p_*"
    assert views == {p.stem for p in (sql_dir() / "views").glob("*.sql")}


@pytest.mark.parametrize("path", sorted((sql_dir() / "functions").glob("*.sql")), ids=lambda p: p.name)
def test_function_files_follow_the_house_rules(path: Path) -> None:
    text = path.read_text()
    name = path.stem
    assert re.search(rf"CREATE OR REPLACE FUNCTION m10_recovery\.{name}\(", text), "defines its own function"
    assert len(re.findall(r"CREATE (OR REPLACE )?FUNCTION", text)) == 1, "one function per file"
    assert re.search(rf"COMMENT ON FUNCTION m10_recovery\.{name}\(", text), "has a comment"
    assert "SET search_path" in text
    assert "EXECUTE " not in text.upper().replace("EXECUTE FUNCTION", ""), (
        "dynamic SQL goes through format('%I') against an allowlist (none is needed yet)"
    )


def test_applied_migrations_are_pinned() -> None:
    """yoyo tracks migrations by name: an edit to an applied file must be a new migration instead."""
    pinned = {}
    for line in (migrations_dir() / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        pinned[name] = digest
    actual = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in migrations_dir().glob("*.sql")}
    assert actual == pinned, "a migration changed or was added: add a new file and its line to SHA256SUMS"
