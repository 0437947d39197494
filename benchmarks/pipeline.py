"""End to end: failures ingested -> candidates evaluated, with two evaluation workers.

One command::

    python benchmarks/pipeline.py [--failures 4000] [--database-url URL]

A producer process ingests failures with ``ingest_failures`` (batches of 100, as fast as it can)
while two worker processes run ``m10py.worker.EvaluationWorker`` (DB mode, batch 50). Every failure is
a new candidate, so every one needs an evaluation. Reported: failures ingested per second (producer
alone), candidates evaluated per second end to end (from the producer's start to the last
evaluation), and the latency from a candidate's creation to its evaluation (p50, p99), read from
the database. The benchmark creates and drops a database of its own; it refuses to run with fsync
or synchronous_commit off. Results: a table on stdout and ``benchmarks/results/pipeline.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
# benchmarks/queue.py would shadow the standard library's queue module: this folder goes last on
# the path (for scratch_db), after the standard library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR] + [str(BENCH_DIR)]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
from scratch_db import scratch_database, write_result  # noqa: E402

from m10py.client import M10Client  # noqa: E402
from m10py.db import create_pool  # noqa: E402
from m10py.worker import EvaluationWorker  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CODES = ("TIMEOUT", "RATE_LIMITED", "HTTP_503", "CONNECTION_RESET", "PARSE_ERROR", "OOM_KILLED")


def failures(count: int) -> list[dict[str, Any]]:
    return [
        {
            "failure_match_id": str(uuid.uuid4()),
            "failure_payload": {
                "error_type": CODES[n % len(CODES)],
                "raw": f"job {n} failed after {n % 60}s on worker-{n % 7}",
            },
        }
        for n in range(count)
    ]


def produce(url: str, count: int, started: Any) -> None:
    pool = create_pool(url, min_size=1, max_size=1)
    client = M10Client(pool)
    batch = failures(count)
    started.wait()
    begin = time.perf_counter()
    for i in range(0, count, 100):
        client.ingest_failures(batch[i : i + 100], source="bench")
    elapsed = time.perf_counter() - begin
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.bench_producer (seconds double precision)")
        conn.execute("INSERT INTO public.bench_producer VALUES (%s)", (elapsed,))
    pool.close()


def work(url: str, name: str, started: Any, done: Any) -> None:
    pool = create_pool(url, min_size=1, max_size=2)
    worker = EvaluationWorker(M10Client(pool), worker_id=name, batch_size=50, poll_interval=0.01)
    stop = threading.Event()
    threading.Thread(target=lambda: (done.wait(), stop.set()), daemon=True).start()
    started.wait()
    worker.run(stop)
    pool.close()


def evaluated(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM m10_recovery.recovery_candidates WHERE evaluation_state = 'evaluated'"
        ).fetchone()
    return int(row[0]) if row else 0


def run(url: str, count: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    started, done = ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=produce, args=(url, count, started))]
    procs += [ctx.Process(target=work, args=(url, f"bench-worker-{n}", started, done)) for n in range(2)]
    for p in procs:
        p.start()
    time.sleep(2)  # let every process connect before the clock starts
    begin = time.perf_counter()
    started.set()
    while evaluated(url) < count:
        time.sleep(0.01)
    end_to_end = time.perf_counter() - begin
    done.set()
    for p in procs:
        p.join(60)
    with psycopg.connect(url) as conn:
        producer = conn.execute("SELECT seconds FROM public.bench_producer").fetchone()
        lat = conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM evaluated_at - created_at))"
            " FROM m10_recovery.recovery_candidates"
        ).fetchone()
    assert producer is not None and lat is not None
    return {
        "failures": count,
        "ingest_per_s": count / producer[0],
        "evaluated_per_s": count / end_to_end,
        "end_to_end_seconds": end_to_end,
        "latency_p50_ms": lat[0][0] * 1000,
        "latency_p99_ms": lat[0][1] * 1000,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--failures", type=int, default=4000)
    args = parser.parse_args(argv)
    with scratch_database(args.database_url, "bench_pipeline") as (url, _version):
        result = run(url, args.failures)
    print("end to end: ingest -> evaluated, 1 producer (batches of 100), 2 workers (batch 50)")
    for key, value in result.items():
        print(f"  {key:20} {value:,.2f}" if isinstance(value, float) else f"  {key:20} {value}")
    write_result(
        "pipeline",
        {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python benchmarks/pipeline.py",
            **result,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
