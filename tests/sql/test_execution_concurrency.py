"""Execution claims under real concurrency: OS processes and connections against one database.

Only SQL goes through psycopg here. Executors run in processes of the 'spawn' context (no connection
is inherited across a fork); their loop is the module-level function ``execute_all``. Every claim is
logged in ``claim_log`` in the same statement as the claim itself, so the log holds exactly the
committed claims. Leases are real time, kept to a few seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import psycopg

SPAWN = multiprocessing.get_context("spawn")

CLAIM_LOG_DDL = """
CREATE TABLE claim_log (
    candidate_id bigint      NOT NULL,
    executor     text        NOT NULL,
    lease_until  timestamptz NOT NULL,
    logged_at    timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""

# claim_execution and its log rows in one statement: both commit or neither does.
CLAIM_AND_LOG = """
WITH c AS (
    SELECT * FROM m10_recovery.claim_execution(p_executor => %(executor)s, p_batch_size => %(batch)s,
                                               p_lease_seconds => %(lease)s)
)
INSERT INTO claim_log (candidate_id, executor, lease_until)
SELECT c.candidate_id, %(executor)s, c.lease_until FROM c
RETURNING candidate_id
"""

RECORD = "SELECT m10_recovery.record_execution(%s, %s, %s, %s::jsonb)"

# Candidates share one error code and one signature ('upstream failed <NUM>'): the server-error rule
# suggests retry_with_backoff for all of them.
SETUP_CANDIDATES = """
WITH c AS (
    INSERT INTO m10_recovery.recovery_candidates
           (failure_match_id, error_signature, signature_version, error_code, message_template, error_message)
    SELECT gen_random_uuid(), m10_recovery.error_signature('HTTP_503', 'upstream failed ' || g), 1,
           'HTTP_503', m10_recovery.normalize_message('upstream failed ' || g), 'upstream failed ' || g
      FROM generate_series(1, %s) g
    RETURNING id
)
SELECT array_agg(id ORDER BY id) FROM c
"""


def _connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=autocommit, application_name="m10-test-executor")


def _setup(url: str, count: int) -> list[int]:
    """Create claim_log and ``count`` evaluated candidates approved by an operator; return their ids."""
    with _connect(url) as conn:
        conn.execute(CLAIM_LOG_DDL)
        row = conn.execute(SETUP_CANDIDATES, (count,)).fetchone()
        assert row is not None
        ids = [int(i) for i in row[0]]
        evaluated = conn.execute(
            "SELECT count(*) FROM m10_recovery.evaluate_candidates(%s::bigint[])", (ids,)
        ).fetchone()
        assert evaluated == (count,)
        conn.execute(
            "SELECT count(*) FROM unnest(%s::bigint[]) i,"
            " LATERAL m10_recovery.decide_candidate(i, 'approved', 'operator') d",
            (ids,),
        )
    return ids


def _claim(conn: psycopg.Connection[Any], executor: str, batch: int, lease: int) -> list[int]:
    rows = conn.execute(CLAIM_AND_LOG, {"executor": executor, "batch": batch, "lease": lease}).fetchall()
    return [int(r[0]) for r in rows]


def _record(
    conn: psycopg.Connection[Any], candidate_id: int, executor: str, outcome: str = "succeeded"
) -> bool:
    row = conn.execute(RECORD, (candidate_id, executor, outcome, '{"by": "test"}')).fetchone()
    assert row is not None
    return bool(row[0])


def _outcomes(conn: psycopg.Connection[Any]) -> dict[int, list[tuple[str, str]]]:
    per_candidate: dict[int, list[tuple[str, str]]] = {}
    for candidate_id, executor, outcome in conn.execute(
        "SELECT candidate_id, executed_by, outcome FROM m10_recovery.execution_outcomes ORDER BY id"
    ):
        per_candidate.setdefault(int(candidate_id), []).append((executor, outcome))
    return per_candidate


def _events(conn: psycopg.Connection[Any], event: str) -> Counter[int]:
    return Counter(
        int(r[0])
        for r in conn.execute(
            "SELECT candidate_id FROM m10_recovery.suggestion_provenance WHERE event = %s", (event,)
        )
    )


# --- run in spawned processes -------------------------------------------------------------------


def execute_all(
    url: str, executor: str, batch: int, lease: int, deadline_seconds: float, start: Any, results: Any
) -> None:
    """Claim and record 'succeeded' until nothing is left to claim; put (executor, claimed, recorded,
    refused) on ``results``. A record of a candidate this executor holds must never be refused."""
    claimed = recorded = refused = 0
    deadline = time.monotonic() + deadline_seconds
    with _connect(url) as conn:
        start.wait(30)
        while time.monotonic() < deadline:
            ids = _claim(conn, executor, batch, lease)
            if not ids:
                break
            claimed += len(ids)
            for candidate_id in ids:
                if _record(conn, candidate_id, executor):
                    recorded += 1
                else:
                    refused += 1
    results.put((executor, claimed, recorded, refused))


