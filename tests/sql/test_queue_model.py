"""Property test: random sequences of queue operations agree with a small Python model of the queue.

Hypothesis drives enqueue / claim / complete / fail / release / clock moves against the real SQL
functions (the clock moves through p_now) and checks after every step that each row's state,
attempts, owner and visibility time are what the model predicts, and that claims return exactly the
items the model says are claimable, in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

WORKERS = st.sampled_from(["w1", "w2", "w3"])
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Item:
    id: int
    priority: int
    max_attempts: int
    available_at: datetime
    state: str = "pending"
    attempts: int = 0
    claimed_by: str | None = None
    claimed_at: datetime | None = None


class QueueMachine(RuleBasedStateMachine):
    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.conn = psycopg.connect(self.url, autocommit=False)
        self.conn.execute("DELETE FROM m10_recovery.work_queue")
        self.now = START
        self.items: dict[int, Item] = {}
        self.completed: list[int] = []

    def teardown(self) -> None:
        self.conn.rollback()
        self.conn.close()

    @initialize()
    def start(self) -> None:
        assert not self.items

    def _sql(self, query: str, *params: object) -> list[tuple[object, ...]]:
        return self.conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    @rule(priority=st.integers(-2, 2), delay=st.integers(0, 30), max_attempts=st.integers(1, 3))
    def enqueue(self, priority: int, delay: int, max_attempts: int) -> None:
        ((work_id,),) = self._sql(
            "SELECT m10_recovery.enqueue_work(p_priority => %s, p_delay_seconds => %s,"
            " p_max_attempts => %s, p_now => %s)",
            priority,
            delay,
            max_attempts,
            self.now,
        )
        assert isinstance(work_id, int)
        self.items[work_id] = Item(work_id, priority, max_attempts, self.now + timedelta(seconds=delay))

    @rule(seconds=st.integers(1, 120))
    def advance_clock(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(worker=WORKERS, batch=st.integers(1, 3), lease=st.integers(1, 60))
    def claim(self, worker: str, batch: int, lease: int) -> None:
        # Expired leases first (by lease end), then pending items by priority and age.
        expired = sorted(
            (i for i in self.items.values() if i.state == "claimed" and i.available_at <= self.now),
            key=lambda i: (i.available_at, i.id),
        )
        ready = sorted(
            (i for i in self.items.values() if i.state == "pending" and i.available_at <= self.now),
            key=lambda i: (-i.priority, i.available_at, i.id),
        )
        claimable = (expired + ready)[:batch]
        expected = []
        for item in claimable:
            if item.attempts >= item.max_attempts:
                item.state = "dead"
                continue
            item.state, item.attempts, item.claimed_by = "claimed", item.attempts + 1, worker
            item.claimed_at = self.now
            item.available_at = self.now + timedelta(seconds=lease)
            expected.append(item.id)
        got = [
            r[0]
            for r in self._sql(
                "SELECT work_id FROM m10_recovery.claim_work(%s, %s, %s, p_now => %s)",
                worker,
                batch,
                lease,
                self.now,
            )
        ]
        assert sorted(got) == sorted(expected)
        assert got == sorted(expected, key=lambda i: (-self.items[i].priority, i)), "by priority, then id"

    def _held(self) -> list[Item]:
        return [i for i in self.items.values() if i.state == "claimed"]

    @precondition(lambda self: self._held())
    @rule(data=st.data(), success=st.booleans(), as_owner=st.booleans())
    def complete(self, data: st.DataObject, success: bool, as_owner: bool) -> None:
        item = data.draw(st.sampled_from(self._held()))
        worker = item.claimed_by if as_owner else "intruder"
        ((recorded,),) = self._sql(
            "SELECT m10_recovery.complete_work(%s, %s, 'boom', %s, p_now => %s)",
            item.id,
            success,
            worker,
            self.now,
        )
        assert recorded == as_owner
        if not as_owner:
            return
        if success:
            del self.items[item.id]  # a completed item is deleted
            self.completed.append(item.id)
        elif item.attempts >= item.max_attempts:
            item.state = "dead"
        else:
            ceiling = min(600.0, 2.0 * 2 ** (item.attempts - 1))
            ((available_at,),) = self._sql(
                "SELECT available_at FROM m10_recovery.work_queue WHERE id = %s", item.id
            )
            assert isinstance(available_at, datetime)
            delay = (available_at - self.now).total_seconds()
            assert ceiling / 2 - 1e-6 <= delay <= ceiling + 1e-6, "backoff within [c/2, c]"
            item.state, item.claimed_by, item.claimed_at, item.available_at = (
                "pending",
                None,
                None,
                available_at,
            )

    @rule(seconds=st.integers(0, 90))
    def release_stalled(self, seconds: int) -> None:
        expected = 0
        for item in self._held():
            assert item.claimed_at is not None
            if item.claimed_at < self.now - timedelta(seconds=seconds):
                expected += 1
                item.available_at = self.now
                if item.attempts >= item.max_attempts:
                    item.state = "dead"
                else:
                    item.state, item.claimed_by, item.claimed_at = "pending", None, None
        ((released,),) = self._sql("SELECT m10_recovery.release_stalled_work(%s, %s)", seconds, self.now)
        assert released == expected

    @precondition(lambda self: self.completed)
    @rule(data=st.data(), success=st.booleans(), worker=st.sampled_from(["w1", None]))
    def complete_again(self, data: st.DataObject, success: bool, worker: str | None) -> None:
        work_id = data.draw(st.sampled_from(self.completed))
        ((recorded,),) = self._sql(
            "SELECT m10_recovery.complete_work(%s, %s, 'late', %s, p_now => %s)",
            work_id,
            success,
            worker,
            self.now,
        )
        assert recorded is False, "a completed item's outcome is final"

    @precondition(lambda self: self._held())
    @rule(data=st.data(), lease=st.integers(1, 60), as_owner=st.booleans())
    def extend_lease(self, data: st.DataObject, lease: int, as_owner: bool) -> None:
        item = data.draw(st.sampled_from(self._held()))
        worker = item.claimed_by if as_owner else "intruder"
        ((expires,),) = self._sql(
            "SELECT m10_recovery.extend_work_lease(%s, %s, %s, %s)", item.id, worker, lease, self.now
        )
        if as_owner and item.available_at > self.now:
            item.available_at = self.now + timedelta(seconds=lease)
            assert expires == item.available_at
        else:
            assert expires is None, "only the holder of a running lease extends it"

    @invariant()
    def rows_match_the_model(self) -> None:
        rows = self._sql("SELECT id, state, attempts, claimed_by, available_at FROM m10_recovery.work_queue")
        actual = {r[0]: r[1:] for r in rows}
        assert set(actual) == set(self.items), "no row lost, none invented, completed ones deleted"
        for work_id, item in self.items.items():
            state, attempts, claimed_by, available_at = actual[work_id]
            assert (state, attempts) == (item.state, item.attempts), (work_id, actual[work_id], item)
            if item.state != "dead":  # a dead row keeps its last owner and time for the record
                assert (claimed_by, available_at) == (item.claimed_by, item.available_at), (work_id, item)


@pytest.fixture
def machine_url(fresh_db_url: str) -> Iterator[str]:
    QueueMachine.url = fresh_db_url
    yield fresh_db_url
    QueueMachine.url = ""


def test_queue_agrees_with_model(machine_url: str) -> None:
    state_machine = QueueMachine.TestCase
    state_machine.settings = settings(
        max_examples=150,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    state_machine().runTest()
