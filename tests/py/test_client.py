"""M10Client against a real database: typed round trips, composing calls into the caller's
transaction, and recovery from a dropped connection."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.pq import TransactionStatus

from m10py.client import M10Client
from m10py.errors import InvalidArgument, InvalidState, NotFound
from m10py.models import ClaimedWork, QueueStats


def _row(url: str, work_id: int) -> dict[str, Any] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT to_jsonb(w) FROM m10_recovery.work_queue w WHERE id = %s", (work_id,)
        ).fetchone()
    return None if row is None else row[0]


def _count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM m10_recovery.work_queue").fetchone()
    assert row is not None
    return int(row[0])


def _stats(client: M10Client, method: str = "evaluate") -> QueueStats:
    return next(s for s in client.queue_stats() if s.method == method)


def _expire_lease(url: str, work_id: int) -> None:
    """End a running lease now, as if its worker had stopped answering: exactly what real time does."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(
            "UPDATE m10_recovery.work_queue SET available_at = now() - interval '1 second'"
            " WHERE id = %s AND state = 'claimed'",
            (work_id,),
        )
        assert cur.rowcount == 1, f"item {work_id} is not claimed"


# --- round trips -------------------------------------------------------------------------------


def test_enqueue_then_claim_returns_a_typed_claimed_work(client: M10Client, fresh_db_url: str) -> None:
    payload = {"host": "db-7", "tags": ["a", "b"], "nested": {"n": 1, "ok": True, "none": None}}
    work_id = client.enqueue_work(candidate_id=42, method="execute", payload=payload, priority=7)
    assert isinstance(work_id, int)
    stored = _row(fresh_db_url, work_id)
    assert stored is not None
    assert (stored["state"], stored["candidate_id"], stored["method"], stored["payload"]) == (
        "pending",
        42,
        "execute",
        payload,
    )
    assert stored["max_attempts"] == 3, "execute's default_max_attempts"

    claimed = client.claim_work("w1", 10, lease_seconds=120, method="execute")
    assert len(claimed) == 1
    item = claimed[0]
    assert isinstance(item, ClaimedWork)
    assert (item.work_id, item.candidate_id, item.method, item.payload, item.priority) == (
        work_id,
        42,
        "execute",
        payload,
        7,
    )
    assert (item.attempts, item.max_attempts) == (1, 3)
    for stamp in (item.enqueued_at, item.claimed_at, item.lease_expires_at):
        assert isinstance(stamp, datetime) and stamp.tzinfo is not None
    assert item.enqueued_at <= item.claimed_at
    assert item.lease_expires_at - item.claimed_at == timedelta(seconds=120)

    as_json = item.to_json()
    assert json.loads(json.dumps(as_json)) == as_json, "to_json is plain JSON"
    assert datetime.fromisoformat(as_json["lease_expires_at"]) == item.lease_expires_at
    assert as_json["payload"] == payload
    assert set(as_json) == {
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
    assert not hasattr(item, "__dict__"), "ClaimedWork is a slots dataclass"


def test_claimed_work_fields_are_in_the_sql_types_column_order(client: M10Client, fresh_db_url: str) -> None:
    """Claims build ClaimedWork positionally (args_row): a field out of the SQL type's order would
    silently swap values of one type (attempts and max_attempts, claimed_at and lease_expires_at)."""
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT a.attname FROM pg_attribute a"
                " WHERE a.attrelid = (SELECT typrelid FROM pg_type"
                "                      WHERE oid = 'm10_recovery.claimed_work'::regtype)"
                "   AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            )
        ]
        for function in ("claim_work('w', 1)", "complete_and_claim('w', '{}')"):
            cur = conn.execute(f"SELECT * FROM m10_recovery.{function}")  # type: ignore[arg-type]
            assert cur.description is not None
            assert [d.name for d in cur.description] == columns, function
    assert [f.name for f in dataclasses.fields(ClaimedWork)] == columns

    work_id = client.enqueue_work(payload={"k": 1}, max_attempts=7, priority=2)
    (item,) = client.claim_work("w", 1, lease_seconds=30)
    assert (item.work_id, item.attempts, item.max_attempts, item.priority) == (work_id, 1, 7, 2)
    assert item.lease_expires_at - item.claimed_at == timedelta(seconds=30)


