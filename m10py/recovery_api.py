"""Client calls of the recovery engine: ingest, evaluate, decide, execute, and reading candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from m10py import queries
from m10py.client_base import ClientBase, Conn
from m10py.errors import NotFound
from m10py.jsonutil import bigint_array, json_text
from m10py.models import (
    Candidate,
    Decision,
    Evaluation,
    ExecutionClaim,
    IngestResult,
    ProvenanceEvent,
    SimilarCandidate,
)


class RecoveryCalls(ClientBase):
    def ingest_failure(
        self,
        failure_match_id: UUID | str,
        payload: Mapping[str, Any],
        *,
        source: str | None = None,
        idempotency_key: UUID | str | None = None,
        priority: int = 0,
        conn: Conn | None = None,
    ) -> IngestResult:
        """Record one failure; a retry with the same idempotency_key replays the first answer.

        With a stream publisher and no ``conn``, the new work item is XADDed after the commit; with
        ``conn``, call ``self.stream.publish_results`` after your commit (never before it)."""
        params = {
            "failure_match_id": str(failure_match_id),
            "payload": json_text(payload, "failure_payload"),
            "source": source,
            "idempotency_key": None if idempotency_key is None else str(idempotency_key),
            "priority": priority,
        }
        with self._conn(conn) as c, c.cursor(row_factory=class_row(IngestResult)) as cur:
            row = cur.execute(queries.INGEST_FAILURE, params).fetchone()
        assert row is not None
        if conn is None and self.stream is not None:  # committed: dispatch it
            self.stream.publish_results([row])
        return row

    def ingest_failures(
        self,
        failures: Sequence[Mapping[str, Any]],
        *,
        source: str | None = None,
        priority: int = 0,
        conn: Conn | None = None,
    ) -> list[IngestResult]:
        """Record many failures in one call, all or nothing. Each element is an object with
        failure_match_id, failure_payload and optionally idempotency_key and source."""
        params = {
            "failures": json_text(list(failures), "failures"),
            "source": source,
            "priority": priority,
        }
        with self._conn(conn) as c, c.cursor(row_factory=class_row(IngestResult)) as cur:
            rows = cur.execute(queries.INGEST_FAILURES, params).fetchall()
        if conn is None and self.stream is not None:
            self.stream.publish_results(rows)
        return rows

    def evaluate_candidates(
        self, candidate_ids: Sequence[int], *, actor: str = "evaluator", conn: Conn | None = None
    ) -> list[Evaluation]:
        params = {"ids": bigint_array(candidate_ids), "actor": actor}
        with self._conn(conn) as c, c.cursor(row_factory=class_row(Evaluation)) as cur:
            return cur.execute(queries.EVALUATE_CANDIDATES, params).fetchall()

    def decide_candidate(
        self,
        candidate_id: int,
        decision: str,
        *,
        actor: str,
        note: str | None = None,
        conn: Conn | None = None,
    ) -> Decision:
        params = {"candidate_id": candidate_id, "decision": decision, "actor": actor, "note": note}
        with self._conn(conn) as c, c.cursor(row_factory=class_row(Decision)) as cur:
            row = cur.execute(queries.DECIDE_CANDIDATE, params).fetchone()
        assert row is not None
        return row

    def claim_execution(
        self,
        executor: str,
        batch_size: int = 1,
        *,
        lease_seconds: int = 300,
        conn: Conn | None = None,
    ) -> list[ExecutionClaim]:
        params = {"executor": executor, "batch_size": batch_size, "lease_seconds": lease_seconds}
        with self._conn(conn) as c, c.cursor(row_factory=class_row(ExecutionClaim)) as cur:
            return cur.execute(queries.CLAIM_EXECUTION, params).fetchall()

    def record_execution(
        self,
        candidate_id: int,
        executor: str,
        outcome: str,
        *,
        details: Mapping[str, Any] | None = None,
        conn: Conn | None = None,
    ) -> bool:
        """True when the outcome was recorded; False when it already was, or the lease was lost."""
        params = {
            "candidate_id": candidate_id,
            "executor": executor,
            "outcome": outcome,
            "details": json_text(dict(details or {}), "details"),
        }
        with self._conn(conn) as c:
            row = c.execute(queries.RECORD_EXECUTION, params).fetchone()
        assert row is not None
        return bool(row[0])

    def list_candidates(
        self, *, decision: str | None = None, limit: int = 50, conn: Conn | None = None
    ) -> list[Candidate]:
        params = {"decision": decision, "limit": limit}
        with self._conn(conn) as c, c.cursor(row_factory=class_row(Candidate)) as cur:
            return cur.execute(queries.LIST_CANDIDATES, params).fetchall()

    def get_candidate(self, candidate_id: int, *, conn: Conn | None = None) -> Candidate:
        with self._conn(conn) as c, c.cursor(row_factory=class_row(Candidate)) as cur:
            row = cur.execute(queries.GET_CANDIDATE, {"candidate_id": candidate_id}).fetchone()
        if row is None:
            raise NotFound(f"candidate {candidate_id} does not exist")
        return row

    def candidate_provenance(self, candidate_id: int, *, conn: Conn | None = None) -> list[ProvenanceEvent]:
        with self._conn(conn) as c, c.cursor(row_factory=class_row(ProvenanceEvent)) as cur:
            return cur.execute(queries.CANDIDATE_PROVENANCE, {"candidate_id": candidate_id}).fetchall()

    def similar_candidates(
        self, candidate_id: int, *, limit: int = 10, conn: Conn | None = None
    ) -> list[SimilarCandidate]:
        """Candidates whose templates are near this one's, best first; NotFound for an unknown id."""
        with self._conn(conn) as c, c.cursor(row_factory=class_row(SimilarCandidate)) as cur:
            return cur.execute(
                queries.SIMILAR_CANDIDATES, {"candidate_id": candidate_id, "limit": limit}
            ).fetchall()
