"""Bad input to ingest that needs Python: rejected calls as top-level autocommit statements with
values bound as parameters (as a client sends them), values Python can hold but PostgreSQL cannot
(NUL, a str that is not a UUID), and documents too large or too deep for the JSON parser itself.

After every rejected call every row of every table ingest writes must be unchanged, and the
connection must still be usable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from m10py.db import with_database

TABLES = ("recovery_candidates", "ingest_requests", "suggestion_input", "suggestion_provenance", "work_queue")
SEED_FMID = uuid.UUID("00000000-0000-4000-8000-000000000001")
SEED_KEY = uuid.UUID("10000000-0000-4000-8000-000000000001")

ONE = "SELECT * FROM m10_recovery.ingest_failure(%s, %s)"
ONE_KEYED = "SELECT * FROM m10_recovery.ingest_failure(%s, %s, p_idempotency_key => %s)"
ONE_SOURCE = "SELECT * FROM m10_recovery.ingest_failure(%s, %s, p_source => %s)"
ONE_PRIORITY = "SELECT * FROM m10_recovery.ingest_failure(%s, %s, p_priority => %s::integer)"
MANY = "SELECT * FROM m10_recovery.ingest_failures(%s)"


def _snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    return {
        t: [
            r[0]
            for r in conn.execute(
                sql.SQL("SELECT to_jsonb(x) FROM m10_recovery.{} x ORDER BY x.id").format(sql.Identifier(t))
                if t != "ingest_requests"
                else sql.SQL(
                    "SELECT to_jsonb(x) FROM m10_recovery.ingest_requests x ORDER BY x.idempotency_key"
                )
            )
        ]
        for t in TABLES
    }


@pytest.fixture(scope="module")
def seeded_url(server_url: str, template_db: str) -> Iterator[str]:
    """A migrated database holding one keyed report, so a key conflict has something to hit."""
    name = f"m10_ingbad_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    url = with_database(server_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                ONE_KEYED, (SEED_FMID, Jsonb({"error_type": "SEED", "raw": "x"}), SEED_KEY)
            ).fetchone()
            assert row is not None and row[1] == "accepted"
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def conn(seeded_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(seeded_url, autocommit=True) as c:
        yield c


def _deep(levels: int) -> str:
    return '{"meta": {"l": ' + "[" * levels + "]" * levels + "}}"


def _element(fmid: Any, payload: Any = None, **extra: Any) -> dict[str, Any]:
    return {"failure_match_id": fmid, "failure_payload": {} if payload is None else payload, **extra}


GOOD = str(SEED_FMID)

# (id, statement, parameters, sqlstate, a fragment of the message)
REJECTIONS: list[tuple[str, str, tuple[Any, ...], str, str]] = [
    ("fmid not a uuid", ONE, ("not-a-uuid", Jsonb({})), "22P02", "invalid input syntax for type uuid"),
    ("fmid empty", ONE, ("", Jsonb({})), "22P02", "invalid input syntax for type uuid"),
    ("fmid too short", ONE, (GOOD[:-1], Jsonb({})), "22P02", "invalid input syntax for type uuid"),
    ("fmid null", ONE, (None, Jsonb({})), "22023", "p_failure_match_id is required"),
    (
        "key not a uuid",
        ONE_KEYED,
        (GOOD, Jsonb({}), "retry-1"),
        "22P02",
        "invalid input syntax for type uuid",
    ),
    ("payload null", ONE, (GOOD, None), "22023", "failure_payload is required"),
    (
        "payload array",
        ONE,
        (GOOD, Jsonb([1, 2])),
        "22023",
        "failure_payload must be a JSON object, got array",
    ),
    (
        "payload string",
        ONE,
        (GOOD, Jsonb("TIMEOUT")),
        "22023",
        "failure_payload must be a JSON object, got string",
    ),
    ("payload not json", ONE, (GOOD, '{"raw": '), "22P02", "invalid input syntax for type json"),
    (
        "error_type number",
        ONE,
        (GOOD, Jsonb({"error_type": 504})),
        "22023",
        "failure_payload.error_type must be a string, got number",
    ),
    (
        "error_code object",
        ONE,
        (GOOD, Jsonb({"error_code": {"c": 1}})),
        "22023",
        "failure_payload.error_code must be a string, got object",
    ),
    (
        "raw bool",
        ONE,
        (GOOD, Jsonb({"raw": False})),
        "22023",
        "failure_payload.raw must be a string, got boolean",
    ),
    (
        "message list",
        ONE,
        (GOOD, Jsonb({"message": ["a"]})),
        "22023",
        "failure_payload.message must be a string, got array",
    ),
    (
        "stack number",
        ONE,
        (GOOD, Jsonb({"stack": 1})),
        "22023",
        "failure_payload.stack must be a string, got number",
    ),
    (
        "skill list",
        ONE,
        (GOOD, Jsonb({"skill": []})),
        "22023",
        "failure_payload.skill must be a string, got array",
    ),
    ("tenant number", ONE, (GOOD, Jsonb({"tenant": 7})), "22023", "failure_payload.tenant must be a string"),
    (
        "meta list",
        ONE,
        (GOOD, Jsonb({"meta": [1]})),
        "22023",
        "failure_payload.meta must be a JSON object, got array",
    ),
    (
        "code too long",
        ONE,
        (GOOD, Jsonb({"error_type": "E" * 201})),
        "22023",
        "at most 200 characters, got 201",
    ),
    ("NUL in message", ONE, (GOOD, Jsonb({"raw": "before\x00after"})), "22P05", "unsupported Unicode escape"),
    ("NUL in meta key", ONE, (GOOD, Jsonb({"meta": {"k\x00": 1}})), "22P05", "unsupported Unicode escape"),
    ("NUL escape in text", ONE, (GOOD, '{"raw": "\\u0000"}'), "22P05", "unsupported Unicode escape"),
    (
        "10 MB payload",
        ONE,
        (GOOD, Jsonb({"raw": "x" * (10 * 1024 * 1024)})),
        "54000",
        "failure_payload is 10485771 bytes as JSON text; the limit is 1048576 bytes",
    ),
    ("1000 levels", ONE, (GOOD, _deep(1000)), "22023", "failure_payload.meta nests deeper than 32 levels"),
    ("100000 levels", ONE, (GOOD, _deep(100_000)), "54001", "stack depth limit exceeded"),
    (
        "blank source",
        ONE_SOURCE,
        (GOOD, Jsonb({}), " "),
        "22023",
        "p_source must be NULL or a non-blank name",
    ),
    ("priority int4", ONE_PRIORITY, (GOOD, Jsonb({}), 2**40), "22003", "integer out of range"),
    ("priority smallint", ONE_PRIORITY, (GOOD, Jsonb({}), 40_000), "22023", "p_priority must be between"),
    (
        "key conflict",
        ONE_KEYED,
        (GOOD, Jsonb({"error_type": "SEED", "raw": "other"}), SEED_KEY),
        "22023",
        f"idempotency key {SEED_KEY} was already used with a different payload",
    ),
    (
        "batch object",
        MANY,
        (Jsonb({}),),
        "22023",
        "p_failures must be a JSON array of failures, got a JSON object",
    ),
    (
        "batch fmid",
        MANY,
        (Jsonb([_element(GOOD), _element("nope")]),),
        "22023",
        'p_failures[2].failure_match_id is not a UUID: "nope"',
    ),
    (
        "batch fmid missing",
        MANY,
        (Jsonb([{"failure_payload": {}}]),),
        "22023",
        "p_failures[1].failure_match_id is required",
    ),
    (
        "batch field",
        MANY,
        (Jsonb([_element(GOOD), _element(GOOD), _element(GOOD, {"raw": 1})]),),
        "22023",
        "p_failures[3].failure_payload.raw must be a string, got number",
    ),
    (
        "batch key",
        MANY,
        (Jsonb([_element(GOOD, idempotency_key=123)]),),
        "22023",
        "p_failures[1].idempotency_key must be a string holding a UUID, got number",
    ),
    (
        "batch unknown field",
        MANY,
        (Jsonb([_element(GOOD, key="x")]),),
        "22023",
        'p_failures[1] has an unknown field "key"',
    ),
    (
        "batch NUL",
        MANY,
        (Jsonb([_element(GOOD), _element(GOOD, {"raw": "\x00"})]),),
        "22P05",
        "unsupported Unicode",
    ),
    (
        "batch key conflict",
        MANY,
        (
            Jsonb(
                [
                    _element(GOOD, {"error_type": "NEW"}),
                    _element(GOOD, {"error_type": "SEED"}, idempotency_key=str(SEED_KEY)),
                ]
            ),
        ),
        "22023",
        f"p_failures[2].idempotency_key {SEED_KEY} was already used with a different payload",
    ),
    ("batch 10001", MANY, (Jsonb([_element(GOOD)] * 10_001),), "54000", "the limit is 10000 per call"),
]


@pytest.mark.parametrize(
    ("statement", "params", "sqlstate", "fragment"),
    [r[1:] for r in REJECTIONS],
    ids=[r[0] for r in REJECTIONS],
)
def test_rejected_call_writes_nothing(
    conn: psycopg.Connection[Any], statement: str, params: tuple[Any, ...], sqlstate: str, fragment: str
) -> None:
    before = _snapshot(conn)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement, params)
    assert caught.value.sqlstate == sqlstate, caught.value
    assert fragment in (caught.value.diag.message_primary or ""), caught.value
    assert _snapshot(conn) == before, "a rejected call changed a table"
    assert conn.execute("SELECT 1").fetchone() == (1,), "the connection is still usable"


def test_nul_in_a_text_argument_is_refused_before_sending(conn: psycopg.Connection[Any]) -> None:
    """PostgreSQL text cannot hold NUL: psycopg refuses the argument itself (no SQLSTATE, nothing sent)."""
    before = _snapshot(conn)
    with pytest.raises(psycopg.DataError, match="NUL") as caught:
        conn.execute(ONE_SOURCE, (GOOD, Jsonb({}), "agent\x00one"))
    assert caught.value.sqlstate is None
    assert _snapshot(conn) == before


def test_a_retry_with_the_seed_key_is_a_replay_that_writes_nothing(conn: psycopg.Connection[Any]) -> None:
    before = _snapshot(conn)
    row = conn.execute(ONE_KEYED, (GOOD, Jsonb({"raw": "x", "error_type": "SEED"}), SEED_KEY)).fetchone()
    assert row is not None
    assert row[1:5] == ("accepted", False, 1, row[4]) and row[5] is None
    assert _snapshot(conn) == before


def test_a_failure_inside_a_batch_rolls_back_the_elements_before_it(conn: psycopg.Connection[Any]) -> None:
    """All or nothing: the valid elements ahead of a bad one (even those already upserted when the
    key check fails) leave no trace."""
    before = _snapshot(conn)
    fresh = str(uuid.uuid4())
    doc = [
        _element(fresh, {"error_type": "A"}),
        _element(fresh, {"error_type": "A"}),
        _element(GOOD, {"error_type": "SEED"}, idempotency_key=str(SEED_KEY)),
    ]
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(MANY, (Jsonb(doc),))
    assert caught.value.sqlstate == "22023"
    assert _snapshot(conn) == before
    rows = conn.execute(MANY, (Jsonb(doc[:2]),)).fetchall()
    assert [r[2] for r in rows] == ["accepted", "duplicate"], "the same batch without the bad element works"
