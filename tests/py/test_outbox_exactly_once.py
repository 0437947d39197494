"""Effectively exactly once: real processors (`m10 outbox` processes) deliver 1,000 events to a real
HTTP receiver that fails 30 % of requests, while one processor is SIGKILLed mid-batch and restarted.
The receiver dedups by webhook-id; every event must be applied exactly once."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.py.webhook_receiver import Chaos, Receiver

M10 = str(Path(sys.executable).parent / "m10")
EVENTS = 1000
SECRET = b"outbox-test-signing-key"


def _env(db_url: str, receiver: Receiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("M10_")}
    env.update(
        DATABASE_URL=db_url,
        M10_WEBHOOK_URL=receiver.url,
        M10_WEBHOOK_SECRET="whsec_" + base64.b64encode(SECRET).decode(),
        M10_WEBHOOK_TIMEOUT="0.4",
        M10_OUTBOX_LEASE_SECONDS="4",
        M10_OUTBOX_BATCH_SIZE="25",
        M10_OUTBOX_CONCURRENCY="8",
        M10_OUTBOX_POLL_INTERVAL="0.1",
        M10_OUTBOX_RETRY_BASE_SECONDS="0.05",
        M10_OUTBOX_RETRY_CAP_SECONDS="0.5",
        M10_OUTBOX_MAX_ATTEMPTS="15",
    )
    return env


class Processors:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(
            [M10, "outbox", "--processor-id", name, "--json"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def processors() -> Iterator[list[Processors]]:
    holder: list[Processors] = []
    yield holder
    for p in holder:
        p.stop_all()


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_exactly_once_with_chaos_and_a_killed_processor(
    fresh_db_url: str, processors: list[Processors], capsys: pytest.CaptureFixture[str]
) -> None:
    chaos = Chaos(error_500=0.10, timeout=0.10, reset=0.10, hang_seconds=0.8)
    db = psycopg.connect(fresh_db_url, autocommit=True)
    with db.transaction():
        for n in range(EVENTS):
            db.execute(
                "SELECT m10_recovery.publish_outbox('webhook.test.event', jsonb_build_object('n', %s::int))",
                (n,),
            )

    def count(sql: str, *args: object) -> int:
        row = db.execute(sql, args).fetchone()
        assert row is not None
        return int(row[0])

    with Receiver(SECRET, chaos) as receiver:
        procs = Processors(_env(fresh_db_url, receiver))
        processors.append(procs)
        procs.start("proc-a")
        procs.start("proc-b")

        # Kill proc-a while it holds a claimed, undelivered batch.
        held: list[int] = []

        def a_is_mid_batch() -> bool:
            if len(receiver.ledger.applied) < 250:
                return False
            held[:] = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM m10_recovery.outbox WHERE claimed_by = 'proc-a' AND processed_at IS NULL"
                )
            ]
            return bool(held)

        _wait_for(a_is_mid_batch, 30, "proc-a to be mid-batch")
        procs.procs["proc-a"].send_signal(signal.SIGKILL)
        procs.procs["proc-a"].wait()
        # What it held when it died (it may have recorded a batch between the check and the kill).
        held[:] = [
            r[0]
            for r in db.execute(
                "SELECT id FROM m10_recovery.outbox WHERE claimed_by = 'proc-a' AND processed_at IS NULL"
            )
        ]
        assert held, "proc-a died holding events"
        procs.start("proc-a-restarted")

        _wait_for(
            lambda: count("SELECT count(*) FROM m10_recovery.outbox WHERE processed_at IS NULL") == 0,
            50,
            "every event to be processed or dead-lettered",
        )
        procs.stop_all()

    ledger = receiver.ledger
    processed = {
        str(r[0]): r[1]
        for r in db.execute(
            "SELECT event_id, payload->>'n' FROM m10_recovery.outbox WHERE processed_at IS NOT NULL"
        )
    }
    dead = count("SELECT count(*) FROM m10_recovery.outbox_dead_letter")
    taken_over = count(
        "SELECT count(*) FROM m10_recovery.outbox WHERE id = ANY(%s) AND claimed_by <> 'proc-a'"
        " AND processed_at IS NOT NULL",
        held,
    )
    deliveries = sum(ledger.deliveries.values())
    with capsys.disabled():
        print(
            f"\n[outbox exactly-once] events {EVENTS}, processed {len(processed)}, dead-lettered {dead}; "
            f"requests {sum(ledger.injected.values())} (injected: {dict(ledger.injected)}); "
            f"deliveries applied-or-seen {deliveries}, applied {len(ledger.applied)}, "
            f"duplicate deliveries {ledger.duplicates} (deduplicated by webhook-id); "
            f"events held by the killed processor {len(held)}, delivered by others {taken_over}"
        )

    assert len(processed) + dead == EVENTS, "every outbox row is processed or dead-lettered"
    assert dead == 0, "with 15 attempts at 30 % failure no event should run out of attempts"
    assert ledger.bad_signatures == 0
    # Exactly once at the receiver: each processed event applied, under its one stable id, once.
    assert set(ledger.applied) == set(processed)
    assert sorted(int(d["n"]) for d in ledger.applied.values()) == list(range(EVENTS))
    assert ledger.duplicates > 0, "the chaos caused redeliveries (otherwise the test proves little)"
    assert min(ledger.injected[k] for k in ("500", "timeout", "reset")) > 0
    assert taken_over == len(held), "the killed processor's events came back after its lease"