def claim_and_hang(
    url: str, executor: str, batch: int, lease: int, commit: bool, holding: Any, results: Any
) -> None:
    """Claim a batch (committed, or inside a transaction left open), report it, then hang until the
    test kills the process: its connection closes mid-lease and it never records anything."""
    conn = _connect(url, autocommit=commit)
    ids = _claim(conn, executor, batch, lease)
    results.put((executor, ids))
    holding.set()
    time.sleep(600)


# --- tests ----------------------------------------------------------------------------------------


def _kill(proc: Any) -> None:
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=10)
    assert proc.exitcode == -signal.SIGKILL


def _start_victim(url: str, batch: int, lease: int, *, commit: bool) -> tuple[Any, list[int]]:
    holding, results = SPAWN.Event(), SPAWN.Queue()
    victim = SPAWN.Process(
        target=claim_and_hang, args=(url, "victim", batch, lease, commit, holding, results), daemon=True
    )
    victim.start()
    try:
        assert holding.wait(30), "the victim never claimed"
        _, ids = results.get(timeout=10)
    except BaseException:
        victim.kill()
        raise
    return victim, ids


def test_each_approved_candidate_is_executed_exactly_once(fresh_db_url: str) -> None:
    count = 400
    ids = _setup(fresh_db_url, count)
    names = [f"executor_{i}" for i in range(6)]
    start = SPAWN.Barrier(len(names) + 1)
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=execute_all, args=(fresh_db_url, n, 7, 300, 30.0, start, results), daemon=True)
        for n in names
    ]
    for p in procs:
        p.start()
    try:
        start.wait(timeout=60)
        collected = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=10)
            assert p.exitcode == 0, f"{p.name} exited with {p.exitcode}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    stats = {name: (claimed, recorded, refused) for name, claimed, recorded, refused in collected}

    assert sum(s[0] for s in stats.values()) == count, stats
    assert sum(s[1] for s in stats.values()) == count, stats
    assert all(s[2] == 0 for s in stats.values()), f"a holder's record was refused: {stats}"
    assert sum(1 for s in stats.values() if s[0] > 0) >= 2, f"no real contention: {stats}"

    with _connect(fresh_db_url) as conn:
        log = conn.execute("SELECT candidate_id, executor FROM claim_log").fetchall()
        claims = Counter(int(c) for c, _ in log)
        assert set(claims) == set(ids)
        assert not {k: v for k, v in claims.items() if v != 1}, "a candidate was claimed twice"
        owner = {int(c): e for c, e in log}

        outcomes = _outcomes(conn)
        assert set(outcomes) == set(ids)
        for candidate_id, rows in outcomes.items():
            assert rows == [(owner[candidate_id], "succeeded")], (candidate_id, rows)
        for name, (claimed, recorded, _) in stats.items():
            assert Counter(owner.values())[name] == claimed == recorded, name

        status = conn.execute(
            "SELECT execution_status, count(*) FROM m10_recovery.recovery_candidates GROUP BY 1"
        ).fetchall()
        assert status == [("succeeded", count)]
        assert _events(conn, "execution_claimed") == Counter(dict.fromkeys(ids, 1))
        assert _events(conn, "executed") == Counter(dict.fromkeys(ids, 1))

        # Nothing is left, and a repeated record by anyone is refused.
        assert _claim(conn, "late", 1000, 60) == []
        assert not any(_record(conn, i, owner[i]) for i in ids[:50])
        assert conn.execute("SELECT count(*) FROM m10_recovery.execution_outcomes").fetchone() == (count,)