def test_claim_order_batch_size_and_method_filter(client: M10Client) -> None:
    low = client.enqueue_work(priority=-5)
    high = client.enqueue_work(priority=100)
    mid = [client.enqueue_work(priority=3) for _ in range(3)]
    other = client.enqueue_work(method="execute", priority=1000)

    first = client.claim_work("w", 2, method="evaluate")
    assert [i.work_id for i in first] == [high, mid[0]], "priority first, then oldest"
    rest = client.claim_work("w", 100, method="evaluate")
    assert [i.work_id for i in rest] == [mid[1], mid[2], low]
    assert client.claim_work("w", 100, method="evaluate") == []
    assert [i.work_id for i in client.claim_work("w", 100)] == [other]


def test_items_whose_lease_expired_are_claimed_before_pending_ones(
    client: M10Client, fresh_db_url: str
) -> None:
    expired = client.enqueue_work_batch([{"e": i} for i in range(3)], priority=-100)
    assert [i.work_id for i in client.claim_work("crashed", 3)] == expired
    urgent = client.enqueue_work_batch([{"u": i} for i in range(3)], priority=100)
    # Leases end in the order 2, 0, 1; the crashed worker's items come back in that order.
    for work_id in (expired[2], expired[0], expired[1]):
        _expire_lease(fresh_db_url, work_id)
        time.sleep(0.002)
    assert _stats(client).lease_expired == 3

    first = client.claim_work("w", 2)
    assert {i.work_id for i in first} == {expired[2], expired[0]}, "the longest-expired leases first"
    assert [i.work_id for i in first] == sorted(i.work_id for i in first), "returned by priority, then id"
    assert all(i.attempts == 2 for i in first)
    second = client.claim_work("w", 2)
    assert [i.work_id for i in second] == [urgent[0], expired[1]], "the last expired one, then by priority"
    assert [(i.work_id, i.attempts) for i in client.claim_work("w", 10)] == [(urgent[1], 1), (urgent[2], 1)]

    # The crashed worker comes back too late: its completions change nothing.
    assert client.complete_work(expired[0], True, worker_id="crashed") is False
    stored = _row(fresh_db_url, expired[0])
    assert stored is not None and (stored["state"], stored["claimed_by"]) == ("claimed", "w")


def test_an_expired_lease_on_the_last_attempt_is_dead_not_handed_out(
    client: M10Client, fresh_db_url: str
) -> None:
    poison = client.enqueue_work(max_attempts=1, priority=5)
    assert [i.work_id for i in client.claim_work("crashed", 1)] == [poison]
    _expire_lease(fresh_db_url, poison)
    after = client.enqueue_work()

    assert [i.work_id for i in client.claim_work("w", 2)] == [after], "the poison item is not handed out"
    stored = _row(fresh_db_url, poison)
    assert stored is not None
    assert (stored["state"], stored["attempts"], stored["claimed_by"], stored["error_message"]) == (
        "dead",
        1,
        "crashed",
        "lease expired on attempt 1 of 1 (worker crashed)",
    )
    assert stored["processed_at"] is not None
    assert (_stats(client).dead, _stats(client).lease_expired) == (1, 0)
    assert client.complete_work(poison, True, worker_id="crashed") is False, "dead stays dead"
    assert client.complete_work(poison, True) is False
    stored_again = _row(fresh_db_url, poison)
    assert stored_again == stored


