"""The learned template store under real concurrency: 8 connections, released together.

Each thread owns one connection (autocommit, READ COMMITTED, as a client sends it). The design promises
one template per new shape however many connections report it first at once, the same signature for
all of them, no error, and no deadlock - also for batches that hold the same shapes in opposite orders.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

CONNECTIONS = 8

INGEST = """
SELECT error_signature
  FROM m10_recovery.ingest_failure(p_failure_match_id => %s, p_failure_payload => %s)
"""
INGEST_MANY = """
SELECT ordinal, error_signature FROM m10_recovery.ingest_failures(p_failures => %s) ORDER BY ordinal
"""

# New shapes: each first word starts a shape no other message has. Numbers differ per connection, so
# every connection's message is new text of a shape (only the template makes them one).
SHAPES = [f"{word} failed after {{n}} retries on shard {{n}}" for word in ("alpha", "beta", "gamma", "delta")]
# Same shapes, last word differing per connection: the first report creates, the others merge.
WORDS = [f"{word} connection reset by peer{{w}}" for word in ("epsilon", "zeta")]
PEERS = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"]


def _together(url: str, work: Callable[[psycopg.Connection[Any], int], list[Any]]) -> list[list[Any]]:
    conns = [psycopg.connect(url, autocommit=True) for _ in range(CONNECTIONS)]
    for c in conns:
        c.execute("SET statement_timeout = '60s'")  # a hang fails the test instead of stalling it
    start = threading.Barrier(CONNECTIONS)

    def run(i: int) -> list[Any]:
        start.wait(timeout=60)
        try:
            return work(conns[i], i)
        except psycopg.Error as exc:
            return [("error", exc.sqlstate, exc.diag.message_primary)]

    try:
        with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
            return list(pool.map(run, range(CONNECTIONS)))
    finally:
        for c in conns:
            c.close()


def _templates(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT template, version FROM m10_recovery.message_templates ORDER BY template")
        return [(str(r[0]), int(r[1])) for r in rows.fetchall()]


def _replay_matches_store(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT array_agg(r.template_key || r.tokens::text || r.version ORDER BY r.template_key)"
            "          FROM m10_recovery.replay_template_log() r)"
            "     = (SELECT array_agg(t.template_key || t.tokens::text || t.version ORDER BY t.template_key)"
            "          FROM m10_recovery.message_templates t)"
        ).fetchone()
    return bool(row and row[0])


def _payload(message: str) -> Jsonb:
    return Jsonb({"error_type": "E", "raw": message})


def test_8_connections_reporting_the_same_new_shapes_create_one_template_each(fresh_db_url: str) -> None:
    def work(conn: psycopg.Connection[Any], i: int) -> list[Any]:
        messages = [s.format(n=i * 7 + 1) for s in SHAPES] + [w.format(w="") + PEERS[i] for w in WORDS]
        out = []
        for message in messages[i % 2 :] + messages[: i % 2]:  # not all in one order
            row = conn.execute(INGEST, (uuid.uuid4(), _payload(message))).fetchone()
            assert row is not None
            out.append((message.split()[0], row[0]))
        return out

    results = _together(fresh_db_url, work)
    flat = [r for part in results for r in part]
    assert [r for r in flat if r[0] == "error"] == [], "no error, no deadlock"
    by_shape: dict[str, set[str]] = {}
    for word, signature in flat:
        by_shape.setdefault(word, set()).add(signature)
    assert {w: len(s) for w, s in by_shape.items()} == dict.fromkeys(
        ("alpha", "beta", "gamma", "delta", "epsilon", "zeta"), 1
    )
    templates = _templates(fresh_db_url)
    assert [t for t, _ in templates] == [
        "alpha failed after <*> retries on shard <*>",
        "beta failed after <*> retries on shard <*>",
        "delta failed after <*> retries on shard <*>",
        "epsilon connection reset by <*>",
        "gamma failed after <*> retries on shard <*>",
        "zeta connection reset by <*>",
    ], "one template per shape"
    # The last word differs per connection: one creation, then at most one widening merge.
    assert dict(templates)["epsilon connection reset by <*>"] == 2
    assert _replay_matches_store(fresh_db_url)


def test_8_connections_sending_batches_of_new_shapes_in_opposite_orders_do_not_deadlock(
    fresh_db_url: str,
) -> None:
    def work(conn: psycopg.Connection[Any], i: int) -> list[Any]:
        messages = [s.format(n=i) for s in SHAPES] + [w.format(w="") + PEERS[i] for w in WORDS]
        if i % 2:
            messages.reverse()
        doc = [
            {"failure_match_id": str(uuid.uuid4()), "failure_payload": {"error_type": "E", "raw": m}}
            for m in messages
        ]
        rows = conn.execute(INGEST_MANY, (Jsonb(doc),)).fetchall()
        return [(m.split()[0], r[1]) for m, r in zip(messages, rows, strict=True)]

    results = _together(fresh_db_url, work)
    flat = [r for part in results for r in part]
    assert [r for r in flat if r[0] == "error"] == [], "no error, no deadlock"
    assert len({(w, s) for w, s in flat}) == 6, "one signature per shape"
    assert len(_templates(fresh_db_url)) == 6, "one template per shape"
    assert _replay_matches_store(fresh_db_url)