def test_killed_executor_claims_come_back_after_the_lease(fresh_db_url: str) -> None:
    count, held, lease = 30, 10, 3
    ids = _setup(fresh_db_url, count)
    victim, victim_ids = _start_victim(fresh_db_url, held, lease, commit=True)
    try:
        _kill(victim)  # its connection closes mid-lease; the claim was committed
    finally:
        if victim.is_alive():
            victim.kill()
    assert len(victim_ids) == held

    with _connect(fresh_db_url) as conn:
        in_lease = conn.execute(
            "SELECT now() < min(lease_until) FROM claim_log WHERE executor = 'victim'"
        ).fetchone()
        assert in_lease == (True,), "the test was too slow to probe inside the lease"
        rows = conn.execute(
            "SELECT execution_status, execution_claimed_by, count(*) FROM m10_recovery.recovery_candidates"
            " WHERE id = ANY(%s) GROUP BY 1, 2",
            (victim_ids,),
        ).fetchall()
        assert rows == [("executing", "victim", held)]
        others = _claim(conn, "survivor", 1000, 60)
        assert sorted(others) == sorted(set(ids) - set(victim_ids)), "only the unleased candidates"
        assert all(_record(conn, i, "survivor") for i in others)

        # After the lease, the survivor takes the victim's candidates over.
        until = conn.execute("SELECT max(lease_until) FROM claim_log WHERE executor = 'victim'").fetchone()
        assert until is not None
        while conn.execute("SELECT now() < %s", (until[0],)).fetchone() == (True,):
            time.sleep(0.1)
        taken = _claim(conn, "survivor", 1000, 60)
        assert sorted(taken) == sorted(victim_ids)
        takeovers = conn.execute(
            "SELECT count(*) FROM m10_recovery.suggestion_provenance WHERE event = 'execution_claimed'"
            ' AND actor = \'survivor\' AND details @> \'{"takeover": true, "previous_executor": "victim"}\''
        ).fetchone()
        assert takeovers == (held,)

        # Had the victim come back, its outcome would be refused; the survivor's is recorded once.
        assert not any(_record(conn, i, "victim") for i in victim_ids)
        assert all(_record(conn, i, "survivor", "failed") for i in victim_ids)
        assert not any(_record(conn, i, "survivor") for i in victim_ids)
        outcomes = _outcomes(conn)
        assert set(outcomes) == set(ids)
        assert all(outcomes[i] == [("survivor", "failed")] for i in victim_ids)
        assert all(len(v) == 1 for v in outcomes.values())


def test_executor_killed_inside_its_claim_transaction_releases_at_once(fresh_db_url: str) -> None:
    count, held = 20, 5
    ids = _setup(fresh_db_url, count)
    victim, victim_ids = _start_victim(fresh_db_url, held, 300, commit=False)
    try:
        with _connect(fresh_db_url) as conn:
            # While the victim's transaction is open its rows are locked: skipped, not waited for.
            conn.execute("SET lock_timeout = '2s'")
            t0 = time.monotonic()
            first = _claim(conn, "other", 1000, 60)
            assert time.monotonic() - t0 < 1.5, "the claim waited for the victim's locks"
            assert sorted(first) == sorted(set(ids) - set(victim_ids))
            _kill(victim)
            # The killed transaction never committed: its candidates are pending, claimable now.
            deadline = time.monotonic() + 10
            second: list[int] = []
            while time.monotonic() < deadline and len(second) < held:
                second += _claim(conn, "other", 1000, 60)
                time.sleep(0.05)
            assert sorted(second) == sorted(victim_ids)
            assert conn.execute("SELECT count(*) FROM claim_log WHERE executor = 'victim'").fetchone() == (
                0,
            ), "the victim's claim was rolled back with its log"
            assert all(_record(conn, i, "other") for i in ids)
            assert set(_outcomes(conn)) == set(ids)
    finally:
        if victim.is_alive():
            victim.kill()


def test_short_lease_expires_and_the_stale_executor_is_refused(fresh_db_url: str) -> None:
    (candidate_id,) = _setup(fresh_db_url, 1)
    slow = _connect(fresh_db_url)
    fast = _connect(fresh_db_url)
    try:
        assert _claim(slow, "slow", 1, 1) == [candidate_id]
        assert _claim(fast, "fast", 1, 60) == [], "taken during the lease"
        time.sleep(1.2)
        assert _claim(fast, "fast", 1, 60) == [candidate_id], "not taken over after the lease"
        assert _record(slow, candidate_id, "slow") is False
        assert _record(fast, candidate_id, "fast", "skipped") is True
        assert _record(fast, candidate_id, "fast", "skipped") is False
        assert _record(slow, candidate_id, "slow") is False
        assert _outcomes(fast) == {candidate_id: [("fast", "skipped")]}
        assert fast.execute(
            "SELECT execution_status, execution_claimed_by FROM m10_recovery.recovery_candidates"
            " WHERE id = %s",
            (candidate_id,),
        ).fetchone() == ("skipped", "fast")
    finally:
        slow.close()
        fast.close()


