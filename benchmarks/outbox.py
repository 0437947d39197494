"""Benchmark of the transactional outbox: publish overhead inside a transaction, and delivery rate.

One command::

    python benchmarks/outbox.py            # about a minute
    python benchmarks/outbox.py --quick    # about 15 seconds

It creates a database of its own (``--database-url``, else ``$DATABASE_URL``, else the local
default), migrates it and drops it at the end. In one run:

* **Publish overhead.** One transaction per call, one connection, autocommit off: ``business`` inserts
  one row into a table of its own; ``+ plain INSERT`` also inserts the event into a table shaped like
  ``m10_recovery.outbox`` (``LIKE ... INCLUDING ALL``: same columns, defaults, identity and indexes);
  ``+ publish_outbox`` publishes the event through ``m10_recovery.publish_outbox`` instead (argument
  checks, then the same insert). The three alternate within every round.
* **Delivery.** N events are published, then one in-process ``OutboxProcessor`` (batch 100,
  concurrency 8) delivers them as webhooks to a loopback receiver in another process that answers
  200 and counts distinct webhook-ids. Baseline: the same N bodies POSTed by the same webhook
  handler with the same concurrency and no database at all.

Durability: refuses to run unless fsync and synchronous_commit are on. Results: a table on stdout and
``benchmarks/results/outbox.json`` (``outbox-quick.json`` with ``--quick``).
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
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
from scratch_db import DURABLE, scratch_database, write_result  # noqa: E402

from m10py.client import M10Client  # noqa: E402
from m10py.db import create_pool  # noqa: E402
from m10py.models import OutboxEvent  # noqa: E402
from m10py.outbox import HandlerRegistry, OutboxProcessor  # noqa: E402
from m10py.outbox_handlers import WebhookHandler  # noqa: E402

PAYLOAD = json.dumps({"candidate_id": 42, "error_code": "TIMEOUT", "note": "x" * 200})
TXN = {
    "business": ["INSERT INTO bench_orders (payload) VALUES (%(p)s::jsonb)"],
    "+ plain INSERT": [
        "INSERT INTO bench_orders (payload) VALUES (%(p)s::jsonb)",
        "INSERT INTO bench_events (event_type, payload, aggregate_type, aggregate_id)"
        " VALUES ('recovery.bench', %(p)s::jsonb, 'order', '1')",
    ],
    "+ publish_outbox": [
        "INSERT INTO bench_orders (payload) VALUES (%(p)s::jsonb)",
        "SELECT m10_recovery.publish_outbox('recovery.bench', %(p)s::jsonb, 'order', '1')",
    ],
}


def serve(port_out: Any, stop: Any, count_out: Any) -> None:
    """The receiver process: 200 for every POST, counting distinct webhook-ids."""
    from tests.py.webhook_receiver import Receiver

    with Receiver() as receiver:
        port_out.put(receiver.server.server_address[1])
        stop.wait()
        count_out.put((len(receiver.ledger.applied), sum(receiver.ledger.deliveries.values())))


def publish_trial(conn: psycopg.Connection[Any], mode: str, calls: int) -> tuple[float, list[float]]:
    statements = TXN[mode]
    samples = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        with conn.transaction():
            for stmt in statements:
                conn.execute(stmt, {"p": PAYLOAD}, prepare=True)
        samples.append(time.perf_counter() - t0)
    return calls / (time.perf_counter() - start), samples


def publish_overhead(url: str, calls: int, rounds: int) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb)"
        )
        conn.execute("CREATE TABLE bench_events (LIKE m10_recovery.outbox INCLUDING ALL)")
        per_s: dict[str, list[float]] = {m: [] for m in TXN}
        samples: dict[str, list[float]] = {m: [] for m in TXN}
        for r in range(rounds):
            order = list(TXN) if r % 2 == 0 else list(reversed(TXN))
            for mode in order:
                publish_trial(conn, mode, calls // 10)  # warm-up
                rate, lat = publish_trial(conn, mode, calls)
                per_s[mode].append(rate)
                samples[mode].extend(lat)
    return [
        {
            "mode": "transaction",
            "system": mode,
            "per_s": statistics.median(per_s[mode]),
            "p50_ms": statistics.median(samples[mode]) * 1000,
            "p99_ms": statistics.quantiles(samples[mode], n=100)[98] * 1000,
        }
        for mode in TXN
    ]


def delivery(url: str, events: int) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    port_q, count_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(port_q, stop, count_q))
    proc.start()
    hook = f"http://127.0.0.1:{port_q.get(timeout=30)}/hook"
    pool = create_pool(url, min_size=1, max_size=4)
    try:
        client = M10Client(pool)
        with pool.connection() as conn, conn.transaction():
            conn.execute("TRUNCATE m10_recovery.outbox")  # the publish phase's events are not for delivery
            conn.execute(
                "SELECT m10_recovery.publish_outbox('webhook.bench',"
                " jsonb_build_object('n', n, 'note', %s::text)) FROM generate_series(1, %s) n",
                ("x" * 200, events),
            )
        handler = WebhookHandler(hook, secret="bench-secret", timeout=10)
        registry = HandlerRegistry()
        registry.register("webhook.", handler)
        processor = OutboxProcessor(client, registry, batch_size=100, concurrency=8, lease_seconds=120)
        start = time.perf_counter()
        stats = processor.run(threading.Event(), once=True)
        outbox_s = time.perf_counter() - start

        now = dt.datetime.now(dt.UTC)
        fakes = [
            OutboxEvent(
                0, uuid.uuid4(), "webhook.bench", None, None, {"n": n, "note": "x" * 200}, 0, now, now
            )
            for n in range(events)
        ]
        raw = WebhookHandler(hook, secret="bench-secret", timeout=10)
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as threads:
            outcomes = list(threads.map(raw, fakes))
        raw_s = time.perf_counter() - start
    finally:
        pool.close()
        stop.set()
        distinct, total = count_q.get(timeout=30)
        proc.join(30)
    assert stats.delivered == events, stats
    assert all(o.kind == "delivered" for o in outcomes)
    assert distinct == 2 * events and total == 2 * events, (distinct, total)
    return [
        {
            "mode": "delivery",
            "system": "outbox processor -> webhook",
            "per_s": events / outbox_s,
            "seconds": outbox_s,
        },
        {"mode": "delivery", "system": "raw POSTs (no database)", "per_s": events / raw_s, "seconds": raw_s},
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and events")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args(argv)
    calls, rounds, events = (1000, 2, 2000) if args.quick else (3000, 5, 10000)

    with scratch_database(args.database_url, "m10_bench_outbox") as (url, version):
        rows = publish_overhead(url, calls, rounds) + delivery(url, events)

    by = {r["system"]: r for r in rows}
    plain, publish, business = by["+ plain INSERT"], by["+ publish_outbox"], by["business"]
    ratios = {
        "publish_vs_plain_insert_throughput": publish["per_s"] / plain["per_s"],
        "publish_overhead_us_per_txn_vs_plain_insert": (publish["p50_ms"] - plain["p50_ms"]) * 1000,
        "event_cost_us_per_txn_plain_insert": (plain["p50_ms"] - business["p50_ms"]) * 1000,
        "outbox_delivery_vs_raw_posts": by["outbox processor -> webhook"]["per_s"]
        / by["raw POSTs (no database)"]["per_s"],
    }
    print(f"\n{'mode':<12} {'system':<30} {'per s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        p50 = f"{r['p50_ms']:.3f}" if "p50_ms" in r else ""
        p99 = f"{r['p99_ms']:.3f}" if "p99_ms" in r else ""
        print(f"{r['mode']:<12} {r['system']:<30} {r['per_s']:>10,.0f} {p50:>8} {p99:>8}")
    for k, v in ratios.items():
        print(f"- {k}: {v:.2f}")
    result = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/outbox.py" + (" --quick" if args.quick else ""),
        "server_version": version,
        "settings": DURABLE,  # scratch_database refuses anything else
        "calls_per_trial": calls,
        "rounds": rounds,
        "events": events,
        "rows": rows,
        "ratios": ratios,
    }
    write_result("outbox-quick" if args.quick else "outbox", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