def test_enqueue_work_batch_keeps_order_pairs_candidates_and_delays(
    client: M10Client, fresh_db_url: str
) -> None:
    payloads = [{"i": i} for i in range(5)]
    ids = client.enqueue_work_batch(payloads, candidate_ids=[10, 11, 12, 13, 14], priority=2, max_attempts=9)
    assert ids == sorted(ids) and len(set(ids)) == 5
    for i, work_id in enumerate(ids):
        stored = _row(fresh_db_url, work_id)
        assert stored is not None
        assert (stored["payload"], stored["candidate_id"], stored["priority"], stored["max_attempts"]) == (
            {"i": i},
            10 + i,
            2,
            9,
        )

    many = client.enqueue_work_batch([{"i": i, "s": "x" * (i % 7)} for i in range(1000)], delay_seconds=3600)
    assert many == list(range(ids[-1] + 1, ids[-1] + 1001)), "one id per payload, in input order"
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        stored_payloads = conn.execute(
            "SELECT array_agg((payload->>'i')::int ORDER BY id) FROM m10_recovery.work_queue"
            " WHERE id = ANY(%s)",
            (many,),
        ).fetchone()
    assert stored_payloads == (list(range(1000)),)
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM m10_recovery.work_queue WHERE id = ANY(%s)", (many,))

    delayed = client.enqueue_work_batch([{"later": True}], delay_seconds=3600)
    claimed = client.claim_work("w", 100)
    assert {c.work_id for c in claimed} == set(ids), "delayed items are not claimable yet"
    assert _stats(client).delayed == 1
    assert delayed[0] not in {c.work_id for c in claimed}


def test_complete_work_outcomes(client: M10Client, fresh_db_url: str) -> None:
    ok_id, fail_id = client.enqueue_work(), client.enqueue_work(max_attempts=2)
    client.claim_work("w1", 10)

    assert client.complete_work(ok_id, True, worker_id="w1") is True
    assert _row(fresh_db_url, ok_id) is None, "a completed item is deleted"
    assert client.complete_work(ok_id, True) is False, "a repeated completion is a no-op"
    assert client.complete_work(ok_id, True, worker_id="w1") is False, "also for the worker that completed it"
    assert client.complete_work(ok_id, False, "late failure", worker_id="w1") is False
    assert _row(fresh_db_url, ok_id) is None, "a late outcome does not bring the item back"
    assert client.complete_work(fail_id, True, worker_id="someone-else") is False
    stored = _row(fresh_db_url, fail_id)
    assert stored is not None and (stored["state"], stored["claimed_by"]) == ("claimed", "w1")

    assert client.complete_work(fail_id, False, "boom " * 3000, worker_id="w1", retry_in_seconds=0) is True
    stored = _row(fresh_db_url, fail_id)
    assert stored is not None
    assert stored["state"] == "pending" and stored["claimed_by"] is None
    assert len(stored["error_message"]) == 8192, "error text is cut to 8192 characters"

    again = client.claim_work("w2", 10)
    assert [(i.work_id, i.attempts) for i in again] == [(fail_id, 2)]
    assert client.complete_work(fail_id, False, None, worker_id="w2") is True
    stored = _row(fresh_db_url, fail_id)
    assert stored is not None
    assert (stored["state"], stored["error_message"]) == ("dead", "failed without an error message")

    with pytest.raises(NotFound):
        client.complete_work(10**9, True)
    assert client.complete_work(fail_id, True) is False, "dead stays dead"
    assert _count(fresh_db_url) == 1, "the dead item is kept"


def test_complete_work_tells_a_completed_id_from_one_never_issued(
    client: M10Client, fresh_db_url: str
) -> None:
    """Completed items are deleted: an id the queue has issued is a no-op (False), any other id is
    NotFound, on both sides of the last id issued."""
    ids = client.enqueue_work_batch([{}, {}])
    for item in client.claim_work("w", 2):
        assert client.complete_work(item.work_id, True, worker_id="w") is True
    assert _count(fresh_db_url) == 0
    for work_id in (ids[0], ids[1]):
        assert client.complete_work(work_id, True) is False, work_id
    for never_issued in (ids[1] + 1, 0, -1, 2**63 - 1):
        with pytest.raises(NotFound, match=rf"^work item {never_issued} does not exist$"):
            client.complete_work(never_issued, True)
    newer = client.enqueue_work()
    assert newer == ids[1] + 1
    with pytest.raises(InvalidState):
        client.complete_work(newer, True)  # exists now, but is not claimed


