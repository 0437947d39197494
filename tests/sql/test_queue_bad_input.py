"""Bad input that needs Python: rejected calls as top-level autocommit statements, the typed errors
of M10Client, values Python can send but SQL literals cannot (NUL, NaN, integers beyond int4).

After every rejected call the whole queue table (every column of every row) must be unchanged. A
completed item is deleted, so the seeded database keeps its id in the table ``seed_gone``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from m10py.client import M10Client
from m10py.db import create_pool, with_database
from m10py.errors import InvalidArgument, InvalidState, M10Error, NotFound

SNAPSHOT = "SELECT to_jsonb(w) FROM m10_recovery.work_queue w ORDER BY id"

SEED = [
    "CREATE TABLE seed_gone (n text PRIMARY KEY, id bigint NOT NULL)",
    'SELECT m10_recovery.enqueue_work(p_payload => \'{"n": "claimed"}\', p_priority => 10)',
    "SELECT count(*) FROM m10_recovery.claim_work('w1', 1, 3600)",
    'SELECT m10_recovery.enqueue_work(p_payload => \'{"n": "completed"}\', p_priority => 9)',
    "INSERT INTO seed_gone SELECT 'completed', work_id FROM m10_recovery.claim_work('w1', 1, 3600)",
    "SELECT m10_recovery.complete_work(id, true, NULL, 'w1') FROM seed_gone",
    'SELECT m10_recovery.enqueue_work(p_payload => \'{"n": "dead"}\', p_priority => 8, p_max_attempts => 1)',
    "SELECT m10_recovery.complete_work(work_id, false, 'boom') FROM m10_recovery.claim_work('w1', 1, 3600)",
    'SELECT m10_recovery.enqueue_work(p_payload => \'{"n": "pending"}\', p_delay_seconds => 3600)',
]


def _snapshot(conn: psycopg.Connection[Any]) -> list[Any]:
    return [r[0] for r in conn.execute(SNAPSHOT)]


def _ids(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The seeded items' ids by name, the completed (deleted) one included."""
    return dict(
        conn.execute(
            "SELECT payload->>'n', id FROM m10_recovery.work_queue UNION ALL SELECT n, id FROM seed_gone"
        ).fetchall()
    )


