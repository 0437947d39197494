"""Ingest under real concurrency: many connections, released together, against one database.

Only SQL goes through psycopg here. Each thread owns one connection (psycopg releases the GIL while
it waits for the server, so the calls really overlap in PostgreSQL) and every thread waits at a
barrier until all are connected. Every call runs in its own transaction (autocommit), at READ
COMMITTED, as a client would send it. Errors are collected, never swallowed: the tests require none
where the design promises none (no unique violation, no deadlock, no serialisation failure).

The server may be shared (max_connections is often 100), so "100 concurrent reports" are 25
connections sending 4 calls each, back to back.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

CONNECTIONS = 25
CALLS_EACH = 4

INGEST = """
SELECT candidate_id, status, is_duplicate, occurrence_count, error_signature, work_id
  FROM m10_recovery.ingest_failure(p_failure_match_id => %s, p_failure_payload => %s,
                                   p_source => %s, p_idempotency_key => %s)
"""
INGEST_MANY = """
SELECT ordinal, candidate_id, status, is_duplicate, occurrence_count, error_signature, work_id
  FROM m10_recovery.ingest_failures(p_failures => %s)
 ORDER BY ordinal
"""

Answer = tuple[Any, ...]


def _connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET statement_timeout = '60s'")  # a hang fails the test instead of stalling it
    return conn


def _together(
    url: str, connections: int, work: Callable[[psycopg.Connection[Any], int], list[Any]]
) -> list[Any]:
    """Run work(conn, i) on `connections` threads, each with its own connection, released together;
    return everything they returned, in thread order."""
    conns = [_connect(url) for _ in range(connections)]
    start = threading.Barrier(connections)

    def run(i: int) -> list[Any]:
        start.wait(timeout=60)
        return work(conns[i], i)

    try:
        with ThreadPoolExecutor(max_workers=connections) as pool:
            parts = list(pool.map(run, range(connections)))
    finally:
        for c in conns:
            c.close()
    return [x for part in parts for x in part]


def _attempt(call: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """('ok', call(*args)) or ('error', (sqlstate, message))."""
    try:
        return ("ok", call(*args))
    except psycopg.Error as exc:
        return ("error", (exc.sqlstate, exc.diag.message_primary))


def _one(
    conn: psycopg.Connection[Any],
    fmid: uuid.UUID,
    payload: dict[str, Any],
    source: str | None,
    key: uuid.UUID | None,
) -> Answer:
    row = conn.execute(INGEST, (fmid, Jsonb(payload), source, key)).fetchone()
    assert row is not None
    return tuple(row)


def _many(conn: psycopg.Connection[Any], doc: list[dict[str, Any]]) -> list[Answer]:
    return [tuple(r) for r in conn.execute(INGEST_MANY, (Jsonb(doc),)).fetchall()]


def _tables(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM m10_recovery.recovery_candidates),"
            "       (SELECT coalesce(sum(occurrence_count), 0) FROM m10_recovery.recovery_candidates),"
            "       (SELECT count(*) FROM m10_recovery.suggestion_input),"
            "       (SELECT count(*) FILTER (WHERE event = 'ingested')"
            "          FROM m10_recovery.suggestion_provenance),"
            "       (SELECT count(*) FILTER (WHERE event = 'repeated')"
            "          FROM m10_recovery.suggestion_provenance),"
            "       (SELECT count(*) FROM m10_recovery.ingest_requests),"
            "       (SELECT count(*) FROM m10_recovery.work_queue WHERE method = 'evaluate')"
        ).fetchone()
    assert row is not None
    keys = ("candidates", "occurrences", "inputs", "ingested", "repeated", "requests", "work")
    return dict(zip(keys, (int(x) for x in row), strict=True))


def _errors(outcomes: list[tuple[str, Any]]) -> list[Any]:
    return [detail for kind, detail in outcomes if kind == "error"]


PAYLOAD = {"error_type": "TIMEOUT", "raw": "upstream timed out after 30s", "skill": "fetch"}


def test_100_concurrent_identical_reports_make_one_candidate_counted_100_times(fresh_db_url: str) -> None:
    fmid = uuid.uuid4()

    def work(conn: psycopg.Connection[Any], _: int) -> list[tuple[str, Any]]:
        return [_attempt(_one, conn, fmid, PAYLOAD, "agent", None) for _ in range(CALLS_EACH)]

    outcomes = _together(fresh_db_url, CONNECTIONS, work)
    total = CONNECTIONS * CALLS_EACH
    assert _errors(outcomes) == [], "concurrent identical reports must never fail"
    answers: list[Answer] = [r for _, r in outcomes]
    assert len(answers) == total == 100
    assert Counter(a[1] for a in answers) == {"accepted": 1, "duplicate": total - 1}
    assert all(a[2] == (a[1] == "duplicate") for a in answers), "is_duplicate agrees with status"
    assert len({a[0] for a in answers}) == 1, "one candidate"
    assert len({a[4] for a in answers}) == 1, "one signature"
    # Every increment is seen by exactly one report: the counts are 1..100, each once.
    assert sorted(a[3] for a in answers) == list(range(1, total + 1))
    accepted = next(a for a in answers if a[1] == "accepted")
    assert accepted[3] == 1 and accepted[5] is not None
    assert [a[5] for a in answers if a[1] == "duplicate"] == [None] * (total - 1)

    assert _tables(fresh_db_url) == {
        "candidates": 1,
        "occurrences": total,
        "inputs": total,
        "ingested": 1,
        "repeated": total - 1,
        "requests": 0,
        "work": 1,
    }
    with psycopg.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT candidate_id FROM m10_recovery.work_queue").fetchall() == [(accepted[0],)]


def test_100_concurrent_reports_with_one_idempotency_key_replay_the_first_answer(fresh_db_url: str) -> None:
    fmid, key = uuid.uuid4(), uuid.uuid4()

    def work(conn: psycopg.Connection[Any], _: int) -> list[tuple[str, Any]]:
        return [_attempt(_one, conn, fmid, PAYLOAD, "agent", key) for _ in range(CALLS_EACH)]

    outcomes = _together(fresh_db_url, CONNECTIONS, work)
    total = CONNECTIONS * CALLS_EACH
    assert _errors(outcomes) == [], "concurrent first uses of one key must never fail"
    answers: list[Answer] = [r for _, r in outcomes]
    assert len(answers) == total
    assert len({a[:5] for a in answers}) == 1, "every answer is the same"
    candidate_id, status, is_duplicate, count, _signature = answers[0][:5]
    assert (status, is_duplicate, count) == ("accepted", False, 1)
    assert sum(1 for a in answers if a[5] is not None) == 1, "only the first use enqueued work"
    assert _tables(fresh_db_url) == {
        "candidates": 1,
        "occurrences": 1,
        "inputs": 1,
        "ingested": 1,
        "repeated": 0,
        "requests": 1,
        "work": 1,
    }
    with psycopg.connect(fresh_db_url) as conn:
        row = conn.execute("SELECT candidate_id, status FROM m10_recovery.ingest_requests").fetchone()
    assert row == (candidate_id, "accepted")


def test_one_key_with_different_payloads_concurrently_one_wins_the_others_get_a_clear_error(
    fresh_db_url: str,
) -> None:
    key = uuid.uuid4()
    connections = 8

    def work(conn: psycopg.Connection[Any], i: int) -> list[tuple[str, Any]]:
        payload = {"error_type": f"E{i}", "raw": "x"}  # a different request (and identity) per thread
        return [_attempt(_one, conn, uuid.uuid4(), payload, None, key)]

    outcomes = _together(fresh_db_url, connections, work)
    wins = [r for kind, r in outcomes if kind == "ok"]
    errors = _errors(outcomes)
    assert len(wins) == 1 and wins[0][1] == "accepted"
    assert len(errors) == connections - 1
    for sqlstate, message in errors:
        assert sqlstate == "22023", (sqlstate, message)
        assert message == f"idempotency key {key} was already used with a different payload"
    assert _tables(fresh_db_url) == {
        "candidates": 1,
        "occurrences": 1,
        "inputs": 1,
        "ingested": 1,
        "repeated": 0,
        "requests": 1,
        "work": 1,
    }


def _element(fmid: uuid.UUID, code: str, key: uuid.UUID | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "failure_match_id": str(fmid),
        "failure_payload": {"error_type": code, "raw": "r"},
    }
    if key is not None:
        element["idempotency_key"] = str(key)
    return element


def test_concurrent_batches_with_overlapping_identities_neither_deadlock_nor_miscount(
    fresh_db_url: str,
) -> None:
    """8 connections send batches drawn from 30 identities in random order (so, unsorted, two
    batches would lock the same rows in opposite orders); the upsert sorts by identity."""
    fmids = [uuid.uuid4() for _ in range(10)]
    identities = [(f, code) for f in fmids for code in ("A", "B", "C")]
    connections, batches, size = 8, 6, 50
    plans = {
        i: [[random.Random(i * 100 + b).choice(identities) for _ in range(size)] for b in range(batches)]
        for i in range(connections)
    }

    def work(
        conn: psycopg.Connection[Any], i: int
    ) -> list[tuple[list[tuple[uuid.UUID, str]], tuple[str, Any]]]:
        return [
            (batch, _attempt(_many, conn, [_element(f, code) for f, code in batch])) for batch in plans[i]
        ]

    sent_and_outcomes = _together(fresh_db_url, connections, work)
    outcomes = [(batch, result) for batch, (_, result) in sent_and_outcomes]
    assert _errors([o for _, o in sent_and_outcomes]) == [], (
        "no deadlock (40P01), no unique violation, no error"
    )

    sent = Counter(ident for plan in plans.values() for batch in plan for ident in batch)
    counts_seen: dict[tuple[uuid.UUID, str], list[int]] = {}
    accepted: Counter[tuple[uuid.UUID, str]] = Counter()
    candidate_of: dict[tuple[uuid.UUID, str], set[int]] = {}
    for batch, rows in outcomes:
        assert [r[0] for r in rows] == list(range(1, len(batch) + 1)), "one row per element, in order"
        for ident, (_, cand, status, is_dup, count, _sig, work_id) in zip(batch, rows, strict=True):
            counts_seen.setdefault(ident, []).append(count)
            candidate_of.setdefault(ident, set()).add(cand)
            accepted[ident] += status == "accepted"
            assert is_dup == (status == "duplicate")
            assert (work_id is not None) == (status == "accepted")
    for ident, n in sent.items():
        assert sorted(counts_seen[ident]) == list(range(1, n + 1)), f"{ident}: every increment seen once"
        assert accepted[ident] == 1, ident
        assert len(candidate_of[ident]) == 1, ident

    with psycopg.connect(fresh_db_url) as conn:
        stored = {
            (f, code): n
            for f, code, n in conn.execute(
                "SELECT failure_match_id, error_code, occurrence_count FROM m10_recovery.recovery_candidates"
            )
        }
    assert stored == dict(sent)
    total = sum(sent.values())
    assert _tables(fresh_db_url) == {
        "candidates": len(sent),
        "occurrences": total,
        "inputs": total,
        "ingested": len(sent),
        "repeated": total - len(sent),
        "requests": 0,
        "work": len(sent),
    }


@pytest.mark.parametrize("rounds", [3])
def test_keys_raced_by_batches_and_single_calls_are_recorded_once_and_count_once(
    fresh_db_url: str, rounds: int
) -> None:
    """40 keys, each bound to one report, sent again and again by 8 connections: some in batches
    (in random order, a key sometimes twice in one batch, mixed with plain reports), some with
    ingest_failure. Every key's report counts once and every answer for it is the same."""
    keyed = [(uuid.uuid4(), f"K{i}", uuid.uuid4()) for i in range(40)]
    plain_fmid = uuid.uuid4()
    connections = 8

    def work(conn: psycopg.Connection[Any], i: int) -> list[tuple[str, Any, tuple[str, Any]]]:
        rng = random.Random(i)
        out: list[tuple[str, Any, tuple[str, Any]]] = []
        for _ in range(rounds):
            if i % 2 == 0:
                picks = [rng.choice(keyed) for _ in range(30)]
                doc = [_element(f, code, key) for f, code, key in picks] + [_element(plain_fmid, "PLAIN")] * 5
                rng.shuffle(doc)
                out.append(("batch", doc, _attempt(_many, conn, doc)))
            else:
                for f, code, key in rng.sample(keyed, 10):
                    payload = {"error_type": code, "raw": "r"}
                    out.append(("single", key, _attempt(_one, conn, f, payload, None, key)))
        return out

    outcomes = _together(fresh_db_url, connections, work)
    assert _errors([o for _, _, o in outcomes]) == [], "racing first uses of keys never fail"

    answers: dict[str, set[Answer]] = {}
    plain_reports = 0
    for kind, sent, (_, result) in outcomes:
        if kind == "single":
            answers.setdefault(str(sent), set()).add(tuple(result[:5]))
            continue
        for element, row in zip(sent, result, strict=True):
            if "idempotency_key" in element:
                answers.setdefault(element["idempotency_key"], set()).add(tuple(row[1:6]))
            else:
                plain_reports += 1
    for key, seen in answers.items():
        assert len(seen) == 1, f"key {key} answered differently: {seen}"
        (answer,) = seen
        assert answer[1:4] == ("accepted", False, 1), answer

    used = len(answers)
    with psycopg.connect(fresh_db_url) as conn:
        keyed_counts = conn.execute(
            "SELECT count(*), sum(occurrence_count) FROM m10_recovery.recovery_candidates"
            " WHERE error_code <> 'PLAIN'"
        ).fetchone()
        plain = conn.execute(
            "SELECT occurrence_count FROM m10_recovery.recovery_candidates WHERE error_code = 'PLAIN'"
        ).fetchone()
    assert keyed_counts == (used, used), "each key's report counted once"
    assert plain == (plain_reports,)
    tables = _tables(fresh_db_url)
    assert tables["requests"] == used
    assert tables["inputs"] == tables["occurrences"] == used + plain_reports
    assert tables["ingested"] == used + 1
    assert tables["work"] == used + 1
