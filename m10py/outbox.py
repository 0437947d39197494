"""The outbox processor: claim due events, deliver them through the handler of their type's prefix,
record each outcome.

Delivery is at least once: an event is marked processed only after its handler succeeded, so a crash
between the two delivers it again (after the lease) under the same event_id, which receivers dedup by.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import psycopg

from m10py.client import M10Client
from m10py.client_base import Conn
from m10py.errors import M10Error
from m10py.models import OutboxEvent
from m10py.worker import default_worker_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a handler did with an event."""

    kind: Literal["delivered", "retry", "dead"]
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked for (Retry-After); None: backoff

    @classmethod
    def delivered(cls) -> Outcome:
        return cls("delivered")

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> Outcome:
        return cls("retry", error, retry_after)

    @classmethod
    def dead(cls, reason: str) -> Outcome:
        return cls("dead", reason)


Handler = Callable[[OutboxEvent], Outcome]


class HandlerRegistry:
    """Handlers by event-type prefix; the longest matching prefix wins."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}

    def register(self, prefix: str, handler: Handler) -> None:
        if not prefix or prefix != prefix.strip():
            raise ValueError(f"a route prefix must be non-blank without surrounding spaces, got {prefix!r}")
        self._routes[prefix] = handler

    def resolve(self, event_type: str) -> Handler | None:
        matches = [p for p in self._routes if event_type.startswith(p)]
        return self._routes[max(matches, key=len)] if matches else None

    @property
    def prefixes(self) -> list[str]:
        return sorted(self._routes)


@dataclass
class ProcessorStats:
    batches: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    stale: int = 0  # outcomes not recorded: the lease had been taken over


class OutboxProcessor:
    def __init__(
        self,
        client: M10Client,
        registry: HandlerRegistry,
        *,
        processor_id: str | None = None,
        batch_size: int = 50,
        concurrency: int = 8,
        lease_seconds: int = 60,
        poll_interval: float = 1.0,
        max_attempts: int = 10,
        retry_base_seconds: float = 2.0,
        retry_cap_seconds: float = 600.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.client = client
        self.registry = registry
        self.processor_id = processor_id or default_worker_id()
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.retry_cap_seconds = retry_cap_seconds
        self.stats = ProcessorStats()

    def run(self, stop: threading.Event, *, once: bool = False) -> ProcessorStats:
        """Deliver until ``stop`` is set (SIGTERM) or, with ``once``, until nothing is due."""
        log.info(
            "outbox processor %s started (batch %d, concurrency %d)",
            self.processor_id,
            self.batch_size,
            self.concurrency,
        )
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="m10-outbox") as deliverers:
            while not stop.is_set():
                if self.process_batch(deliverers) == 0 and (once or stop.wait(self.poll_interval)):
                    break
        log.info("outbox processor %s stopped: %s", self.processor_id, self.stats)
        return self.stats

    def process_batch(self, deliverers: ThreadPoolExecutor) -> int:
        """Claim one batch, deliver it with bounded concurrency, record the outcomes; return its size."""
        events = self.client.claim_outbox(
            self.processor_id,
            self.batch_size,
            lease_seconds=self.lease_seconds,
            max_attempts=self.max_attempts,
        )
        if not events:
            return 0
        self.stats.batches += 1
        outcomes = list(deliverers.map(self._deliver, events))
        self._record(events, outcomes)
        return len(events)

    def _deliver(self, event: OutboxEvent) -> Outcome:
        handler = self.registry.resolve(event.event_type)
        if handler is None:
            return Outcome.dead(
                f"no handler for event type {event.event_type!r} "
                f"(routes: {', '.join(self.registry.prefixes) or 'none'})"
            )
        try:
            return handler(event)
        except Exception as exc:  # a plugged-in handler's bug must not stop the processor
            log.warning("handler for %s raised on event %d", event.event_type, event.outbox_id, exc_info=True)
            return Outcome.retry(f"{type(exc).__name__}: {exc}")

    def _record(self, events: list[OutboxEvent], outcomes: list[Outcome]) -> None:
        """All outcomes of a batch in one transaction: one commit per batch."""
        delivered = [e.outbox_id for e, o in zip(events, outcomes, strict=True) if o.kind == "delivered"]
        try:
            with self.client.pool.connection() as conn, conn.transaction():
                done = 0
                if delivered:
                    done = self.client.complete_outbox(delivered, self.processor_id, conn=conn)
                self.stats.delivered += done
                self.stats.stale += len(delivered) - done
                for event, outcome in zip(events, outcomes, strict=True):
                    if outcome.kind != "delivered":
                        self._fail(event, outcome, conn)
        except (M10Error, psycopg.Error):
            # Nothing recorded: the events come back after their lease and are delivered again.
            log.exception("recording the outcomes of %d events failed", len(events))

    def _fail(self, event: OutboxEvent, outcome: Outcome, conn: Conn) -> None:
        error = outcome.error or "failed"
        result = self.client.fail_outbox(
            event.outbox_id,
            self.processor_id,
            error,
            retry_in_seconds=outcome.retry_after,
            dead_letter=outcome.kind == "dead",
            max_attempts=self.max_attempts,
            base_seconds=self.retry_base_seconds,
            cap_seconds=self.retry_cap_seconds,
            conn=conn,
        )
        if result == "dead":
            self.stats.dead += 1
            log.warning("event %d (%s) dead-lettered: %s", event.outbox_id, event.event_type, error)
        elif result == "retry":
            self.stats.retried += 1
        else:
            self.stats.stale += 1
