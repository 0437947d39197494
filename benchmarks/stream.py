"""Benchmark of the Redis stream bridge: ingest -> evaluated, through the stream vs the database only,
with a raw redis-py stream loop as the floor.

One command::

    python benchmarks/stream.py            # a warm-up and 5 rotating rounds, about 5 minutes
    python benchmarks/stream.py --quick    # 1 round, about 30 seconds

It creates a database of its own (``--database-url``, else ``$DATABASE_URL``, else the local
default), migrates it and drops it at the end; Redis is ``--redis-url`` / ``$REDIS_URL`` (keys carry
a random tag and are deleted after each trial). Three paths, each trial with two fresh worker
processes (``--workers``; batch 10, the defaults otherwise):

* **stream**: ``ingest_failure`` commits, then the work item is XADDed (``StreamPublisher``, as
  ``M10Client.ingest_failure`` does with a publisher); ``StreamWorker`` processes (``m10 worker
  --use-stream``): XREADGROUP, ``evaluate_work_by_ids`` (claim by id, evaluate, complete), XACK.
* **db only**: the same ingest without the XADD; ``EvaluationWorker`` processes (``m10 worker``)
  with ``--poll-interval 0.05`` (the default is 5 s: this is the DB path at its most eager).
* **raw redis-py**: producers XADD an entry carrying a tag; consumers XREADGROUP (BLOCK), XACK. No
  database: the floor of what any stream dispatch costs here.

Three phases per path. *paced*: one producer at ``--rate`` items/s (100), so workers wait for work
and the latency is dispatch latency: from the ingest's commit (the moment ``ingest_failure``
returned, before the XADD) to evaluation start (the worker calls ``evaluate_work_by_ids`` for the
item, or ``EvaluationWorker`` starts the batch holding it; raw: the consumer has the entry), p50/p99
over all items. *saturated*: four producer threads as fast as they can while the workers run;
throughput is items / (first ingest start .. the last item finished): end-to-end ingest ->
evaluated. *drain*: the same ingest with the workers held back, then the workers alone on the
backlog: evaluation throughput without ingest. Each round runs every path (in a rotated order) for
each phase; items/s is the median round, latencies are over all rounds' items. One unrecorded
warm-up trial per path comes first.

Every failure is distinct (a new candidate and a new work item). Durability: refuses to run unless
fsync and synchronous_commit are on. Results: a table on stdout and ``benchmarks/results/stream.json``
(``stream-quick.json`` with ``--quick``).
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
import datetime as dt  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
import redis  # noqa: E402
from scratch_db import DURABLE, scratch_database, write_result  # noqa: E402

from m10py.client import M10Client  # noqa: E402
from m10py.config import StreamSettings  # noqa: E402
from m10py.db import create_pool  # noqa: E402
from m10py.models import ClaimedWork  # noqa: E402
from m10py.redis_conn import redis_client  # noqa: E402
from m10py.stream import StreamPublisher, ensure_group  # noqa: E402
from m10py.stream_worker import StreamWorker  # noqa: E402
from m10py.worker import EvaluationWorker  # noqa: E402

WORKERS = 2  # worker processes per path (--workers)
PRODUCERS = 4
BATCH = 10
POLL = 0.05


# ---- worker processes: report (work_id or entry tag, evaluation start) pairs at exit -------------


def run_worker(
    mode: str, db_url: str, redis_url: str, settings: StreamSettings, go: Any, stop: Any, out: Any
) -> None:
    started: list[tuple[str, float]] = []

    def record(work_ids: list[int]) -> None:
        now = time.time()
        started.extend((str(i), now) for i in work_ids)

    if mode == "raw":
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        name = uuid.uuid4().hex
        go.wait()
        while not stop.is_set():
            reply: Any = r.xreadgroup(
                settings.group, name, {settings.stream_key: ">"}, count=BATCH, block=100
            )
            for _, entries in reply or []:
                now = time.time()
                started.extend((fields["sent"], now) for _, fields in entries)
                r.xack(settings.stream_key, settings.group, *[i for i, _ in entries])
        out.put(started)
        return
    pool = create_pool(db_url, min_size=1, max_size=2)
    client = M10Client(pool)
    thread_stop = threading.Event()
    go.wait()
    threading.Thread(target=lambda: (stop.wait(), thread_stop.set()), daemon=True).start()
    if mode == "stream":
        worker = StreamWorker(
            client,
            redis_client(redis_url, timeout=5),
            settings,
            batch_size=BATCH,
            block_ms=1000,
            on_claim=record,
        )
        worker.run(thread_stop)
    else:

        class TimedWorker(EvaluationWorker):
            def _process(self, batch: list[ClaimedWork], *, claim_next: bool) -> list[ClaimedWork]:
                record([item.work_id for item in batch])
                return super()._process(batch, claim_next=claim_next)

        TimedWorker(client, batch_size=BATCH, poll_interval=POLL).run(thread_stop)
    pool.close()
    out.put(started)


# ---- producers -----------------------------------------------------------------------------------


class Producer:
    def __init__(self, mode: str, db_url: str, redis_url: str, settings: StreamSettings) -> None:
        self.mode = mode
        self.settings = settings
        self.pool = create_pool(db_url, min_size=PRODUCERS, max_size=PRODUCERS) if mode != "raw" else None
        self.client = M10Client(self.pool) if self.pool else None
        self.redis = redis_client(redis_url, timeout=settings.timeout_ms / 1000)
        self.publisher = StreamPublisher(self.redis, settings)
        self.committed: dict[str, float] = {}

    def one(self) -> None:
        if self.mode == "raw":
            tag = uuid.uuid4().hex
            self.committed[tag] = time.time()
            self.redis.xadd(
                self.settings.stream_key, {"sent": tag}, maxlen=self.settings.max_len, approximate=True
            )
            return
        assert self.client is not None
        result = self.client.ingest_failure(
            uuid.uuid4(),
            {"error_type": f"BENCH_{uuid.uuid4().hex[:10]}", "message": "connection reset by peer"},
        )
        self.committed[str(result.work_id)] = time.time()  # the commit is done
        if self.mode == "stream":
            self.publisher.publish_results([result])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


PATHS = {"stream": "stream", "db": "db only", "raw": "raw redis-py"}


def trial(
    mode: str, phase: str, count: int, db_url: str, redis_url: str, rate: float, workers: int
) -> tuple[float, list[float]]:
    """(items/s from the first ingest to the last item finished, dispatch latencies in ms)."""
    tag = uuid.uuid4().hex[:10]
    settings = StreamSettings(
        stream_key=f"m10bench:{tag}:stream",
        group=f"m10bench:{tag}:group",
        dead_letter_stream=f"m10bench:{tag}:dl",
    )
    r = redis_client(redis_url, timeout=5)
    ensure_group(r, settings)
    ctx = multiprocessing.get_context("spawn")
    go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=run_worker, args=(mode, db_url, redis_url, settings, go, stop, out))
        for _ in range(workers)
    ]
    try:
        for p in procs:
            p.start()
        if phase != "drain":
            go.set()
        time.sleep(2)  # workers connected and waiting
        producer = Producer(mode, db_url, redis_url, settings)
        start = time.time()
        if phase == "paced":
            for i in range(count):
                time.sleep(max(0.0, start + i / rate - time.time()))
                producer.one()
        else:
            with ThreadPoolExecutor(PRODUCERS) as pool:
                list(pool.map(lambda _: producer.one(), range(count)))
        producer.publisher.flush()
        ingested = time.time()
        if phase == "drain":  # the backlog is in place: time the workers alone
            go.set()
            start = ingested
        done = wait_done(mode, db_url, r, settings)
        stop.set()
        started: dict[str, float] = {}
        for _ in procs:
            for key, t in out.get(timeout=60):
                started.setdefault(key, t)  # the first evaluation start of an item
        for p in procs:
            p.join(30)
        producer.close()
    finally:
        r.delete(settings.stream_key, settings.dead_letter_stream)
    lat = [(started[k] - t) * 1000 for k, t in producer.committed.items() if k in started]
    assert len(lat) == count, f"{mode}/{phase}: {len(lat)} of {count} items seen by workers"
    if phase == "drain":
        print(f"    drained {count} in {done - ingested:.2f} s")
        return count / (done - start), []
    print(f"    ingest {count / (ingested - start):,.0f}/s, then drained in {done - ingested:.2f} s")
    return count / (done - start), lat


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def wait_done(mode: str, db_url: str, r: redis.Redis, settings: StreamSettings) -> float:
    """The time the last item was finished: queue empty (database paths) or nothing pending (raw)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        while True:
            if mode == "raw":
                info: Any = r.xinfo_groups(settings.stream_key)
                if info[0]["pending"] == 0 and info[0]["lag"] == 0:
                    return time.time()
            else:
                row = conn.execute("SELECT count(*) FROM m10_recovery.work_queue").fetchone()
                if row is not None and row[0] == 0:
                    return time.time()
            time.sleep(0.002)