@pytest.fixture(scope="module")
def seeded_url(server_url: str, template_db: str) -> Iterator[str]:
    """One migrated database for the module, holding a claimed, a completed, a dead and a delayed
    pending item (nothing is ready, so no rejected claim could take anything by mistake)."""
    name = f"m10_bad_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    url = with_database(server_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in SEED:
                conn.execute(statement)  # type: ignore[arg-type]
            states = conn.execute(
                "SELECT string_agg(payload->>'n' || '=' || state, ',' ORDER BY id)"
                "  FROM m10_recovery.work_queue"
            ).fetchone()
            assert states == ("claimed=claimed,dead=dead,pending=pending",)
            gone = conn.execute(
                "SELECT count(*) FROM seed_gone g JOIN m10_recovery.work_queue w USING (id)"
            ).fetchone()
            assert gone == (0,), "the completed item was deleted"
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def conn(seeded_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(seeded_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def m10(seeded_url: str) -> Iterator[M10Client]:
    pool = create_pool(seeded_url, min_size=1, max_size=2)
    try:
        yield M10Client(pool)
    finally:
        pool.close()


# (statement, sqlstate, a fragment of the message). {claimed} etc. are the seeded items' ids.
TOP_LEVEL_REJECTIONS = [
    ("SELECT m10_recovery.complete_work(999999999, true)", "P0002", "work item 999999999 does not exist"),
    ("SELECT m10_recovery.complete_work(0, false, 'x', 'w1')", "P0002", "work item 0 does not exist"),
    (
        "SELECT m10_recovery.complete_work("
        "  (SELECT last_value + 1 FROM m10_recovery.work_queue_id_seq), true)",
        "P0002",
        "does not exist",
    ),
    ("SELECT m10_recovery.complete_work(NULL, true)", "22023", "p_work_id and p_success are required"),
    ("SELECT m10_recovery.complete_work({claimed}, NULL)", "22023", "p_work_id and p_success are required"),
    ("SELECT m10_recovery.complete_work({pending}, true)", "55000", "is not claimed (state pending)"),
    (
        "SELECT m10_recovery.complete_work({claimed}, false, 'x', p_retry_in_seconds => -1)",
        "22023",
        "p_retry_in_seconds must be between 0 and 31536000",
    ),
    ("SELECT * FROM m10_recovery.claim_work('w2', 0)", "22023", "p_batch_size must be between 1 and 10000"),
    ("SELECT * FROM m10_recovery.claim_work('w2', -1)", "22023", "got -1"),
    ("SELECT * FROM m10_recovery.claim_work('w2', NULL)", "22023", "got NULL"),
    ("SELECT * FROM m10_recovery.claim_work('w2', 10001)", "22023", "got 10001"),
    ("SELECT * FROM m10_recovery.claim_work(NULL, 1)", "22023", "p_worker_id must be a non-empty name"),
    ("SELECT * FROM m10_recovery.claim_work('', 1)", "22023", "p_worker_id must be a non-empty name"),
    ("SELECT * FROM m10_recovery.claim_work('  ', 1)", "22023", "p_worker_id must be a non-empty name"),
    ("SELECT * FROM m10_recovery.claim_work(repeat('w', 10000), 1)", "22023", "at most 200 characters"),
    (
        "SELECT * FROM m10_recovery.claim_work('w2', 1, 0)",
        "22023",
        "p_lease_seconds must be between 1 and 86400",
    ),
    ("SELECT * FROM m10_recovery.claim_work('w2', 1, -1)", "22023", "got -1"),
    ("SELECT * FROM m10_recovery.claim_work('w2', 1, 864000)", "22023", "got 864000"),
    (
        "SELECT * FROM m10_recovery.claim_work('w2', 1, p_method => 'nope')",
        "22023",
        "unknown work method 'nope'",
    ),
    (
        "SELECT * FROM m10_recovery.complete_and_claim('w1', ARRAY[{claimed}]::bigint[], p_method => 'nope')",
        "22023",
        "unknown work method 'nope'",
    ),
    (
        "SELECT * FROM m10_recovery.complete_and_claim('w1', ARRAY[{claimed}]::bigint[], 1, 0)",
        "22023",
        "p_lease_seconds",
    ),
    ("SELECT m10_recovery.enqueue_work(p_method => 'nope')", "22023", "unknown work method 'nope'"),
    (
        "SELECT m10_recovery.enqueue_work_batch(ARRAY['{{}}']::jsonb[], p_method => 'nope')",
        "22023",
        "unknown work method 'nope'",
    ),
    ("SELECT m10_recovery.enqueue_work(p_payload => '[1]')", "22023", "got a JSON array"),
    ("SELECT m10_recovery.enqueue_work(p_payload => '\"s\"')", "22023", "got a JSON string"),
    ("SELECT m10_recovery.enqueue_work(p_payload => '1.5')", "22023", "got a JSON number"),
    (
        "SELECT m10_recovery.enqueue_work(p_payload => jsonb_build_object('b', repeat('x', 1100000)))",
        "54000",
        "the limit is 1 MiB",
    ),
    (
        'SELECT m10_recovery.enqueue_work(p_payload => \'{{"a": "\\u0000"}}\')',
        "22P05",
        "unsupported Unicode escape sequence",
    ),
    ("SELECT m10_recovery.enqueue_work(p_delay_seconds => -1)", "22023", "p_delay_seconds must be between"),
    (
        "SELECT m10_recovery.enqueue_work(p_delay_seconds => 31536001)",
        "22023",
        "p_delay_seconds must be between",
    ),
    (
        "SELECT m10_recovery.enqueue_work(p_max_attempts => 0)",
        "22023",
        "p_max_attempts must be between 1 and 100",
    ),
    ("SELECT m10_recovery.enqueue_work(p_max_attempts => 101)", "22023", "got 101"),
    ("SELECT m10_recovery.enqueue_work(p_priority => 32768)", "22023", "p_priority must be between"),
    ("SELECT m10_recovery.enqueue_work(p_priority => -32769)", "22023", "p_priority must be between"),
    ("SELECT m10_recovery.release_stalled_work(-1)", "22023", "p_stalled_seconds must be zero or more"),
    ("SELECT m10_recovery.release_stalled_work(NULL)", "22023", "got NULL"),
]


@pytest.mark.parametrize(
    ("statement", "sqlstate", "fragment"),
    TOP_LEVEL_REJECTIONS,
    ids=[f"{i:02d}-{s}" for i, (_, s, _) in enumerate(TOP_LEVEL_REJECTIONS)],
)
def test_rejected_statement_writes_nothing(
    conn: psycopg.Connection[Any], statement: str, sqlstate: str, fragment: str
) -> None:
    before = _snapshot(conn)
    text = statement.format(**_ids(conn))
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(text)  # type: ignore[arg-type]
    assert caught.value.sqlstate == sqlstate, caught.value
    assert fragment in (caught.value.diag.message_primary or ""), caught.value
    assert _snapshot(conn) == before, "a rejected statement changed the queue"
    conn.execute("SELECT 1")  # the connection is still usable


# Calls on finished items that are accepted as no-ops: they return false and change nothing.
FINISHED_NO_OPS = [
    "SELECT m10_recovery.complete_work({completed}, true)",
    "SELECT m10_recovery.complete_work({completed}, true, NULL, 'w1')",
    "SELECT m10_recovery.complete_work({completed}, false, 'late', 'w1', 0)",
    "SELECT m10_recovery.complete_work({dead}, true)",
    "SELECT m10_recovery.complete_work({dead}, false, 'again', 'w1')",
    "SELECT count(*) > 0 FROM m10_recovery.complete_and_claim('w1', ARRAY[{completed}, {dead}]::bigint[])",
]


@pytest.mark.parametrize("statement", FINISHED_NO_OPS, ids=[f"{i:02d}" for i in range(len(FINISHED_NO_OPS))])
def test_finished_item_calls_are_no_ops(conn: psycopg.Connection[Any], statement: str) -> None:
    before = _snapshot(conn)
    row = conn.execute(statement.format(**_ids(conn))).fetchone()  # type: ignore[arg-type]
    assert row == (False,), statement
    assert _snapshot(conn) == before, "a no-op changed the queue"


# --- M10Client: typed errors carrying the database's message --------------------------------------


def _expect(
    m10: M10Client, conn: psycopg.Connection[Any], kind: type[M10Error], call: Callable[[], object]
) -> M10Error:
    before = _snapshot(conn)
    with pytest.raises(kind) as caught:
        call()
    assert _snapshot(conn) == before, "a rejected call changed the queue"
    cause = caught.value.__cause__
    assert isinstance(cause, psycopg.Error), "the psycopg error is kept as the cause"
    expected = cause.diag.message_primary or ""
    if cause.diag.message_hint:
        expected = f"{expected} (hint: {cause.diag.message_hint})"
    assert str(caught.value) == expected, "the message is the database's"
    return caught.value


def test_client_unknown_id_is_not_found(m10: M10Client, conn: psycopg.Connection[Any]) -> None:
    exc = _expect(m10, conn, NotFound, lambda: m10.complete_work(987654321, True))
    assert str(exc) == "work item 987654321 does not exist"
    assert exc.__cause__ is not None and exc.__cause__.sqlstate == "P0002"  # type: ignore[attr-defined]


def test_client_completing_a_completed_item_is_false_not_an_error(
    m10: M10Client, conn: psycopg.Connection[Any]
) -> None:
    completed, dead = _ids(conn)["completed"], _ids(conn)["dead"]
    before = _snapshot(conn)
    assert m10.complete_work(completed, True) is False
    assert m10.complete_work(completed, False, "late", worker_id="w1") is False
    assert m10.complete_work(dead, True) is False
    assert m10.complete_and_claim("w1", [completed, dead], 5) == []
    assert _snapshot(conn) == before


def test_client_never_claimed_item_is_invalid_state(m10: M10Client, conn: psycopg.Connection[Any]) -> None:
    pending = _ids(conn)["pending"]
    exc = _expect(m10, conn, InvalidState, lambda: m10.complete_work(pending, False, "nope"))
    assert str(exc).startswith(f"work item {pending} is not claimed (state pending)")
    assert "(hint: Claim it with m10_recovery.claim_work before completing it.)" in str(exc)


# (name, call, a fragment of the message)
CLIENT_REJECTIONS: list[tuple[str, Callable[[M10Client], object], str]] = [
    ("batch 0", lambda c: c.claim_work("w2", 0), "p_batch_size must be between 1 and 10000, got 0"),
    ("batch -1", lambda c: c.claim_work("w2", -1), "got -1"),
    ("blank worker", lambda c: c.claim_work(" ", 1), "p_worker_id must be a non-empty name"),
    ("long worker", lambda c: c.claim_work("w" * 10_000, 1), "at most 200 characters"),
    ("lease 0", lambda c: c.claim_work("w2", 1, lease_seconds=0), "p_lease_seconds"),
    ("lease 10 days", lambda c: c.claim_work("w2", 1, lease_seconds=864_000), "got 864000"),
    ("claim method", lambda c: c.claim_work("w2", 1, method="nope"), "unknown work method 'nope'"),
    (
        "enqueue method",
        lambda c: c.enqueue_work(method="nope"),
        "unknown work method 'nope' (hint: Known methods are the rows of m10_recovery.work_methods.)",
    ),
    ("batch method", lambda c: c.enqueue_work_batch([{}], method="nope"), "unknown work method 'nope'"),
    ("array payload", lambda c: c.enqueue_work(payload=[1, 2]), "got a JSON array"),
    ("string payload", lambda c: c.enqueue_work(payload="text"), "got a JSON string"),
    ("number payload", lambda c: c.enqueue_work(payload=7), "got a JSON number"),
    ("batch element", lambda c: c.enqueue_work_batch([{}, [1]]), "p_payloads[2] must be a JSON object"),
    ("empty batch", lambda c: c.enqueue_work_batch([]), "p_payloads must hold at least one payload"),
    (
        "huge payload",
        lambda c: c.enqueue_work(payload={"b": "x" * 1_100_000}),
        "the limit is 1 MiB (hint: Store large artefacts elsewhere",
    ),
    ("negative delay", lambda c: c.enqueue_work(delay_seconds=-0.5), "p_delay_seconds must be between"),
    ("NaN delay", lambda c: c.enqueue_work(delay_seconds=math.nan), "got NaN"),
    ("delay > 1 year", lambda c: c.enqueue_work(delay_seconds=31_536_001), "p_delay_seconds"),
    ("max_attempts 0", lambda c: c.enqueue_work(max_attempts=0), "p_max_attempts must be between 1 and 100"),
    ("max_attempts 101", lambda c: c.enqueue_work(max_attempts=101), "got 101"),
    ("priority", lambda c: c.enqueue_work(priority=40_000), "p_priority must be between -32768 and 32767"),
    ("stalled -1", lambda c: c.release_stalled_work(-1), "p_stalled_seconds must be zero or more"),
    ("retry -1", lambda c: c.complete_work(1, False, "x", retry_in_seconds=-1), "p_retry_in_seconds"),
]


@pytest.mark.parametrize(
    ("name", "call", "fragment"), CLIENT_REJECTIONS, ids=[c[0] for c in CLIENT_REJECTIONS]
)
def test_client_invalid_argument(
    m10: M10Client,
    conn: psycopg.Connection[Any],
    name: str,
    call: Callable[[M10Client], object],
    fragment: str,
) -> None:
    exc = _expect(m10, conn, InvalidArgument, lambda: call(m10))
    assert fragment in str(exc), name


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("batch_size beyond int4", lambda c: c.claim_work("w2", 10**10)),
        ("priority beyond int4", lambda c: c.enqueue_work(priority=2**40)),
        ("stalled_seconds beyond int4", lambda c: c.release_stalled_work(2**31)),
        ("work_id beyond int8", lambda c: c.complete_work(2**63, True)),
    ],
    ids=["batch_size", "priority", "stalled_seconds", "work_id"],
)
def test_client_integer_out_of_range_is_invalid_argument(
    m10: M10Client, conn: psycopg.Connection[Any], name: str, call: Callable[[M10Client], object]
) -> None:
    """A Python int too big for the parameter's SQL type is bad input like any other: it must be
    InvalidArgument, not psycopg's UndefinedFunction ('function ... does not exist'), which reads
    as if the schema were not migrated."""
    before = _snapshot(conn)
    with pytest.raises(InvalidArgument):
        call(m10)
    assert _snapshot(conn) == before, name


