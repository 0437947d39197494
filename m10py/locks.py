"""DistributedLock: hold a row of distributed_locks for the length of a `with` block.

A background thread extends the lease every third of its TTL, so the lock lives as long as the
holder does and expires soon after it crashes. If an extension is refused (the lock expired, say
after a long pause, and may be someone else's now), `lost` is set: guarded work should check it.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

import psycopg

from m10py.client import M10Client
from m10py.errors import M10Error
from m10py.worker import default_worker_id

log = logging.getLogger(__name__)


class LockNotAcquired(M10Error):
    """Another holder kept the lock for longer than we were willing to wait."""


class DistributedLock:
    def __init__(
        self,
        client: M10Client,
        name: str,
        *,
        ttl_seconds: int = 60,
        holder_id: str | None = None,
        wait_seconds: float = 0.0,
        retry_interval: float = 0.2,
        lost: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.holder_id = holder_id or default_worker_id()
        self.wait_seconds = wait_seconds
        self.retry_interval = retry_interval
        self.lost = lost or threading.Event()  # set when the lease could not be kept
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def __enter__(self) -> DistributedLock:
        deadline = time.monotonic() + self.wait_seconds
        while not self.client.acquire_lock(self.name, self.holder_id, self.ttl_seconds):
            if time.monotonic() >= deadline:
                raise LockNotAcquired(f"lock {self.name!r} is held by another holder")
            time.sleep(self.retry_interval)
        self._keeper = threading.Thread(target=self._keep_alive, name=f"m10-lock-{self.name}", daemon=True)
        self._keeper.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()
        try:
            self.client.release_lock(self.name, self.holder_id)
        except (M10Error, psycopg.Error):  # it expires by itself after its TTL
            log.warning("could not release lock %s; it expires within %d s", self.name, self.ttl_seconds)

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.ttl_seconds / 3):
            try:
                extended = self.client.extend_lock(self.name, self.holder_id, self.ttl_seconds)
            except (M10Error, psycopg.Error) as exc:  # a database blip: try again before the TTL ends
                log.warning("extending lock %s failed: %s", self.name, exc)
                continue
            if not extended:
                log.error("lock %s was lost (expired before it could be extended)", self.name)
                self.lost.set()
                return
