"""`m10 ingest`, `m10 worker` and `m10 candidates` against a real database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from m10py.cli import app

runner = CliRunner()
M10 = str(Path(sys.executable).with_name("m10"))


def m10(url: str, *args: str, input: str | bytes | None = None) -> Any:
    return runner.invoke(app, ["--database-url", url, *args], input=input)


def candidates(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM m10_recovery.recovery_candidates").fetchone()
    assert row is not None
    return int(row[0])


def test_ingest_argument_twice_is_one_candidate_seen_twice(fresh_db_url: str) -> None:
    fmid = str(uuid.uuid4())
    payload = '{"error_type": "TIMEOUT", "raw": "Connection timed out after 30s"}'
    first = m10(fresh_db_url, "ingest", "--failure-match-id", fmid, payload, "--json")
    assert first.exit_code == 0, first.output
    again = m10(
        fresh_db_url,
        "ingest",
        "--failure-match-id",
        fmid,
        '{"error_type": "TIMEOUT", "raw": "Connection timed out after 60s"}',
        "--json",
    )
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    assert (one["status"], two["status"]) == ("accepted", "duplicate")
    assert one["candidate_id"] == two["candidate_id"] and two["occurrence_count"] == 2
    assert one["work_id"] is not None, "the new candidate was queued for evaluation"


def test_ingest_from_stdin_and_file_with_a_request_object(fresh_db_url: str, tmp_path: Path) -> None:
    key = str(uuid.uuid4())
    request = {
        "failure_match_id": str(uuid.uuid4()),
        "failure_payload": {"error_type": "HTTP_429"},
        "idempotency_key": key,
    }
    from_stdin = m10(fresh_db_url, "ingest", "--file", "-", "--json", input=json.dumps(request))
    assert from_stdin.exit_code == 0, from_stdin.output
    path = tmp_path / "failure.json"
    path.write_text(json.dumps(request))
    replay = m10(fresh_db_url, "ingest", "--file", str(path), "--json")
    assert json.loads(replay.stdout)["candidate_id"] == json.loads(from_stdin.stdout)["candidate_id"]
    assert json.loads(replay.stdout)["occurrence_count"] == 1, "an idempotent retry counts nothing"


def test_bad_input_exits_1_names_the_place_and_writes_nothing(fresh_db_url: str, tmp_path: Path) -> None:
    bad_utf8 = tmp_path / "bad.json"
    bad_utf8.write_bytes(b'{"error_type": "X", "raw": "caf\xe9"}')
    cases = [
        (["ingest", "{nope"], "PAYLOAD: not valid JSON"),
        (["ingest", "--file", str(bad_utf8)], "bad.json: not valid UTF-8"),
        (["ingest", '{"error_type": 5}'], "error_type"),
        (["ingest", "--failure-match-id", "not-a-uuid", "{}"], "failure_match_id is not a UUID"),
    ]
    for args, message in cases:
        result = m10(fresh_db_url, *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    assert candidates(fresh_db_url) == 0


def test_jsonl_is_all_or_nothing(fresh_db_url: str, tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "failure_match_id": str(uuid.uuid4()),
                "failure_payload": {"error_type": "TIMEOUT", "raw": f"timed out after {n}s"},
            }
        )
        for n in range(250)
    ]
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:2], '{"failure_match_id": "x", "failure_payload": {}}', *lines[2:]]))
    result = m10(fresh_db_url, "ingest", "--jsonl", str(broken))
    assert result.exit_code == 1 and "broken.jsonl:3" in result.output
    assert candidates(fresh_db_url) == 0
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines) + "\n")
    result = m10(fresh_db_url, "ingest", "--jsonl", str(good), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ingested": 250, "accepted": 250, "duplicate": 0}


def test_worker_once_then_list_explain_and_decide(fresh_db_url: str) -> None:
    m10(fresh_db_url, "ingest", '{"error_type": "TIMEOUT", "raw": "Connection timed out after 30s"}')
    m10(fresh_db_url, "ingest", '{"error_type": "PERMISSION_DENIED", "raw": "Permission denied: /srv/x"}')
    worked = m10(fresh_db_url, "worker", "--once", "--json")
    assert worked.exit_code == 0, worked.output
    assert json.loads(worked.stdout)["evaluated"] == 2
    listed = json.loads(m10(fresh_db_url, "candidates", "list", "--json").stdout)
    actions = {c["error_code"]: c["suggested_action"] for c in listed}
    assert actions == {"TIMEOUT": "retry_with_backoff", "PERMISSION_DENIED": "request_permission"}
    assert all(c["evaluation_state"] == "evaluated" and 0 < c["confidence"] < 1 for c in listed)

    timeout_id = next(c["id"] for c in listed if c["error_code"] == "TIMEOUT")
    explained = json.loads(m10(fresh_db_url, "candidates", "explain", str(timeout_id), "--json").stdout)
    events = [e["event"] for e in explained["provenance"]]
    assert events[:2] == ["ingested", "evaluated"]
    human = m10(fresh_db_url, "candidates", "explain", str(timeout_id))
    assert human.exit_code == 0 and "latest evaluation" in human.output

    approved = m10(fresh_db_url, "candidates", "approve", str(timeout_id), "--actor", "alice", "--json")
    assert json.loads(approved.stdout)["decision"] == "approved"
    flip = m10(fresh_db_url, "candidates", "reject", str(timeout_id), "--actor", "bob")
    assert flip.exit_code == 1 and "error:" in flip.output, "approved -> rejected is refused"
    missing = m10(fresh_db_url, "candidates", "show", "999999")
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_worker_stops_cleanly_on_sigterm(fresh_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_db_url}
    for n in range(30):
        m10(fresh_db_url, "ingest", json.dumps({"error_type": "TIMEOUT", "raw": f"timed out job {n}"}))
    proc = subprocess.Popen(
        [M10, "worker", "--poll-interval", "0.2", "--batch-size", "5", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(fresh_db_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM m10_recovery.recovery_candidates"
                    " WHERE evaluation_state = 'evaluated'"
                ).fetchone()
            if row and row[0] == 30:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["evaluated"] == 30
    with psycopg.connect(fresh_db_url) as conn:
        row = conn.execute("SELECT count(*) FROM m10_recovery.work_queue WHERE state <> 'dead'").fetchone()
    assert row == (0,), "every evaluation's work item was completed before the worker exited"


def test_candidates_similar_lists_near_templates_with_a_score(fresh_db_url: str) -> None:
    for raw in (
        "disk is full on node 1",
        "disk is full on node 2",
        "disk is failing on node 3",
        "network down",
    ):
        done = m10(fresh_db_url, "ingest", json.dumps({"error_type": "DISK", "raw": raw}), "--json")
        assert done.exit_code == 0, done.output
    first = min(c["id"] for c in json.loads(m10(fresh_db_url, "candidates", "list", "--json").stdout))
    near = m10(fresh_db_url, "candidates", "similar", str(first), "--json")
    assert near.exit_code == 0, near.output
    rows = json.loads(near.stdout)
    assert [(r["template"], round(r["score"], 3)) for r in rows] == [
        ("disk is full on node <*>", 1.0),
        ("disk is failing on node <*>", 0.667),
    ]
    assert rows[1]["shared_words"] == ["disk", "is", "node", "on"]
    limited = json.loads(
        m10(fresh_db_url, "candidates", "similar", str(first), "--limit", "1", "--json").stdout
    )
    assert len(limited) == 1
    human = m10(fresh_db_url, "candidates", "similar", str(first))
    assert human.exit_code == 0 and "candidates similar to" in human.output
    missing = m10(fresh_db_url, "candidates", "similar", "999999")
    assert missing.exit_code == 1 and "not found" in missing.output
