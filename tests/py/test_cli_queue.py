"""`m10 queue ...` and `m10 db migrate|status` through typer's CliRunner, against a real database.

Exit codes (m10py/cli/common.py): 0 success, 1 an error of the SQL API (NotFound, InvalidArgument,
InvalidState) or `db status --check` finding differences, 2 a usage error, 3 database unavailable.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from m10py.cli import app
from m10py.resources import migrations_dir
from m10py.schema import package_objects

CLAIMED_KEYS = {
    "work_id",
    "candidate_id",
    "method",
    "payload",
    "priority",
    "attempts",
    "max_attempts",
    "enqueued_at",
    "claimed_at",
    "lease_expires_at",
}
STATS_KEYS = {"method", "ready", "delayed", "claimed", "lease_expired", "dead", "oldest_ready_age_seconds"}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def m10(runner: CliRunner, url: str, *args: str) -> Result:
    return runner.invoke(app, ["--database-url", url, *args])


def _flat(text: str) -> str:
    """Rich wraps long lines on stderr; compare messages with whitespace collapsed."""
    return " ".join(text.split())


def _queue(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT to_jsonb(w) FROM m10_recovery.work_queue w ORDER BY id")]


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


# --- enqueue -----------------------------------------------------------------------------------


def test_enqueue_json_and_text(runner: CliRunner, fresh_db_url: str) -> None:
    out = _ok(
        m10(
            runner,
            fresh_db_url,
            "queue",
            "enqueue",
            "--json",
            "--method",
            "execute",
            "--payload",
            '{"host": "db-1", "n": [1, 2]}',
            "--priority",
            "5",
            "--candidate-id",
            "77",
        )
    )
    body = json.loads(out.stdout)
    assert set(body) == {"work_id"} and isinstance(body["work_id"], int)

    text = _ok(m10(runner, fresh_db_url, "queue", "enqueue", "--delay", "60"))
    assert text.stdout.strip() == f"enqueued work item {body['work_id'] + 1}"

    rows = _queue(fresh_db_url)
    assert [(r["method"], r["payload"], r["priority"], r["candidate_id"], r["state"]) for r in rows] == [
        ("execute", {"host": "db-1", "n": [1, 2]}, 5, 77, "pending"),
        ("evaluate", {}, 0, None, "pending"),
    ]
    enqueued = datetime.fromisoformat(rows[1]["created_at"])
    available = datetime.fromisoformat(rows[1]["available_at"])
    assert available - enqueued == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "--payload is not valid JSON"),
        ("", "--payload is not valid JSON"),
        ("[1, 2]", "--payload must be a JSON object"),
        ('"text"', "--payload must be a JSON object"),
        ("42", "--payload must be a JSON object"),
        ("null", "--payload must be a JSON object"),
    ],
    ids=["invalid", "empty", "array", "string", "number", "null"],
)
def test_enqueue_bad_payload_is_a_usage_error_and_writes_nothing(
    runner: CliRunner, fresh_db_url: str, payload: str, message: str
) -> None:
    result = m10(runner, fresh_db_url, "queue", "enqueue", "--json", "--payload", payload)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert message in _flat(result.stderr)
    assert result.stdout == ""
    assert _queue(fresh_db_url) == []


def test_enqueue_rejected_by_the_database_exits_1_and_writes_nothing(
    runner: CliRunner, fresh_db_url: str
) -> None:
    result = m10(runner, fresh_db_url, "queue", "enqueue", "--json", "--method", "nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert _flat(result.stderr) == (
        "error: unknown work method 'nope' (hint: Known methods are the rows of m10_recovery.work_methods.)"
    )
    result = m10(runner, fresh_db_url, "queue", "enqueue", "--priority", "40000")
    assert result.exit_code == 1
    assert "p_priority must be between -32768 and 32767, got 40000" in _flat(result.stderr)
    result = m10(runner, fresh_db_url, "queue", "enqueue", "--delay", "-1")
    assert result.exit_code == 1
    assert "p_delay_seconds must be between 0 and 31536000" in _flat(result.stderr)
    assert _queue(fresh_db_url) == []


# --- claim, complete ---------------------------------------------------------------------------


def test_claim_json_shape(runner: CliRunner, fresh_db_url: str) -> None:
    for priority in ("1", "9"):
        _ok(
            m10(
                runner,
                fresh_db_url,
                "queue",
                "enqueue",
                "--priority",
                priority,
                "--payload",
                f'{{"p": {priority}}}',
            )
        )
    out = _ok(
        m10(
            runner,
            fresh_db_url,
            "queue",
            "claim",
            "--json",
            "--worker-id",
            "cli-w",
            "--batch-size",
            "5",
            "--lease",
            "90",
        )
    )
    items = json.loads(out.stdout)
    assert isinstance(items, list) and len(items) == 2
    assert all(set(i) == CLAIMED_KEYS for i in items)
    assert [i["payload"] for i in items] == [{"p": 9}, {"p": 1}], "highest priority first"
    first = items[0]
    assert (first["method"], first["priority"], first["attempts"], first["max_attempts"]) == (
        "evaluate",
        9,
        1,
        5,
    )
    claimed_at = datetime.fromisoformat(first["claimed_at"])
    assert datetime.fromisoformat(first["lease_expires_at"]) - claimed_at == timedelta(seconds=90)
    assert {r["claimed_by"] for r in _queue(fresh_db_url)} == {"cli-w"}

    empty = _ok(m10(runner, fresh_db_url, "queue", "claim", "--json"))
    assert json.loads(empty.stdout) == []


def test_claim_text_shows_a_table(runner: CliRunner, fresh_db_url: str) -> None:
    _ok(m10(runner, fresh_db_url, "queue", "enqueue", "--payload", '{"k": "v"}'))
    out = _ok(m10(runner, fresh_db_url, "queue", "claim", "--worker-id", "tabler"))
    assert "claimed by tabler" in out.stdout
    assert "1/5" in out.stdout and '{"k": "v"}' in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "p_batch_size must be between 1 and 10000, got 0"),
        (["--batch-size", "10001"], "p_batch_size must be between 1 and 10000, got 10001"),
        (["--lease", "0"], "p_lease_seconds must be between 1 and 86400 (one day), got 0"),
        (["--lease", "864000"], "got 864000"),
        (["--worker-id", ""], "p_worker_id must be a non-empty name of at most 200 characters"),
        (["--worker-id", "w" * 201], "p_worker_id must be a non-empty name"),
        (["--method", "nope"], "unknown work method 'nope'"),
    ],
    ids=["batch0", "batch10001", "lease0", "lease10days", "emptyworker", "longworker", "method"],
)
def test_claim_bad_input_exits_1_and_claims_nothing(
    runner: CliRunner, fresh_db_url: str, args: list[str], message: str
) -> None:
    _ok(m10(runner, fresh_db_url, "queue", "enqueue"))
    result = m10(runner, fresh_db_url, "queue", "claim", "--json", *args)
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    assert message in _flat(result.stderr)
    assert [(r["state"], r["attempts"]) for r in _queue(fresh_db_url)] == [("pending", 0)]


def test_complete_json_and_text(runner: CliRunner, fresh_db_url: str) -> None:
    for _ in range(3):
        _ok(m10(runner, fresh_db_url, "queue", "enqueue"))
    items = json.loads(_ok(m10(runner, fresh_db_url, "queue", "claim", "--json", "--worker-id", "w1")).stdout)
    a, b, c = (i["work_id"] for i in items)

    out = _ok(m10(runner, fresh_db_url, "queue", "complete", str(a), "--json", "--worker-id", "w1"))
    assert json.loads(out.stdout) == {"work_id": a, "recorded": True}
    assert a not in {r["id"] for r in _queue(fresh_db_url)}, "a completed item is deleted"
    again = _ok(m10(runner, fresh_db_url, "queue", "complete", str(a), "--json"))
    assert json.loads(again.stdout) == {"work_id": a, "recorded": False}, "a no-op still exits 0"
    late = _ok(m10(runner, fresh_db_url, "queue", "complete", str(a), "--failed", "--worker-id", "w1"))
    assert _flat(late.stdout) == f"work item {a}: no change (already finished, or held by another worker)"

    stale = _ok(m10(runner, fresh_db_url, "queue", "complete", str(b), "--worker-id", "other"))
    assert _flat(stale.stdout) == f"work item {b}: no change (already finished, or held by another worker)"

    failed = _ok(m10(runner, fresh_db_url, "queue", "complete", str(c), "--failed", "--error", "disk full"))
    assert _flat(failed.stdout) == f"work item {c}: outcome recorded"

    rows = {r["id"]: r for r in _queue(fresh_db_url)}
    assert set(rows) == {b, c}, "the completed item stays deleted"
    assert (rows[b]["state"], rows[b]["claimed_by"]) == ("claimed", "w1")
    assert (rows[c]["state"], rows[c]["error_message"], rows[c]["claimed_by"]) == (
        "pending",
        "disk full",
        None,
    )


def test_complete_errors_exit_1(runner: CliRunner, fresh_db_url: str) -> None:
    work_id = json.loads(_ok(m10(runner, fresh_db_url, "queue", "enqueue", "--json")).stdout)["work_id"]
    before = _queue(fresh_db_url)

    missing = m10(runner, fresh_db_url, "queue", "complete", "999999", "--json")
    assert missing.exit_code == 1
    assert missing.stdout == ""
    assert _flat(missing.stderr) == "error: work item 999999 does not exist"
    next_id = m10(runner, fresh_db_url, "queue", "complete", str(work_id + 1))
    assert next_id.exit_code == 1, "the id after the last one issued does not exist either"
    assert _flat(next_id.stderr) == f"error: work item {work_id + 1} does not exist"
    zero = m10(runner, fresh_db_url, "queue", "complete", "0", "--json")
    assert zero.exit_code == 1
    assert _flat(zero.stderr) == "error: work item 0 does not exist"

    unclaimed = m10(runner, fresh_db_url, "queue", "complete", str(work_id))
    assert unclaimed.exit_code == 1
    assert _flat(unclaimed.stderr) == (
        f"error: work item {work_id} is not claimed (state pending)"
        " (hint: Claim it with m10_recovery.claim_work before completing it.)"
    )

    not_a_number = m10(runner, fresh_db_url, "queue", "complete", "abc")
    assert not_a_number.exit_code == 2
    assert _queue(fresh_db_url) == before


def test_error_messages_are_printed_verbatim_not_as_markup(runner: CliRunner, fresh_db_url: str) -> None:
    """The database's message quotes user input; square brackets in it are text, not rich markup.
    '[/red]' must not crash the error output, '[bold]' must not vanish from it."""
    crash = m10(runner, fresh_db_url, "queue", "enqueue", "--method", "[/red]")
    assert crash.exit_code == 1, crash.exception
    assert "unknown work method '[/red]'" in _flat(crash.stderr)
    vanish = m10(runner, fresh_db_url, "queue", "enqueue", "--method", "[bold]x")
    assert vanish.exit_code == 1, vanish.exception
    assert "unknown work method '[bold]x'" in _flat(vanish.stderr)
    assert _queue(fresh_db_url) == []


def test_claim_table_prints_payloads_and_worker_ids_verbatim(runner: CliRunner, fresh_db_url: str) -> None:
    """`m10 queue claim` without --json renders the payload in a table cell: a payload holding
    '[/x]' must be shown as is, not crash the command after the claim has already committed."""
    _ok(m10(runner, fresh_db_url, "queue", "enqueue", "--payload", '{"note": "[/x] and [bold]"}'))
    out = m10(runner, fresh_db_url, "queue", "claim", "--worker-id", "[w]")
    assert out.exit_code == 0, out.exception
    assert '"[/x]' in out.stdout and '[bold]"}' in out.stdout, "shown as text (the cell may wrap)"
    assert "claimed by [w]" in out.stdout


# --- stats, release-stalled --------------------------------------------------------------------


def test_stats_json_and_text(runner: CliRunner, fresh_db_url: str) -> None:
    empty = json.loads(_ok(m10(runner, fresh_db_url, "queue", "stats", "--json")).stdout)
    assert [s["method"] for s in empty] == ["evaluate", "execute"]
    assert all(set(s) == STATS_KEYS for s in empty)
    assert all(s[k] == 0 for s in empty for k in STATS_KEYS - {"method"})

    for args in (["--priority", "1"], ["--priority", "2"], ["--delay", "3600"], ["--method", "execute"]):
        _ok(m10(runner, fresh_db_url, "queue", "enqueue", *args))
    claimed = json.loads(
        _ok(
            m10(runner, fresh_db_url, "queue", "claim", "--json", "--batch-size", "1", "--method", "evaluate")
        ).stdout
    )
    out = _ok(m10(runner, fresh_db_url, "queue", "stats", "--json"))
    stats = {s["method"]: s for s in json.loads(out.stdout)}
    assert {k: stats["evaluate"][k] for k in STATS_KEYS - {"method", "oldest_ready_age_seconds"}} == {
        "ready": 1,
        "delayed": 1,
        "claimed": 1,
        "lease_expired": 0,
        "dead": 0,
    }
    assert stats["execute"]["ready"] == 1
    assert isinstance(stats["evaluate"]["oldest_ready_age_seconds"], float)

    # A completed item is deleted: it leaves the claimed count and is counted nowhere else.
    _ok(m10(runner, fresh_db_url, "queue", "complete", str(claimed[0]["work_id"])))
    out = _ok(m10(runner, fresh_db_url, "queue", "stats", "--json"))
    after = {s["method"]: s for s in json.loads(out.stdout)}
    assert {k: after["evaluate"][k] for k in STATS_KEYS - {"method", "oldest_ready_age_seconds"}} == {
        "ready": 1,
        "delayed": 1,
        "claimed": 0,
        "lease_expired": 0,
        "dead": 0,
    }

    text = _ok(m10(runner, fresh_db_url, "queue", "stats"))
    assert "work queue" in text.stdout and "evaluate" in text.stdout and "execute" in text.stdout
    assert "dead" in text.stdout and "completed" not in text.stdout


def test_release_stalled(runner: CliRunner, fresh_db_url: str) -> None:
    for _ in range(2):
        _ok(m10(runner, fresh_db_url, "queue", "enqueue"))
    _ok(m10(runner, fresh_db_url, "queue", "claim", "--worker-id", "gone"))

    none = _ok(m10(runner, fresh_db_url, "queue", "release-stalled", "--json"))
    assert json.loads(none.stdout) == {"released": 0}, "claims are younger than the 300 s default"
    out = _ok(m10(runner, fresh_db_url, "queue", "release-stalled", "--seconds", "0", "--json"))
    assert json.loads(out.stdout) == {"released": 2}
    assert [(r["state"], r["claimed_by"]) for r in _queue(fresh_db_url)] == [("pending", None)] * 2
    text = _ok(m10(runner, fresh_db_url, "queue", "release-stalled", "--seconds", "0"))
    assert text.stdout.strip() == "released 0 stalled item(s)"

    negative = m10(runner, fresh_db_url, "queue", "release-stalled", "--seconds", "-1")
    assert negative.exit_code == 2, "rejected by the option's min=0 before reaching the database"


# --- db migrate / status -----------------------------------------------------------------------


def test_db_migrate_and_status_json_on_an_empty_database(runner: CliRunner, empty_db_url: str) -> None:
    migrations = sorted(
        p.stem for p in migrations_dir().glob("*.sql") if not p.name.endswith(".rollback.sql")
    )
    objects = [f"{o.kind}:{o.name}" for o in package_objects()]

    before = json.loads(_ok(m10(runner, empty_db_url, "db", "status", "--json")).stdout)
    assert set(before) == {
        "package_version",
        "applied_migrations",
        "pending_migrations",
        "changed_migrations",
        "objects",
        "clean",
    }
    assert before["applied_migrations"] == [] and before["pending_migrations"] == migrations
    assert before["clean"] is False
    assert {o["state"] for o in before["objects"]} == {"missing"}
    assert m10(runner, empty_db_url, "db", "status", "--check").exit_code == 1

    first = json.loads(_ok(m10(runner, empty_db_url, "db", "migrate", "--json")).stdout)
    assert first == {"migrations_applied": migrations, "objects_applied": objects, "objects_unchanged": 0}

    second = json.loads(_ok(m10(runner, empty_db_url, "db", "migrate", "--json")).stdout)
    assert second == {"migrations_applied": [], "objects_applied": [], "objects_unchanged": len(objects)}

    after = json.loads(_ok(m10(runner, empty_db_url, "db", "status", "--json")).stdout)
    assert after["clean"] is True
    assert after["applied_migrations"] == migrations and after["pending_migrations"] == []
    assert [f"{o['kind']}:{o['name']}" for o in after["objects"]] == objects
    assert {o["state"] for o in after["objects"]} == {"ok"}
    _ok(m10(runner, empty_db_url, "db", "status", "--check"))

    # The freshly migrated database works from the CLI straight away.
    work = json.loads(_ok(m10(runner, empty_db_url, "queue", "enqueue", "--json")).stdout)
    claimed = json.loads(_ok(m10(runner, empty_db_url, "queue", "claim", "--json")).stdout)
    assert [i["work_id"] for i in claimed] == [work["work_id"]]


def test_unreachable_database_exits_3(runner: CliRunner, server_url: str) -> None:
    from m10py.db import with_database

    missing = with_database(server_url, "m10_no_such_database")
    result = m10(runner, missing, "db", "status", "--json")
    assert result.exit_code == 3, (result.stderr, result.exception)
    assert result.stdout == ""
    assert _flat(result.stderr).startswith("database unavailable:")
    assert 'database "m10_no_such_database" does not exist' in _flat(result.stderr)


def test_queue_command_on_an_unmigrated_database_fails_cleanly(runner: CliRunner, empty_db_url: str) -> None:
    """No schema yet: the command must say so on stderr and exit 1, not die with a traceback."""
    result = m10(runner, empty_db_url, "queue", "stats", "--json")
    assert isinstance(result.exception, SystemExit), f"uncaught: {result.exception!r}"
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "m10_recovery" in _flat(result.stderr)


def test_integer_beyond_the_sql_type_exits_1_with_a_message(runner: CliRunner, fresh_db_url: str) -> None:
    """--batch-size 10000000000 is bad input like --batch-size 0: exit 1 and a message, not an
    uncaught UndefinedFunction ('function m10_recovery.claim_work(...) does not exist')."""
    _ok(m10(runner, fresh_db_url, "queue", "enqueue"))
    result = m10(runner, fresh_db_url, "queue", "claim", "--batch-size", "10000000000")
    assert isinstance(result.exception, SystemExit), f"uncaught: {result.exception!r}"
    assert result.exit_code == 1
    assert "does not exist" not in _flat(result.stderr)
    assert [r["state"] for r in _queue(fresh_db_url)] == ["pending"]
