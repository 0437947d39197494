"""Typed results of the SQL API, one dataclass per row shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


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


def claimed_items(rows: Sequence[Sequence[Any]]) -> list[ClaimedWork]:
    """Claims are the hot path: every payload of the batch (sent as text) parsed by one json.loads,
    positional construction."""
    if not rows:
        return []
    payloads = json.loads("[" + ",".join(row[3] for row in rows) + "]")
    return [
        ClaimedWork(row[0], row[1], row[2], payload, *row[4:])
        for row, payload in zip(rows, payloads, strict=True)
    ]


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
    """Timestamps as ISO text, decimals as floats, UUIDs as text: what json.dumps can print."""
    return {k: _plain(v) for k, v in row.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    return value


@dataclass(frozen=True)
class IngestResult:
    """The answer of ingest_failure: which candidate the failure belongs to and whether it was new."""

    candidate_id: int
    status: str  # 'accepted' (a new candidate) or 'duplicate' (a repeat report)
    is_duplicate: bool
    occurrence_count: int
    error_signature: str
    work_id: int | None  # the evaluation work enqueued by this call, if any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    """The suggestion evaluate_candidate computed (the numbers behind it are in the provenance)."""

    candidate_id: int
    suggested_action: str | None
    confidence: Decimal | None
    rule_name: str | None
    auto_approved: bool

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Decision:
    candidate_id: int
    decision: str
    decided_by: str
    decided_at: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ExecutionClaim:
    """An approved suggestion handed to an executor, under a lease."""

    candidate_id: int
    suggested_action: str
    error_code: str
    error_signature: str
    lease_until: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Candidate:
    """One row of recovery_candidates, as `m10 candidates list/show` print it."""

    id: int
    failure_match_id: UUID
    error_code: str
    error_signature: str
    message_template: str
    occurrence_count: int
    suggested_action: str | None
    confidence: Decimal | None
    evaluation_state: str
    decision: str
    execution_status: str
    source: str | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ProvenanceEvent:
    """One append-only provenance row: what happened to a candidate, by whom, with which numbers."""

    id: int
    event: str
    actor: str | None
    details: dict[str, Any]
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class OutboxEvent:
    """An outbox event leased to a processor by claim_outbox."""

    outbox_id: int
    event_id: UUID  # stable across retries and replays: the webhook-id receivers dedup by
    event_type: str
    aggregate_type: str | None
    aggregate_id: str | None
    payload: dict[str, Any]
    retry_count: int  # failed attempts before this one
    created_at: datetime
    lease_expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class OutboxStats:
    """Outbox counts by state (see m10_recovery.outbox_stats)."""

    pending: int
    retrying: int
    in_flight: int
    lease_expired: int
    processed: int
    dead: int
    oldest_pending_age_seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetter:
    """One row of outbox_dead_letter: an event given up on, and why."""

    id: int
    event_id: UUID
    event_type: str
    retry_count: int
    reason: str
    last_error: str | None
    dead_at: datetime

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class LockRow:
    """One row of distributed_locks."""

    lock_name: str
    holder_id: str
    acquired_at: datetime
    expires_at: datetime
    extend_count: int

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class SimilarCandidate:
    """A candidate whose learned template is near another's (`m10 candidates similar`)."""

    candidate_id: int
    error_code: str
    error_signature: str
    template_id: int | None
    template: str
    score: float
    shared_words: list[str]
    occurrence_count: int
    decision: str

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class StreamPendingEntry:
    """An entry delivered to a consumer and not acknowledged yet (XPENDING)."""

    id: str
    consumer: str
    idle_ms: int
    deliveries: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StreamDeadLetter:
    """An entry of the dead-letter stream, and whether it was replayed (m10_recovery.stream_replays)."""

    id: str
    work_id: int | None
    candidate_id: int | None
    orig_id: str | None
    reason: str | None
    consumer: str | None
    deliveries: int | None
    last_error: str | None
    replayed_as: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StreamReplay:
    """The outcome of replaying one dead-letter entry.

    status: replayed (re-added now, as stream_id), already_replayed (recorded before: nothing done),
    completed (the work item is no longer queued: nothing to replay)."""

    dead_letter_id: str
    work_id: int
    status: str
    stream_id: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClaimReport:
    """What one pass over stalled entries did (`m10 stream claim-stalled`)."""

    reclaimed: int = 0
    dead_lettered: int = 0
    trimmed: int = 0
    acknowledged: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