def run_rounds(
    url: str, args: argparse.Namespace, rounds: int, counts: dict[str, int], phases: list[str]
) -> dict[tuple[str, str], list[tuple[float, list[float]]]]:
    """A warm-up, then every round runs each phase for each path, the path order rotating."""
    runs: dict[tuple[str, str], list[tuple[float, list[float]]]] = {}
    order = [p for p in PATHS if p in args.paths.split(",")]
    # Not recorded: a fresh database's first trial is slower, whichever path runs it.
    for mode in order:
        trial(mode, "saturated", counts["saturated"] // 4, url, args.redis_url, args.rate, args.workers)
    for round_no in range(rounds):
        for phase in phases:
            for mode in order:
                per_s, lat = trial(mode, phase, counts[phase], url, args.redis_url, args.rate, args.workers)
                runs.setdefault((mode, phase), []).append((per_s, lat))
                p50 = f"p50 {statistics.median(lat):.2f} ms" if lat else ""
                print(
                    f"  round {round_no + 1} {PATHS[mode]:<13} {phase:<9} {per_s:>8,.0f}/s {p50}", flush=True
                )
        order = order[1:] + order[:1]  # no path always runs first
    return runs


def summarize(
    runs: dict[tuple[str, str], list[tuple[float, list[float]]]], counts: dict[str, int]
) -> list[dict[str, Any]]:
    """Per path and phase: the median round's items/s, latency percentiles over every item."""
    rows = []
    for (mode, phase), results in runs.items():
        lat = [x for _, trial_lat in results for x in trial_lat]
        rows.append(
            {
                "path": PATHS[mode],
                "phase": phase,
                "items": counts[phase] * len(results),
                "per_s": statistics.median(per_s for per_s, _ in results),
                "per_s_rounds": [round(per_s, 1) for per_s, _ in results],
                "dispatch_p50_ms": statistics.median(lat) if lat else None,
                "dispatch_p99_ms": percentile(lat, 0.99) if lat else None,
            }
        )
    phases = ["paced", "saturated", "drain"]
    rows.sort(key=lambda r: (list(PATHS.values()).index(r["path"]), phases.index(r["phase"])))
    print(f"\n{'path':<14} {'phase':<10} {'items':>6} {'items/s':>9} {'dispatch p50 ms':>16} {'p99 ms':>8}")
    for r in rows:
        p50, p99 = (
            f"{r[k]:.2f}" if r[k] is not None else "-" for k in ("dispatch_p50_ms", "dispatch_p99_ms")
        )
        print(f"{r['path']:<14} {r['phase']:<10} {r['items']:>6} {r['per_s']:>9,.0f} {p50:>16} {p99:>8}")
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer items")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--rate", type=float, default=100.0, help="items/s of the paced phase")
    parser.add_argument("--paths", default="stream,db,raw", help="a subset of stream,db,raw (a partial run)")
    parser.add_argument("--phases", default="paced,saturated,drain", help="a subset of paced,saturated,drain")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, --quick 1)")
    parser.add_argument("--items", type=int, help="items per saturated trial (default 2000, --quick 1000)")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="worker processes per path (default %(default)s)"
    )
    args = parser.parse_args(argv)
    paced, saturated, rounds = (300, 1000, 1) if args.quick else (600, 2000, 5)
    rounds = args.rounds or rounds
    saturated = args.items or saturated
    counts = {"paced": paced, "saturated": saturated, "drain": saturated}
    phases = [p for p in counts if p in args.phases.split(",")]
    partial = args.paths != "stream,db,raw" or len(phases) < len(counts) or args.workers != WORKERS

    with scratch_database(args.database_url, "m10_bench_stream") as (url, version):
        runs = run_rounds(url, args, rounds, counts, phases)

    rows = summarize(runs, counts)
    if partial:
        print("a partial run (--paths / --phases / --workers): no ratios, nothing written")
        return 0
    by = {(r["path"], r["phase"]): r for r in rows}
    ratios = {
        "stream_vs_db_saturated_throughput": by["stream", "saturated"]["per_s"]
        / by["db only", "saturated"]["per_s"],
        "stream_vs_db_drain_throughput": by["stream", "drain"]["per_s"] / by["db only", "drain"]["per_s"],
        "db_vs_stream_paced_dispatch_p50": by["db only", "paced"]["dispatch_p50_ms"]
        / by["stream", "paced"]["dispatch_p50_ms"],
        "stream_vs_raw_paced_dispatch_p50": by["stream", "paced"]["dispatch_p50_ms"]
        / by["raw redis-py", "paced"]["dispatch_p50_ms"],
    }
    targets = {
        "stream_dispatch_p50_under_5_ms": by["stream", "paced"]["dispatch_p50_ms"] < 5,
        "stream_throughput_at_least_db": ratios["stream_vs_db_saturated_throughput"] >= 1,
    }
    for k, v in ratios.items():
        print(f"- {k}: {v:.2f}")
    for k, ok in targets.items():
        print(f"- target {k}: {'met' if ok else 'MISSED'}")
    result = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/stream.py" + (" --quick" if args.quick else ""),
        "server_version": version,
        "settings": DURABLE,  # scratch_database refuses anything else
        "workers": args.workers,
        "producers_saturated": PRODUCERS,
        "batch": BATCH,
        "db_poll_interval_s": POLL,
        "paced_rate_per_s": args.rate,
        "rounds": rounds,
        "items_per_trial": counts,
        "rows": rows,
        "ratios": ratios,
        "targets": targets,
    }
    write_result("stream-quick" if args.quick else "stream", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