def test_racing_records_of_one_claim_record_one_outcome(fresh_db_url: str) -> None:
    """Retries of the same outcome from several connections at once: exactly one is recorded."""
    count, racers = 20, 6
    ids = _setup(fresh_db_url, count)
    with _connect(fresh_db_url) as conn:
        assert sorted(_claim(conn, "holder", 1000, 300)) == ids

    wins: Counter[int] = Counter()
    errors: list[BaseException] = []
    barrier = threading.Barrier(racers)
    lock = threading.Lock()

    def race(n: int) -> None:
        try:
            with _connect(fresh_db_url) as conn:
                barrier.wait(10)
                for candidate_id in ids:
                    if _record(conn, candidate_id, "holder", "succeeded" if n % 2 else "failed"):
                        with lock:
                            wins[candidate_id] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert wins == Counter(dict.fromkeys(ids, 1)), wins
    with _connect(fresh_db_url) as conn:
        outcomes = _outcomes(conn)
        assert set(outcomes) == set(ids) and all(len(v) == 1 for v in outcomes.values())
        assert _events(conn, "executed") == Counter(dict.fromkeys(ids, 1))


def _race_old_record_against_new_claim(url: str, ids: list[int]) -> tuple[set[int], list[int]]:
    """'old' records every id while 'new' claims one at a time, from two connections at once;
    return (ids whose record by 'old' was accepted, ids claimed by 'new')."""
    recorded: dict[int, bool] = {}
    taken: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def old() -> None:
        try:
            with _connect(url) as conn:
                barrier.wait(10)
                for candidate_id in ids:
                    recorded[candidate_id] = _record(conn, candidate_id, "old")
        except BaseException as exc:
            errors.append(exc)

    def new() -> None:
        try:
            with _connect(url) as conn:
                barrier.wait(10)
                for _ in ids:
                    taken.extend(_claim(conn, "new", 1, 60))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=old), threading.Thread(target=new)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return {i for i, ok in recorded.items() if ok}, taken


def test_stale_record_racing_a_takeover_has_one_winner(fresh_db_url: str) -> None:
    """An executor whose lease just expired records while another claims: whichever commits first
    wins; the candidate is never both recorded by the old executor and handed to the new one."""
    count, rounds = 40, 3
    with _connect(fresh_db_url) as conn:
        conn.execute(CLAIM_LOG_DDL)
        # Each round's successes would auto-approve the next round's candidates: an operator approves.
        conn.execute("UPDATE m10_recovery.settings SET value = '1' WHERE key = 'auto_approve_threshold'")
    for _ in range(rounds):
        ids = _setup_round(fresh_db_url, count)
        with _connect(fresh_db_url) as conn:
            assert sorted(_claim(conn, "old", 1000, 1)) == ids
        time.sleep(1.1)

        won_by_old, taken = _race_old_record_against_new_claim(fresh_db_url, ids)
        assert won_by_old.isdisjoint(taken), "recorded by the old executor and handed to the new one"
        assert won_by_old | set(taken) == set(ids)
        with _connect(fresh_db_url) as conn:
            for candidate_id in taken:
                assert _record(conn, candidate_id, "new")
            outcomes = _outcomes(conn)
            for candidate_id in ids:
                expected = "old" if candidate_id in won_by_old else "new"
                assert outcomes[candidate_id] == [(expected, "succeeded")], candidate_id


def _setup_round(url: str, count: int) -> list[int]:
    """Like _setup, for a database that already has claim_log."""
    with _connect(url) as conn:
        row = conn.execute(SETUP_CANDIDATES, (count,)).fetchone()
        assert row is not None
        ids = [int(i) for i in row[0]]
        conn.execute("SELECT count(*) FROM m10_recovery.evaluate_candidates(%s::bigint[])", (ids,))
        conn.execute(
            "SELECT count(*) FROM unnest(%s::bigint[]) i,"
            " LATERAL m10_recovery.decide_candidate(i, 'approved', 'operator') d",
            (ids,),
        )
    return ids


def test_outcomes_recorded_concurrently_feed_the_next_evaluation(fresh_db_url: str) -> None:
    """The statistics of a new candidate of the same signature see the committed outcomes."""
    ids = _setup(fresh_db_url, 2)
    with _connect(fresh_db_url) as conn:
        prior = conn.execute(
            "SELECT confidence FROM m10_recovery.recovery_candidates WHERE id = %s", (ids[0],)
        ).fetchone()
        assert _claim(conn, "ex", 10, 60) == ids
        assert all(_record(conn, i, "ex") for i in ids)
        row = conn.execute(SETUP_CANDIDATES, (1,)).fetchone()
        assert row is not None
        after = conn.execute(
            "SELECT confidence FROM m10_recovery.evaluate_candidate(%s)", (row[0][0],)
        ).fetchone()
    assert prior is not None and after is not None
    assert after[0] > prior[0], (prior, after)