def test_complete_and_claim_completes_own_items_and_claims_next(client: M10Client, fresh_db_url: str) -> None:
    ids = client.enqueue_work_batch([{"i": i} for i in range(5)])
    first = client.claim_work("w", 2)
    nxt = client.complete_and_claim("w", [i.work_id for i in first], 2, lease_seconds=60)
    assert all(isinstance(i, ClaimedWork) for i in nxt)
    assert [i.work_id for i in nxt] == ids[2:4]
    assert nxt[0].lease_expires_at - nxt[0].claimed_at == timedelta(seconds=60)
    # Another worker cannot complete items it does not hold.
    assert [_row(fresh_db_url, i.work_id) for i in first] == [None, None], "completed and deleted"
    assert _count(fresh_db_url) == 3
    last = client.complete_and_claim("intruder", [i.work_id for i in nxt], 10)
    assert [i.work_id for i in last] == ids[4:]
    for item in nxt:
        stored = _row(fresh_db_url, item.work_id)
        assert stored is not None and (stored["state"], stored["claimed_by"]) == ("claimed", "w")
    stats = _stats(client)
    assert (stats.ready, stats.claimed, stats.dead) == (0, 3, 0)
    assert client.complete_and_claim("w", tuple(i.work_id for i in nxt), 10) == []
    assert _count(fresh_db_url) == 1 and _row(fresh_db_url, ids[4]) is not None
    # Completing them again, either way, is a no-op.
    assert client.complete_and_claim("w", [i.work_id for i in (*first, *nxt)], 10) == []
    assert [client.complete_work(i.work_id, True) for i in (*first, *nxt)] == [False] * 4
    assert _count(fresh_db_url) == 1


def test_release_stalled_work_and_queue_stats(client: M10Client) -> None:
    client.enqueue_work_batch([{}] * 3)
    client.enqueue_work(method="execute", delay_seconds=600)
    client.claim_work("stuck", 2)
    assert client.release_stalled_work(3600) == 0, "claims are younger than an hour"
    time.sleep(0.01)
    assert client.release_stalled_work(0) == 2

    stats = client.queue_stats()
    assert [s.method for s in stats] == ["evaluate", "execute"]
    assert all(isinstance(s, QueueStats) for s in stats)
    evaluate, execute = stats
    assert (evaluate.ready, evaluate.delayed, evaluate.claimed, evaluate.lease_expired, evaluate.dead) == (
        3,
        0,
        0,
        0,
        0,
    )
    assert (execute.ready, execute.delayed) == (0, 1)
    assert evaluate.oldest_ready_age_seconds >= 0
    assert [f.name for f in dataclasses.fields(QueueStats)] == [
        "method",
        "ready",
        "delayed",
        "claimed",
        "lease_expired",
        "dead",
        "oldest_ready_age_seconds",
    ]
    assert set(evaluate.to_json()) == {
        "method",
        "ready",
        "delayed",
        "claimed",
        "lease_expired",
        "dead",
        "oldest_ready_age_seconds",
    }
    claimed = client.claim_work("w", 10)
    assert [i.attempts for i in claimed] == [2, 2, 1]

    # A completed item is deleted, so it leaves every count; a dead one is counted as dead.
    assert client.complete_work(claimed[0].work_id, True, worker_id="w") is True
    assert client.complete_work(claimed[1].work_id, False, "x", worker_id="w", retry_in_seconds=3600) is True
    evaluate = _stats(client)
    assert (evaluate.ready, evaluate.delayed, evaluate.claimed, evaluate.lease_expired, evaluate.dead) == (
        0,
        1,
        1,
        0,
        0,
    )
    assert evaluate.oldest_ready_age_seconds == 0, "no ready item"