# --- NUL bytes and NaN: values Python can hold but PostgreSQL's text and JSON cannot --------------


def test_client_nul_in_payload_is_refused_with_the_field_named_and_writes_nothing(
    m10: M10Client, conn: psycopg.Connection[Any]
) -> None:
    """jsonb cannot store \\u0000: the client refuses it before sending, naming the field; PostgreSQL's
    own refusal (22P05, for callers that bypass the client) stays a plain error."""
    before = _snapshot(conn)
    with pytest.raises(InvalidArgument, match=r"^payload contains a NUL character"):
        m10.enqueue_work(payload={"note": "before\x00after"})
    with pytest.raises(InvalidArgument, match=r"^payloads\[2\] contains a NUL character"):
        m10.enqueue_work_batch([{"ok": 1}, {"bad": "\x00"}])
    with pytest.raises(InvalidArgument, match=r"^payloads\[3\] contains a NUL character"):
        m10.enqueue_work_batch([{"ok": 1}, {"ok": "\\u0000 is text here"}, {"k": ["x", {"y\x00": 1}]}])
    assert _snapshot(conn) == before, "nothing of the batch may be written"
    with conn.transaction(), pytest.raises(psycopg.errors.UntranslatableCharacter):
        conn.execute("SELECT m10_recovery.enqueue_work(p_payload => %s::jsonb)", ('{"a": "\\u0000"}',))
    note = "a backslash then u0000: \\u0000"
    assert m10.enqueue_work(payload={"note": note}, delay_seconds=3600) > 0, "an escaped backslash is text"
    conn.execute("DELETE FROM m10_recovery.work_queue WHERE payload->>'note' = %s", (note,))
    assert _snapshot(conn) == before


