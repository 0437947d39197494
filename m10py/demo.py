"""`m10 demo`: the work queue end to end on whatever database the resolver gives."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from m10py import schema
from m10py.cli.common import CliState
from m10py.client import M10Client
from m10py.db import create_pool

console = Console()

# Stand-in failures an agent platform would hand to the evaluator; a few are flaky on purpose so the
# demo shows retries with backoff.
_ERROR_KINDS = ["TIMEOUT", "RATE_LIMITED", "HTTP_503", "AUTH_EXPIRED", "OOM_KILLED", "PARSE_ERROR"]


def run_demo(cli: CliState, *, items: int, workers: int) -> None:
    url, origin = cli.resolver.database()
    console.print(f"[bold]database[/bold]: {origin} PostgreSQL")
    migrated = schema.migrate(url)
    console.print(
        f"migrated: {len(migrated.migrations_applied)} migration(s), "
        f"{len(migrated.objects_applied)} function(s)/view(s) applied"
    )
    pool = create_pool(url, min_size=1, max_size=workers + 1)
    try:
        client = M10Client(pool)
        rng = random.Random(10)
        payloads = [
            {"error_type": rng.choice(_ERROR_KINDS), "agent": f"agent-{rng.randrange(8)}"}
            for _ in range(items)
        ]
        started = time.perf_counter()
        client.enqueue_work_batch(payloads[: items // 2])
        for i, payload in enumerate(payloads[items // 2 :]):
            client.enqueue_work(payload=payload, priority=10 if i % 10 == 0 else 0)
        console.print(f"enqueued {items} items (a tenth of the single ones at priority 10)")

        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        threads = [
            threading.Thread(target=_work, args=(client, f"demo-worker-{n}", outcomes, lock))
            for n in range(workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        console.print(
            f"{workers} workers: {outcomes['completed']} completed, "
            f"{outcomes['retried']} failures retried with backoff, in {elapsed:.2f}s"
        )
        _print_stats(client)
    finally:
        pool.close()


def _work(client: M10Client, worker_id: str, outcomes: Counter[str], lock: threading.Lock) -> None:
    """Drain with complete_and_claim; fail an item's first attempt now and then to show a retry."""
    done: list[int] = []
    idle_rounds = 0
    while idle_rounds < 40:
        batch = client.complete_and_claim(worker_id, done, batch_size=10)
        done = []
        if not batch:
            # Retries wait out their backoff (a second or two): poll until nothing is left.
            idle_rounds += 1
            time.sleep(0.1)
            if not any(s.ready or s.delayed or s.claimed for s in client.queue_stats()):
                return
            continue
        idle_rounds = 0
        for item in batch:
            if item.attempts == 1 and item.work_id % 17 == 0:
                client.complete_work(
                    item.work_id,
                    False,
                    f"{item.payload['error_type']}: flaky",
                    worker_id=worker_id,
                    retry_in_seconds=0.5,
                )
                with lock:
                    outcomes["retried"] += 1
            else:
                done.append(item.work_id)
                with lock:
                    outcomes["completed"] += 1


def _print_stats(client: M10Client) -> None:
    table = Table(title="m10_recovery.queue_stats()")
    for column in ("method", "ready", "delayed", "claimed", "dead"):
        table.add_column(column)
    for s in client.queue_stats():
        table.add_row(s.method, str(s.ready), str(s.delayed), str(s.claimed), str(s.dead))
    console.print(table)