def test_extend_work_lease_of_a_completed_item_says_stop_instead_of_raising(
    client: M10Client, fresh_db_url: str
) -> None:
    """A heartbeat for an item that has been completed, by this worker or by the one that took it
    over after the lease ended, must get None ("you no longer hold it: stop"), like any item the
    worker no longer holds. Completion deletes the row, so extend_work_lease now finds nothing and
    raises NotFound ("work item N does not exist") for an id the queue did issue."""
    own, taken_over = client.enqueue_work_batch([{"own": True}, {"taken": True}])
    client.claim_work("slow", 2, lease_seconds=60)
    assert client.extend_work_lease(own, "slow", 60) is not None, "a running lease is extended"

    _expire_lease(fresh_db_url, taken_over)
    assert [i.work_id for i in client.claim_work("fast", 1)] == [taken_over]
    assert client.extend_work_lease(taken_over, "slow", 60) is None, "held by another worker: stop"
    assert client.complete_work(taken_over, True, worker_id="fast") is True
    assert client.complete_work(own, True, worker_id="slow") is True

    assert client.extend_work_lease(taken_over, "slow", 60) is None, "completed by the other worker"
    assert client.extend_work_lease(own, "slow", 60) is None, "completed by this worker's main loop"
    with pytest.raises(NotFound, match="does not exist"):
        client.extend_work_lease(taken_over + 1, "slow", 60)  # never issued


# --- the caller's transaction ------------------------------------------------------------------


def test_calls_with_conn_join_the_callers_transaction_and_roll_back(
    client: M10Client, fresh_db_url: str
) -> None:
    with psycopg.connect(fresh_db_url) as conn:  # not autocommit: the caller owns the transaction
        work_id = client.enqueue_work(payload={"tx": "rolled back"}, conn=conn)
        assert conn.info.transaction_status == TransactionStatus.INTRANS, "the client did not commit"
        claimed = client.claim_work("w", 10, conn=conn)
        assert [i.work_id for i in claimed] == [work_id], "visible inside the transaction"
        assert client.complete_work(work_id, True, conn=conn) is True
        assert conn.execute("SELECT count(*) FROM m10_recovery.work_queue").fetchone() == (0,)
        assert client.complete_work(work_id, True, conn=conn) is False, "completed inside the transaction"
        evaluate = next(s for s in client.queue_stats(conn=conn) if s.method == "evaluate")
        assert (evaluate.ready, evaluate.claimed) == (0, 0)
        assert _count(fresh_db_url) == 0, "other connections see nothing before commit"
        conn.rollback()
    assert _count(fresh_db_url) == 0, "rolling back leaves nothing"
    assert client.claim_work("w", 10) == []


def test_a_completion_rolled_back_with_the_callers_transaction_keeps_the_item(
    client: M10Client, fresh_db_url: str
) -> None:
    work_id = client.enqueue_work(payload={"keep": True})
    with psycopg.connect(fresh_db_url) as conn:
        (item,) = client.claim_work("w", 1, conn=conn)
        assert client.complete_work(item.work_id, True, worker_id="w", conn=conn) is True
        assert conn.execute(
            "SELECT count(*) FROM m10_recovery.work_queue WHERE id = %s", (work_id,)
        ).fetchone() == (0,)
        stored = _row(fresh_db_url, work_id)
        assert stored is not None and stored["state"] == "pending", "others still see it, unclaimed"
        conn.rollback()
    stored = _row(fresh_db_url, work_id)
    assert stored is not None
    assert (stored["state"], stored["attempts"], stored["payload"]) == ("pending", 0, {"keep": True})
    assert [i.work_id for i in client.claim_work("w", 10)] == [work_id]
    assert client.complete_work(work_id, True, worker_id="w") is True
    assert _row(fresh_db_url, work_id) is None


