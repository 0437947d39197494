"""The evaluation worker (DB mode): claim 'evaluate' work, evaluate the candidates, complete the work.

Each batch is evaluated and completed in one transaction, which also claims the next batch
(complete_and_claim), so an evaluation is recorded exactly when its work item is completed: a crash
before the commit leaves both undone and the item returns after its lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

import psycopg

from m10py.client import M10Client
from m10py.client_base import Conn
from m10py.errors import M10Error
from m10py.models import ClaimedWork

log = logging.getLogger(__name__)

METHOD = "evaluate"


def default_worker_id() -> str:
    """Unique per process: host, pid and a random suffix (a restarted pid is another worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerStats:
    batches: int = 0
    evaluated: int = 0
    failed: int = 0
    skipped: int = 0


class EvaluationWorker:
    def __init__(
        self,
        client: M10Client,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
        poll_interval: float = 5.0,
        lease_seconds: int = 300,
    ) -> None:
        self.client = client
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.stats = WorkerStats()

    def run(self, stop: threading.Event, *, once: bool = False) -> WorkerStats:
        """Work until `stop` is set (SIGTERM) or, with once, until no work is ready."""
        log.info("worker %s started (batch %d)", self.worker_id, self.batch_size)
        batch = self._claim([], None)
        while True:
            if not batch:
                if once or stop.wait(self.poll_interval):
                    break
                batch = self._claim([], None)
                continue
            self.stats.batches += 1
            batch = self._process(batch, claim_next=not stop.is_set())
        log.info("worker %s stopped: %s", self.worker_id, self.stats)
        return self.stats

    def _claim(self, done: list[int], conn: Conn | None) -> list[ClaimedWork]:
        return self.client.complete_and_claim(
            self.worker_id, done, self.batch_size, lease_seconds=self.lease_seconds, method=METHOD, conn=conn
        )

    def _process(self, batch: list[ClaimedWork], *, claim_next: bool) -> list[ClaimedWork]:
        """Evaluate a batch and complete it in one transaction; return the next batch."""
        with_candidate = [item for item in batch if item.candidate_id is not None]
        self.stats.skipped += len(batch) - len(with_candidate)
        done = [item.work_id for item in batch]
        try:
            with self.client.pool.connection() as conn, conn.transaction():
                if with_candidate:
                    ids = [item.candidate_id for item in with_candidate if item.candidate_id is not None]
                    self.client.evaluate_candidates(ids, actor=self.worker_id, conn=conn)
                next_batch = self._finish(done, conn, claim_next)
            self.stats.evaluated += len(with_candidate)
            return next_batch
        except (M10Error, psycopg.Error) as exc:
            log.warning("batch of %d failed (%s); evaluating its items one by one", len(batch), exc)
        for item in batch:
            self._process_one(item)
        return self._claim([], None) if claim_next else []

    def _finish(self, done: list[int], conn: Conn, claim_next: bool) -> list[ClaimedWork]:
        if claim_next:
            return self._claim(done, conn)
        for work_id in done:  # shutting down: complete without claiming more
            self.client.complete_work(work_id, True, worker_id=self.worker_id, conn=conn)
        return []

    def _process_one(self, item: ClaimedWork) -> None:
        try:
            with self.client.pool.connection() as conn, conn.transaction():
                if item.candidate_id is not None:
                    self.client.evaluate_candidates([item.candidate_id], actor=self.worker_id, conn=conn)
                self.client.complete_work(item.work_id, True, worker_id=self.worker_id, conn=conn)
            self.stats.evaluated += item.candidate_id is not None
        except (M10Error, psycopg.Error) as exc:
            self.stats.failed += 1
            log.warning("work item %d (candidate %s) failed: %s", item.work_id, item.candidate_id, exc)
            # The failure is recorded on its own: the evaluation transaction was rolled back.
            self.client.complete_work(
                item.work_id, False, f"{type(exc).__name__}: {exc}", worker_id=self.worker_id
            )
