"""Consumer processes for tests/py/test_consumer.py (multiprocessing 'spawn': keep this module light).

Each process has its own connection and drains through m10py.consumer.WorkConsumer only.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from m10py.consumer import WorkConsumer


def consume_all(url: str, worker: str, batch: int, lease: int, start: Any, results: Any) -> None:
    """Drain until a batch comes back empty; put (worker, processed ids in order) on ``results``."""
    processed: list[int] = []
    with (
        psycopg.connect(url, autocommit=True) as conn,
        WorkConsumer(conn, worker, batch, lease_seconds=lease) as c,
    ):
        start.wait(30)
        done: list[int] = []
        while items := c.next_batch(done):
            processed.extend(item.work_id for item in items)
            time.sleep(0.001 * len(items) % 0.005)  # uneven work, so the consumers interleave
            done = [item.work_id for item in items]
    results.put((worker, processed))


def consume_then_hang(url: str, worker: str, batch: int, lease: int, holding: Any) -> None:
    """Take two batches (the second completes the first and a third is claimed ahead), report the
    ids held, then hang until SIGKILL: nothing of the second or third batch is ever completed."""
    conn = psycopg.connect(url, autocommit=True)
    consumer = WorkConsumer(conn, worker, batch, lease_seconds=lease)
    first = consumer.next_batch()
    second = consumer.next_batch([item.work_id for item in first])
    holding.put(([item.work_id for item in first], [item.work_id for item in second]))
    time.sleep(3600)