def test_calls_with_conn_are_kept_when_the_caller_commits(client: M10Client, fresh_db_url: str) -> None:
    before = client.enqueue_work()
    with psycopg.connect(fresh_db_url) as conn:
        with conn.transaction():
            work_id = client.enqueue_work(payload={"tx": "committed"}, conn=conn)
            ids = client.enqueue_work_batch([{"b": 1}, {"b": 2}], conn=conn)
            assert _count(fresh_db_url) == 1
        assert _count(fresh_db_url) == 4
        # One transaction that fails half way keeps none of its calls.
        with pytest.raises(InvalidArgument), conn.transaction():
            client.claim_work("w", 10, conn=conn)
            client.complete_work(before, True, conn=conn)
            client.enqueue_work(method="nope", conn=conn)
    stored = _row(fresh_db_url, work_id)
    assert stored is not None and stored["payload"] == {"tx": "committed"}
    assert stored["state"] == "pending" and stored["attempts"] == 0, "the failed transaction was undone"
    undone = _row(fresh_db_url, before)
    assert undone is not None and undone["state"] == "pending", "its completion (a delete) was undone too"
    assert _stats(client).ready == 4
    assert {i.work_id for i in client.claim_work("w", 10)} == {before, work_id, *ids}


def test_error_inside_the_callers_transaction_is_typed_and_recoverable(
    client: M10Client, fresh_db_url: str
) -> None:
    with psycopg.connect(fresh_db_url) as conn:
        client.enqueue_work(conn=conn)
        with pytest.raises(NotFound):
            client.complete_work(123456, True, conn=conn)
        assert conn.info.transaction_status == TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            client.enqueue_work(conn=conn)
        conn.rollback()
        client.enqueue_work(conn=conn)
        conn.commit()
    assert _count(fresh_db_url) == 1


# --- dropped connections -----------------------------------------------------------------------


def _terminate(url: str, application_name: str) -> list[int]:
    """Terminate every backend of this database opened with ``application_name``; wait until gone."""
    with psycopg.connect(url, autocommit=True) as admin:
        pids = [
            r[0]
            for r in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = %s AND pid <> pg_backend_pid()",
                (application_name,),
            )
        ]
        for pid in pids:
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)
    return pids


def test_pooled_connection_terminated_by_the_server_is_replaced(client: M10Client, fresh_db_url: str) -> None:
    ids = client.enqueue_work_batch([{"i": i} for i in range(5)])
    with client.pool.connection() as c:
        row = c.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        old_pid = row[0]
    killed = _terminate(fresh_db_url, "m10py")
    assert old_pid in killed

    new_id = client.enqueue_work(payload={"after": "terminate"})
    assert new_id > max(ids)
    claimed = client.claim_work("w", 100)
    assert [i.work_id for i in claimed] == [*ids, new_id], "nothing lost, nothing doubled"
    with client.pool.connection() as c:
        row = c.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None and row[0] not in killed


def test_callers_connection_terminated_mid_transaction_loses_only_that_transaction(
    client: M10Client, fresh_db_url: str
) -> None:
    kept = client.enqueue_work(payload={"committed": True})
    conn = psycopg.connect(fresh_db_url, application_name="m10-caller")
    try:
        client.enqueue_work(payload={"committed": False}, conn=conn)
        client.claim_work("w", 10, conn=conn)
        assert _terminate(fresh_db_url, "m10-caller")
        with pytest.raises(psycopg.OperationalError):
            client.enqueue_work(conn=conn)
        assert conn.closed or conn.broken
    finally:
        conn.close()
    assert _count(fresh_db_url) == 1
    stored = _row(fresh_db_url, kept)
    assert stored is not None and stored["state"] == "pending" and stored["attempts"] == 0
    assert [i.work_id for i in client.claim_work("w", 10)] == [kept]


# --- payloads survive the trip through jsonb ---------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10).filter(lambda k: "\x00" not in k), inner, max_size=4)
    ),
    max_leaves=12,
)
PAYLOADS = st.dictionaries(st.text(max_size=12).filter(lambda k: "\x00" not in k), JSON_VALUES, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=PAYLOADS)
def test_payload_round_trips_through_enqueue_and_claim(client: M10Client, payload: dict[str, Any]) -> None:
    work_id = client.enqueue_work(payload=payload, priority=32767)
    claimed = client.claim_work("hyp", 1)
    assert [(i.work_id, i.payload) for i in claimed] == [(work_id, payload)]
    assert client.complete_work(work_id, True, worker_id="hyp") is True
    assert client.complete_work(work_id, True, worker_id="hyp") is False