def test_client_nul_in_error_message_is_recorded_replaced_and_nul_worker_id_is_refused(
    m10: M10Client, conn: psycopg.Connection[Any]
) -> None:
    """Error text is diagnostics: a NUL in it becomes U+FFFD so the failure is still recorded. A NUL in
    a worker id is refused before anything is sent (InvalidArgument), and nothing changes."""
    claimed = _ids(conn)["claimed"]
    before = _snapshot(conn)
    with pytest.raises(InvalidArgument, match="NUL"):
        m10.claim_work("worker\x00id", 1)
    assert _snapshot(conn) == before
    assert m10.complete_work(claimed, False, "traceback with a \x00 byte", worker_id="w1") is True
    row = conn.execute(
        "SELECT state, claimed_by, attempts, error_message FROM m10_recovery.work_queue WHERE id = %s",
        (claimed,),
    ).fetchone()
    assert row == ("pending", None, 1, "traceback with a \ufffd byte")


def test_client_nan_in_payload_is_rejected_as_invalid_json(
    m10: M10Client, conn: psycopg.Connection[Any]
) -> None:
    """NaN is not JSON: the client refuses it before sending, naming the field; nothing is written."""
    before = _snapshot(conn)
    with pytest.raises(InvalidArgument, match=r"^payload is not valid JSON"):
        m10.enqueue_work(payload={"score": math.nan})
    with pytest.raises(InvalidArgument, match=r"^payloads\[2\] is not valid JSON"):
        m10.enqueue_work_batch([{"score": 1.5}, {"score": math.inf}, {"score": 2}])
    with pytest.raises(InvalidArgument, match=r"^payloads\[3\] is not valid JSON"):
        m10.enqueue_work_batch([{}, {}, {"tags": {"a", "b"}}])  # a set is not JSON either
    assert _snapshot(conn) == before
