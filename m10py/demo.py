"""`m10 demo`: the engine end to end on whatever database the resolver gives.

Migrate; ingest a stream of agent failures (repeats, variable parts, noise); let evaluation workers
suggest recoveries; approve some, reject one, execute the approved ones with simulated outcomes;
ingest a second wave and evaluate again, so the suggestions now carry what the outcomes taught.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from itertools import islice
from typing import Any

from rich.console import Console
from rich.table import Table

from m10py import schema
from m10py.cli.common import CliState
from m10py.client import M10Client
from m10py.db import create_pool
from m10py.demo_failures import failure_stream, success_rate
from m10py.models import Candidate
from m10py.worker import EvaluationWorker

# Wide enough for the tables when the output is a pipe (CI logs, less), not a terminal.
console = Console(width=110) if not Console().is_terminal else Console()
OPERATOR = "demo-operator"
EXECUTOR = "demo-executor"


def run_demo(cli: CliState, *, failures: int, workers: int) -> None:
    url, origin = cli.resolver.database()
    console.print(f"[bold]database[/bold]: {origin} PostgreSQL")
    migrated = schema.migrate(url)
    console.print(
        f"migrated: {len(migrated.migrations_applied)} migration(s), "
        f"{len(migrated.objects_applied)} function(s)/view(s) applied"
    )
    pool = create_pool(url, min_size=1, max_size=workers + 2)
    try:
        client = M10Client(pool)
        stream = list(failure_stream(failures))
        first, second = stream[: len(stream) // 2], stream[len(stream) // 2 :]
        rng = random.Random(7)

        _ingest(client, first, "wave 1")
        _evaluate(client, workers)
        _decide_and_execute(client, rng)
        before = {c.id: c.confidence for c in client.list_candidates(limit=10000)}

        _ingest(client, second, "wave 2")
        _evaluate(client, workers)
        _decide_and_execute(client, rng)
        _print_top(client.list_candidates(limit=10000), before)
    finally:
        pool.close()


def _ingest(client: M10Client, requests: Sequence[dict[str, Any]], label: str) -> None:
    statuses: Counter[str] = Counter()
    iterator = iter(requests)
    while chunk := list(islice(iterator, 100)):
        statuses.update(r.status for r in client.ingest_failures(chunk, source="demo"))
    console.print(
        f"{label}: ingested {len(requests)} failures: {statuses['accepted']} new candidates, "
        f"{statuses['duplicate']} repeats"
    )


def _evaluate(client: M10Client, workers: int) -> None:
    stop = threading.Event()
    runners = [EvaluationWorker(client, worker_id=f"demo-worker-{n}", batch_size=20) for n in range(workers)]
    threads = [threading.Thread(target=r.run, args=(stop,), kwargs={"once": True}) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    console.print(
        f"{workers} workers evaluated {sum(r.stats.evaluated for r in runners)} candidates "
        f"({sum(r.stats.failed for r in runners)} failed)"
    )


def _decide_and_execute(client: M10Client, rng: random.Random) -> None:
    pending = [
        c
        for c in client.list_candidates(decision="pending", limit=10000)
        if c.evaluation_state == "evaluated"
    ]
    approved = rejected = 0
    for candidate in pending:
        if candidate.suggested_action == "escalate_to_human":
            client.decide_candidate(
                candidate.id, "rejected", actor=OPERATOR, note="needs a person, not a retry"
            )
            rejected += 1
        elif candidate.confidence is not None and candidate.confidence >= 0.3:
            client.decide_candidate(candidate.id, "approved", actor=OPERATOR)
            approved += 1
    outcomes: Counter[str] = Counter()
    while claims := client.claim_execution(EXECUTOR, 50):
        for claim in claims:
            outcome = "succeeded" if rng.random() < success_rate(claim.error_code) else "failed"
            client.record_execution(claim.candidate_id, EXECUTOR, outcome, details={"simulated": True})
            outcomes[outcome] += 1
    console.print(
        f"decisions: {approved} approved by {OPERATOR}, {rejected} rejected; executions: "
        f"{outcomes['succeeded']} succeeded, {outcomes['failed']} failed"
    )


def _print_top(candidates: list[Candidate], before: dict[int, Any]) -> None:
    """Per error code: the suggestion, and what the outcomes of wave 1 did to the confidence of
    the candidates first seen in wave 2 (same rules, more history)."""
    by_code: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_code.setdefault(c.error_code, []).append(c)
    table = Table(title="suggestions per error code: confidence before and after learning from outcomes")
    for column in ("error code", "action", "reports", "wave 1", "wave 2 (new)"):
        table.add_column(column)
    rows = []
    for code, group in by_code.items():
        first = [before[c.id] for c in group if c.id in before and before[c.id] is not None]
        later = [c.confidence for c in group if c.id not in before and c.confidence is not None]
        action = max(group, key=lambda c: c.occurrence_count).suggested_action or "-"
        rows.append((code, action, sum(c.occurrence_count for c in group), _mean(first), _mean(later)))
    for code, action, reports, first_mean, later_mean in sorted(rows, key=lambda r: -r[2]):
        table.add_row(code, action, str(reports), first_mean, later_mean)
    console.print(table)


def _mean(values: Sequence[Any]) -> str:
    return "-" if not values else f"{sum(float(v) for v in values) / len(values):.3f}"
