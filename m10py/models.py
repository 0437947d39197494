"""Typed results of the SQL API, one dataclass per row shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class ClaimedWork:
    """A work item handed to a worker by claim_work or complete_and_claim.

    Not frozen: frozen dataclasses build through object.__setattr__, ten times slower, and a worker
    builds one per claimed item on its hot path. Fields are in the SQL type's column order.
    """

    work_id: int
    candidate_id: int | None
    method: str
    payload: dict[str, Any]
    priority: int
    attempts: int
    max_attempts: int
    enqueued_at: datetime
    claimed_at: datetime
    lease_expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class QueueStats:
    """Work queue counts for one method (see m10_recovery.queue_stats)."""

    method: str
    ready: int
    delayed: int
    claimed: int
    lease_expired: int
    dead: int
    oldest_ready_age_seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
