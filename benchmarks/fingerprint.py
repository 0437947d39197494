"""Grouping accuracy and cost of m10py's failure fingerprint on Loghub-2k.

One command::

    python benchmarks/fingerprint.py [--database-url URL] [--datasets DIR] [--repetitions N]

It creates a scratch database on the server (``--database-url``, else ``$DATABASE_URL``, else
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it with ``m10py.schema.migrate`` (so
the functions measured are the repository's ``sql/``), loads every ``*.csv`` of the datasets folder
(default ``../shared/datasets/loghub-2k`` beside the repository; read its README), and drops the
database at the end.

Grouping accuracy (GA), as the datasets' README defines it (Zhu et al., ICSE-SEIP 2019), of the
signature ingest gives (v3, the learned template): each dataset's 2,000 messages are reported in file
order through ``m10_recovery.ingest_failure`` (payload ``{"message": Content}``, a new
failure_match_id each) into a fresh template store (the store is emptied between datasets), and the
``error_signature`` each call returned is the message's group. A message is correctly grouped when the
set of messages sharing its signature is exactly the set sharing its ``EventId``; GA = correctly
grouped messages / messages. The table shows GA per dataset beside Drain's figure from the same
paper's benchmark, and v2 (``error_signature``, the regex normaliser alone) for comparison.

Cost: ``SELECT count(DISTINCT f(content)) FROM messages`` over all messages of all datasets, timed
from the client, ``--repetitions`` times (median), for f = normalize_message (the plain normaliser,
v2's first stage), error_signature (v2) and learn_template (v3, what ingest_failure calls) on the
store learned from all datasets (a message matches a template: the steady state), and learn_template
from an empty store (every create and merge written and logged: the cold start). The same query over
``content`` itself is the baseline subtracted, so the figure is the cost of the function per message,
in microseconds. Parallel query is off, so it is the cost on one core. The machine may be shared:
compare figures from one run.

Results: a table on stdout and ``benchmarks/results/fingerprint.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
# benchmarks/queue.py shares its name with the standard library's queue module, which psycopg_pool
# (imported by m10py) needs: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from m10py import schema  # noqa: E402
from m10py.db import with_database  # noqa: E402

PROJECT = BENCH_DIR.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATASETS = PROJECT.parent / "shared" / "datasets" / "loghub-2k"
RESULTS = BENCH_DIR / "results" / "fingerprint.json"

# Drain's GA on Loghub-2k, from the datasets' README (Zhu et al., ICSE-SEIP 2019).
DRAIN_GA: dict[str, float] = {
    "HDFS": 0.9975,
    "Spark": 0.9200,
    "BGL": 0.9625,
    "Thunderbird": 0.9550,
    "Linux": 0.6900,
    "HealthApp": 0.7800,
    "OpenStack": 0.7325,
    "Proxifier": 0.5265,
}


@dataclass(frozen=True)
class Options:
    database_url: str
    datasets: Path
    repetitions: int
    output: Path


@dataclass(frozen=True)
class Message:
    content: str
    event_id: str


@dataclass(frozen=True)
class DatasetResult:
    dataset: str
    messages: int
    events: int
    signatures: int
    ga: float
    drain_ga: float | None
    v2_ga: float


@dataclass(frozen=True)
class Cost:
    function: str
    us_per_message: float
    median_seconds: float
    samples_seconds: list[float]


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/fingerprint.py",
        description="Grouping accuracy (per Loghub-2k dataset, beside Drain) and cost of the fingerprint.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_URL,
        help="server to create the scratch database on (default: $DATABASE_URL, else %(default)s)",
    )
    parser.add_argument(
        "--datasets",
        type=Path,
        default=DEFAULT_DATASETS,
        help="folder of the Loghub-2k CSV files (default: ../shared/datasets/loghub-2k beside the repo)",
    )
    parser.add_argument("--repetitions", type=int, default=7, help="timed runs per function (default: 7)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    return Options(args.database_url, args.datasets, args.repetitions, args.output)


def load_datasets(folder: Path) -> dict[str, list[Message]]:
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise SystemExit(f"no *.csv in {folder}: pass --datasets DIR (the loghub-2k folder)")
    datasets: dict[str, list[Message]] = {}
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        missing = {"Content", "EventId"} - set(rows[0] if rows else {})
        if missing:
            raise SystemExit(f"{path}: missing column(s) {sorted(missing)}")
        datasets[path.stem] = [Message(r["Content"], r["EventId"]) for r in rows]
    return datasets


def grouping_accuracy(signatures: Sequence[str], events: Sequence[str]) -> float:
    """GA: the share of messages whose signature group is exactly their event group."""
    if len(signatures) != len(events):
        raise ValueError("one signature per message")
    if not events:
        return 0.0
    by_signature: dict[str, list[int]] = defaultdict(list)
    for i, signature in enumerate(signatures):
        by_signature[signature].append(i)
    event_sizes = Counter(events)
    correct = 0
    for members in by_signature.values():
        event_ids = {events[i] for i in members}
        if len(event_ids) == 1 and event_sizes[next(iter(event_ids))] == len(members):
            correct += len(members)
    return correct / len(events)


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    name = f"m10_fingerprint_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load_messages(conn: psycopg.Connection[Any], datasets: dict[str, list[Message]]) -> None:
    conn.execute(
        "CREATE TABLE messages (dataset text NOT NULL, line integer NOT NULL, content text NOT NULL,"
        " event_id text NOT NULL, PRIMARY KEY (dataset, line))"
    )
    with conn.cursor().copy("COPY messages (dataset, line, content, event_id) FROM STDIN") as copy:
        for name, messages in datasets.items():
            for line, message in enumerate(messages):
                copy.write_row((name, line, message.content, message.event_id))
    conn.execute("ANALYZE messages")


def v2_signatures_of(conn: psycopg.Connection[Any], dataset: str) -> list[str]:
    rows = conn.execute(
        "SELECT m10_recovery.error_signature('', content) FROM messages WHERE dataset = %s ORDER BY line",
        (dataset,),
    ).fetchall()
    return [r[0] for r in rows]


_EMPTY_STORE = (
    "TRUNCATE m10_recovery.recovery_candidates, m10_recovery.template_merges, m10_recovery.message_templates"
    " RESTART IDENTITY CASCADE"
)
_INGEST = (
    "SELECT error_signature FROM m10_recovery.ingest_failure(%s, jsonb_build_object('message', %s::text))"
)


def ingested_signatures(conn: psycopg.Connection[Any], messages: Sequence[Message]) -> list[str]:
    """Report the messages in file order into an empty store, one ingest_failure each (one
    transaction per dataset, so the run does not wait on 2,000 commits); their returned signatures."""
    conn.execute(_EMPTY_STORE)
    signatures = []
    with conn.transaction():
        for message in messages:
            row = conn.execute(_INGEST, (uuid.uuid4(), message.content)).fetchone()
            assert row is not None
            signatures.append(str(row[0]))
    return signatures


def evaluate(conn: psycopg.Connection[Any], datasets: dict[str, list[Message]]) -> list[DatasetResult]:
    results = []
    for name, messages in datasets.items():
        signatures = ingested_signatures(conn, messages)
        events = [m.event_id for m in messages]
        results.append(
            DatasetResult(
                dataset=name,
                messages=len(messages),
                events=len(set(events)),
                signatures=len(set(signatures)),
                ga=grouping_accuracy(signatures, events),
                drain_ga=DRAIN_GA.get(name),
                v2_ga=grouping_accuracy(v2_signatures_of(conn, name), events),
            )
        )
    return results


_VERSION = "SELECT split_part(error_signature, ':', 1) FROM m10_recovery.learn_template('', '')"
_LEARN = (
    "SELECT count(DISTINCT (SELECT l.error_signature FROM m10_recovery.learn_template('', content) l))"
    " FROM messages"
)
_TIMED = {
    "baseline": "SELECT count(DISTINCT content) FROM messages",
    "normalize_message": "SELECT count(DISTINCT m10_recovery.normalize_message(content)) FROM messages",
    "error_signature": "SELECT count(DISTINCT m10_recovery.error_signature('', content)) FROM messages",
    "learn_template": _LEARN,
}


def time_query(
    conn: psycopg.Connection[Any], query: str, repetitions: int, before: str | None = None
) -> list[float]:
    """Client wall time of `query`, after a warm-up run (plans, regular expression cache, buffers);
    `before` runs untimed ahead of each run."""
    samples = []
    for n in range(repetitions + 1):
        if before:
            conn.execute(before)
        started = time.perf_counter()
        conn.execute(query).fetchone()
        if n:
            samples.append(time.perf_counter() - started)
    return samples


def measure_costs(conn: psycopg.Connection[Any], count: int, repetitions: int) -> list[Cost]:
    conn.execute("SET max_parallel_workers_per_gather = 0")
    samples = {
        "learn_template (cold: empty store)": time_query(conn, _LEARN, repetitions, before=_EMPTY_STORE)
    }
    conn.execute(_LEARN)  # the store of all datasets: from here on every message matches a template
    samples |= {name: time_query(conn, query, repetitions) for name, query in _TIMED.items()}
    baseline = statistics.median(samples["baseline"])
    costs = []
    for name, values in samples.items():
        median = statistics.median(values)
        net = median if name == "baseline" else median - baseline
        costs.append(Cost(name, round(net * 1e6 / count, 2), round(median, 6), [round(v, 6) for v in values]))
    return costs


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def print_table(results: list[DatasetResult], version: str) -> None:
    print(f"\nGrouping accuracy of the signature ingest_failure returns, algorithm {version}")
    header = f"{'dataset':<12} {'messages':>8} {'events':>6} {'signatures':>10} {'GA':>7} {'Drain':>7}"
    header += f" {'GA-Drain':>9} {'v2 GA':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        drain = f"{r.drain_ga:7.4f}" if r.drain_ga is not None else f"{'-':>7}"
        delta = f"{r.ga - r.drain_ga:+9.4f}" if r.drain_ga is not None else f"{'-':>9}"
        print(
            f"{r.dataset:<12} {r.messages:>8} {r.events:>6} {r.signatures:>10} {r.ga:7.4f} {drain} {delta}"
            f" {r.v2_ga:7.4f}"
        )
    print("-" * len(header))
    compared = [r for r in results if r.drain_ga is not None]
    ga_mean = mean([r.ga for r in compared])
    drain_mean = mean([r.drain_ga for r in compared if r.drain_ga is not None])
    blank = " " * 28
    v2_mean = mean([r.v2_ga for r in compared])
    delta = ga_mean - drain_mean
    print(f"{'mean':<12} {blank} {ga_mean:7.4f} {drain_mean:7.4f} {delta:+9.4f} {v2_mean:7.4f}")
    print(f"lowest GA: {min(results, key=lambda r: r.ga).dataset} {min(r.ga for r in results):.4f}")


def print_costs(costs: list[Cost], count: int, repetitions: int) -> None:
    print(f"\nCost per message over {count} messages, median of {repetitions} runs (baseline subtracted)")
    for c in costs:
        label = "baseline (scan + count distinct)" if c.function == "baseline" else c.function
        print(f"  {label:<36} {c.us_per_message:8.2f} us/message")


def report(
    options: Options, server: dict[str, str], version: str, results: list[DatasetResult], costs: list[Cost]
) -> dict[str, Any]:
    compared = [r for r in results if r.drain_ga is not None]
    return {
        "benchmark": "fingerprint grouping accuracy (Loghub-2k)",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "benchmarks/fingerprint.py", *sys.argv[1:]]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "server": server,
        "datasets_dir": str(options.datasets),
        "signature_version": version,
        "definition": "GA per the datasets' README: a message is correct when the set of messages sharing "
        "its signature equals the set sharing its EventId; signature = what ingest_failure returned for "
        "{'message': Content}, messages reported in file order into an empty template store per dataset",
        "results": [asdict(r) for r in results],
        "mean_ga": round(mean([r.ga for r in compared]), 4),
        "mean_drain_ga": round(mean([r.drain_ga for r in compared if r.drain_ga is not None]), 4),
        "mean_v2_ga": round(mean([r.v2_ga for r in compared]), 4),
        "min_ga": round(min(r.ga for r in results), 4),
        "cost": {
            "messages": sum(r.messages for r in results),
            "repetitions": options.repetitions,
            "method": "client wall time of SELECT count(DISTINCT f(content)) FROM messages, median, "
            "minus the same query over content; max_parallel_workers_per_gather = 0",
            "functions": [asdict(c) for c in costs],
        },
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"\nwrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    datasets = load_datasets(options.datasets)
    count = sum(len(m) for m in datasets.values())
    print(f"{len(datasets)} datasets, {count} messages from {options.datasets}")
    with scratch_database(options.database_url) as url:
        schema.migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
            server = {"server_version": row[0] if row else "unknown"}
            load_messages(conn, datasets)
            results = evaluate(conn, datasets)
            version_row = conn.execute(_VERSION).fetchone()
            version = version_row[0] if version_row else "unknown"
            costs = measure_costs(conn, count, options.repetitions)
    print_table(results, version)
    print_costs(costs, count, options.repetitions)
    write_json(options.output, report(options, server, version, results, costs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
