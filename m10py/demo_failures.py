"""A realistic stream of agent and job failures for `m10 demo`: repeats, variable parts and noise.

Seeded, so every run ingests the same stream. Each kind of failure also has an outcome rate: how
often its usual recovery works, which the demo uses to simulate executions the engine learns from.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Fill = Callable[[random.Random], str]


@dataclass(frozen=True)
class FailureKind:
    error_type: str
    template: Callable[[random.Random], str]
    skill: str
    success_rate: float  # of executing the suggestion the rules give this kind


def _ip(r: random.Random) -> str:
    return ".".join(str(r.randrange(1, 255)) for _ in range(4))


def _host(r: random.Random) -> str:
    return r.choice(["api.search", "api.billing", "vector-db", "llm-gateway", "crm"]) + ".internal"


KINDS: tuple[FailureKind, ...] = (
    FailureKind(
        "TIMEOUT",
        lambda r: (
            f"Request to https://{_host(r)}/v1/query?id={r.randrange(10**6)} "
            f"timed out after {r.choice([10, 30, 60])}s (attempt {r.randrange(1, 4)})"
        ),
        "web_search",
        0.85,
    ),
    FailureKind(
        "RATE_LIMITED",
        lambda r: (
            f"429 Too Many Requests: limit of {r.choice([60, 600, 3000])} "
            f"requests per minute exceeded for key {uuid.UUID(int=r.getrandbits(128)).hex[:12]}"
        ),
        "llm_call",
        0.95,
    ),
    FailureKind(
        "HTTP_503",
        lambda r: (
            f"Upstream {_host(r)} returned 503 Service Unavailable "
            f"(request id {uuid.UUID(int=r.getrandbits(128))})"
        ),
        "crm_sync",
        0.7,
    ),
    FailureKind(
        "BUDGET_EXCEEDED",
        lambda r: (
            f"Monthly token budget of {r.choice([1, 5, 20])}000000 "
            f"exceeded for tenant t-{r.randrange(100, 999)}"
        ),
        "llm_call",
        0.4,
    ),
    FailureKind(
        "AUTH_EXPIRED",
        lambda r: (
            f"OAuth token for agent{r.randrange(1, 40)}@example.com expired at "
            f"2026-11-{r.randrange(1, 28):02d}T{r.randrange(24):02d}:{r.randrange(60):02d}:00Z"
        ),
        "email_send",
        0.9,
    ),
    FailureKind(
        "PERMISSION_DENIED",
        lambda r: (
            f"Permission denied writing /srv/agents/run-{r.randrange(10**5)}"
            f"/output/report-{r.randrange(100)}.json"
        ),
        "file_write",
        0.3,
    ),
    FailureKind(
        "CONNECTION_REFUSED",
        lambda r: f"connect ECONNREFUSED {_ip(r)}:{r.choice([5432, 6379, 8080])}",
        "db_query",
        0.8,
    ),
    FailureKind(
        "PARSE_ERROR",
        lambda r: (
            f"Unexpected token }} in JSON at position {r.randrange(2000)} "
            f"while reading tool output of step {r.randrange(1, 30)}"
        ),
        "tool_call",
        0.5,
    ),
    FailureKind(
        "OOM_KILLED",
        lambda r: (
            f"Worker w-{r.randrange(100)} killed: out of memory "
            f"({r.choice([512, 1024, 2048])}MB limit) while embedding {r.randrange(10, 900)} documents"
        ),
        "embedding",
        0.75,
    ),
    FailureKind(
        "TOOL_ERROR",
        lambda r: (
            f"Tool {r.choice(['calendar', 'browser', 'shell'])} returned an "
            f'unexpected result: status="{r.choice(["weird", "partial", "empty"])}" after '
            f"{r.randrange(100, 9000)} ms"
        ),
        "tool_call",
        0.5,
    ),
)


def failure_stream(count: int, seed: int = 10) -> Iterator[dict[str, Any]]:
    """Ingest requests: a pool of jobs (failure_match_id) fail again and again, with fresh variable
    parts each time; a few percent are one-off noise messages."""
    r = random.Random(seed)
    jobs = [
        (uuid.UUID(int=r.getrandbits(128)), r.choices(KINDS, weights=[9, 8, 6, 2, 4, 2, 5, 4, 3, 3])[0])
        for _ in range(max(1, count // 4))
    ]
    for _ in range(count):
        if r.random() < 0.05:
            yield {
                "failure_match_id": str(uuid.UUID(int=r.getrandbits(128))),
                "failure_payload": {
                    "error_type": r.choice(["UNKNOWN", "INTERNAL"]),
                    "raw": f"unexpected state {r.getrandbits(32):08x} in step {r.randrange(50)}",
                },
            }
            continue
        job, kind = r.choice(jobs)
        yield {
            "failure_match_id": str(job),
            "failure_payload": {
                "error_type": kind.error_type,
                "raw": kind.template(r),
                "skill": kind.skill,
                "tenant": f"t-{r.randrange(1, 6)}",
                "meta": {"attempt": r.randrange(1, 4)},
            },
        }


def success_rate(error_code: str) -> float:
    return next((k.success_rate for k in KINDS if k.error_type == error_code), 0.5)
