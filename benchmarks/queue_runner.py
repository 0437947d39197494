"""Runs the trials of benchmarks/queue.py and reports them (the methodology is in queue.py)."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from queue_options import BATCH, MODES, PEER_KEYS, Mode, Options, Sizes
from queue_systems import (
    Barrier,
    Conn,
    QueueSystem,
    Timed,
    build_systems,
    init_worker,
    run_drain,
    run_enqueue,
    run_prefill,
)
from rich.console import Console
from rich.table import Table

from m10py.db import with_database

CONSUMERS = 2
IDLE_TIMEOUT = 30.0
TRIAL_TIMEOUT = 600.0
DURABILITY_SETTINGS = ("fsync", "synchronous_commit")
SERVER_SETTINGS = (
    "server_version",
    *DURABILITY_SETTINGS,
    "full_page_writes",
    "wal_sync_method",
    "autovacuum",
    "shared_buffers",
    "max_connections",
)

# Wide enough for the table when the output is a file or a pipe (rich would assume 80 columns).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)


# --- server and databases ------------------------------------------------------------------


def settings(conn: Conn, names: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name", (list(names),)
    ).fetchall()
    return {str(name): str(value) for name, value in rows}


def durability_problems(found: dict[str, str]) -> list[str]:
    return [f"{name} = {found[name]}" for name in DURABILITY_SETTINGS if found[name] == "off"]


def check_server(url: str, allow_unsafe: bool) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        found = settings(conn, SERVER_SETTINGS)
    console.print("server: " + ", ".join(f"{k}={v}" for k, v in found.items()))
    problems = durability_problems(found)
    if problems and not allow_unsafe:
        sys.exit(
            f"refusing to run: {', '.join(problems)} (pass --allow-unsafe-durability to "
            "run anyway; the results would not be comparable)"
        )
    if problems:
        console.print(f"[bold red]WARNING[/]: {', '.join(problems)}: results are not durable")
    return found


@dataclass
class SystemDb:
    """One system's own database, with an autocommit admin connection for resets and stats."""

    system: QueueSystem
    name: str
    url: str
    conn: Conn
    force_flush: bool = field(init=False)

    def __post_init__(self) -> None:
        row = self.conn.execute("SELECT to_regproc('pg_stat_force_next_flush') IS NOT NULL").fetchone()
        self.force_flush = bool(row and row[0])

    def tables(self) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in self.system.tables)

    def reset(self) -> None:
        self.conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(self.tables()))

    def settle(self, filled: bool) -> None:
        """Same starting line for every system: checkpointed, no other session; a filled queue
        vacuumed and analysed. An empty one is left unanalysed, as after installing: statistics
        of an empty table would mislead the plans cached while an enqueue trial fills it."""
        if filled:
            self.conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(self.tables()))
        self.conn.execute("CHECKPOINT")
        self.wait_idle()

    def wait_idle(self) -> None:
        """Wait until no other session is connected: a backend flushes its statistics on exit."""
        deadline = time.monotonic() + IDLE_TIMEOUT
        while self.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"sessions still connected to {self.name}")
            time.sleep(0.01)

    def table_stats(self) -> dict[str, tuple[int, int]]:
        """Per queue table: (n_dead_tup, n_tup_upd + n_tup_del), with this session's flushed."""
        if self.force_flush:
            self.conn.execute("SELECT pg_stat_force_next_flush()")
        else:
            time.sleep(1.5)  # before PostgreSQL 15 the collector lags by up to ~1 s
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = self.conn.execute(
            "SELECT schemaname || '.' || relname, n_dead_tup, n_tup_upd + n_tup_del"
            "  FROM pg_stat_user_tables WHERE relid = ANY(%s::regclass[])",
            (list(self.system.tables),),
        ).fetchall()
        return {name: (int(dead), int(churn)) for name, dead, churn in rows}

    def scalar(self, query: str) -> int:
        row = self.conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def unlogged_tables(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c"
            " WHERE c.oid = ANY(%s::regclass[]) AND c.relpersistence <> 'p'",
            (list(self.system.tables),),
        ).fetchall()
        return [r[0] for r in rows]


def create_database(admin: Conn, name: str) -> None:
    ident = sql.Identifier(name)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))


def open_system_db(admin: Conn, system: QueueSystem, options: Options) -> SystemDb:
    name = f"{options.db_prefix}{system.key}"
    create_database(admin, name)
    url = with_database(options.database_url, name)
    system.install(url)
    db = SystemDb(system, name, url, psycopg.connect(url, autocommit=True))
    problems = durability_problems(settings(db.conn, DURABILITY_SETTINGS))
    unlogged = db.unlogged_tables()
    if unlogged:
        problems.append(f"unlogged tables {unlogged}")
    if problems and not options.allow_unsafe_durability:
        sys.exit(f"refusing to run: in {name}: {', '.join(problems)}")
    return db


@contextmanager
def bench_databases(systems: list[QueueSystem], options: Options) -> Iterator[list[SystemDb]]:
    with psycopg.connect(options.database_url, autocommit=True) as admin, ExitStack() as stack:
        dbs: list[SystemDb] = []
        try:
            for system in systems:
                console.print(f"installing {system.label} in {options.db_prefix}{system.key}")
                dbs.append(open_system_db(admin, system, options))
                stack.callback(dbs[-1].conn.close)
            yield dbs
        finally:
            stack.close()
            if not options.keep_databases:
                for system in systems:
                    name = sql.Identifier(f"{options.db_prefix}{system.key}")
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@contextmanager
def worker_pool() -> Iterator[tuple[ProcessPoolExecutor, Barrier]]:
    """Processes, not threads (the GIL); spawned clean; kept for the whole run."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(CONSUMERS)
    with ProcessPoolExecutor(
        max_workers=CONSUMERS, mp_context=ctx, initializer=init_worker, initargs=(barrier,)
    ) as pool:
        yield pool, barrier


# --- trials --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One system running one mode once."""

    system: str
    mode: str
    round: int
    jobs: int  # done while timed
    warmup_jobs: int  # done before timing started, in the same trial
    seconds: float
    latencies: list[float]
    dead_tuples: dict[str, int]
    churn: int  # row versions made dead in the queue tables during the trial: updates + deletes

    @property
    def churn_per_job(self) -> float:
        return self.churn / (self.jobs + self.warmup_jobs)

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds


def timed_span(parts: list[Timed]) -> tuple[int, float, list[float]]:
    jobs = sum(p.items for p in parts)
    seconds = max(p.finished for p in parts) - min(p.started for p in parts)
    return jobs, seconds, [lat for p in parts for lat in p.latencies]


def execute_mode(pool: ProcessPoolExecutor, db: SystemDb, mode: Mode, count: int) -> list[Timed]:
    if mode.kind == "enqueue":
        job = pool.submit(run_enqueue, db.system, db.url, mode.batch, count, mode.warmup)
        return [job.result(TRIAL_TIMEOUT)]
    futures: list[Future[Timed]] = [
        pool.submit(run_drain, db.system, db.url, mode.batch, mode.warmup, worker)
        for worker in range(CONSUMERS)
    ]
    return [f.result(TRIAL_TIMEOUT) for f in futures]


def prefill_size(mode: Mode, count: int) -> int:
    return count + CONSUMERS * mode.warmup * mode.batch if mode.kind == "drain" else 0


def verify(db: SystemDb, mode: Mode, parts: list[Timed], prefilled: int) -> None:
    done = sum(p.items + p.warmup_items for p in parts)
    if mode.kind == "enqueue":
        stored = db.scalar(db.system.count_sql)
        if stored != done:
            raise AssertionError(f"{db.system.key}: enqueued {done} but the queue holds {stored}")
        return
    unfinished = db.scalar(db.system.unfinished_sql)
    if done != prefilled or unfinished:
        raise AssertionError(f"{db.system.key}: drained {done} of {prefilled}, {unfinished} left unfinished")


def run_trial(pool: ProcessPoolExecutor, db: SystemDb, mode: Mode, sizes: Sizes, round_no: int) -> Trial:
    count = sizes.count(mode)
    db.reset()
    prefilled = prefill_size(mode, count)
    if prefilled:
        pool.submit(run_prefill, db.system, db.url, prefilled).result(TRIAL_TIMEOUT)
    db.settle(filled=prefilled > 0)
    before = db.table_stats()
    parts = execute_mode(pool, db, mode, count)
    db.wait_idle()
    after = db.table_stats()
    verify(db, mode, parts, prefilled)
    jobs, seconds, latencies = timed_span(parts)
    churn = sum(after[t][1] - before.get(t, (0, 0))[1] for t in after)
    warmup_jobs = sum(p.warmup_items for p in parts)
    return Trial(
        db.system.key,
        mode.key,
        round_no,
        jobs,
        warmup_jobs,
        seconds,
        latencies,
        {t: after[t][0] for t in after},
        churn,
    )


def trial_order(dbs: list[SystemDb], round_no: int, mode_no: int) -> list[SystemDb]:
    """Rotate, and reverse every other round, so that no system always runs first or last."""
    shift = (round_no + mode_no) % len(dbs)
    order = dbs[shift:] + dbs[:shift]
    return order[::-1] if round_no % 2 else order


def skip_reason(system: QueueSystem, mode: Mode) -> str | None:
    if mode.kind == "drain" and system.max_claim is not None and mode.batch > system.max_claim:
        return system.claim_note
    if mode.kind == "enqueue" and system.drain_only:
        return system.drain_only
    return None


@dataclass
class Outcome:
    trials: list[Trial] = field(default_factory=list)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)


def run_rounds(pool: ProcessPoolExecutor, barrier: Barrier, dbs: list[SystemDb], sizes: Sizes) -> Outcome:
    outcome = Outcome()
    for round_no in range(sizes.rounds):
        for mode_no, mode in enumerate(MODES):
            for db in trial_order(dbs, round_no, mode_no):
                key = (db.system.key, mode.key)
                reason = outcome.notes.get(key) or skip_reason(db.system, mode)
                if reason:
                    outcome.notes[key] = reason
                    continue
                try:
                    trial = run_trial(pool, db, mode, sizes, round_no)
                except Exception as exc:  # one failing peer must not sink the whole comparison
                    outcome.notes[key] = f"error: {type(exc).__name__}: {exc}"
                    console.print(f"[red]{db.system.label} {mode.label}: {exc}[/]")
                    barrier.reset()
                    continue
                outcome.trials.append(trial)
                progress(sizes, db.system, mode, trial)
    return outcome


def progress(sizes: Sizes, system: QueueSystem, mode: Mode, trial: Trial) -> None:
    console.print(
        f"  round {trial.round + 1}/{sizes.rounds}  {mode.label:<17} "
        f"{system.label:<16} {trial.jobs_per_s:>10,.0f} jobs/s  "
        f"p50 {percentile(trial.latencies, 0.5) * 1e3:.2f} ms"
    )


# --- results -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Row:
    system: str
    label: str
    mode: str
    jobs_per_s: float | None = None  # median over rounds
    jobs_per_s_rounds: list[float] = field(default_factory=list)
    p50_ms: float | None = None  # over every latency sample of every round
    p99_ms: float | None = None
    samples: int = 0
    dead_tuples: int | None = None  # n_dead_tup of the queue tables after the run (median)
    dead_tuples_by_table: dict[str, int] = field(default_factory=dict)  # of the last round
    churn_per_job: float | None = None  # row versions made dead (updates + deletes) per job
    note: str = ""


def make_row(system: QueueSystem, mode: Mode, trials: list[Trial], note: str) -> Row:
    if not trials:
        return Row(system.key, system.label, mode.key, note=note or "not run")
    latencies = [lat for t in trials for lat in t.latencies]
    return Row(
        system=system.key,
        label=system.label,
        mode=mode.key,
        jobs_per_s=statistics.median(t.jobs_per_s for t in trials),
        jobs_per_s_rounds=[round(t.jobs_per_s, 1) for t in trials],
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        samples=len(latencies),
        dead_tuples=round(statistics.median(sum(t.dead_tuples.values()) for t in trials)),
        dead_tuples_by_table=trials[-1].dead_tuples,
        churn_per_job=statistics.median(t.churn_per_job for t in trials),
        note=note,
    )


def aggregate(systems: list[QueueSystem], outcome: Outcome) -> list[Row]:
    return [
        make_row(
            system,
            mode,
            [t for t in outcome.trials if (t.system, t.mode) == (system.key, mode.key)],
            outcome.notes.get((system.key, mode.key), ""),
        )
        for mode in MODES
        for system in systems
    ]


@dataclass(frozen=True)
class Target:
    name: str
    mode: str
    versus: Literal["best peer", "raw"]
    goal: float


TARGETS = (
    Target("a", "drain_1", "best peer", 1.8),
    Target("b", f"drain_{BATCH}", "raw", 1.2),
    Target("c", f"enqueue_{BATCH}", "best peer", 1.0),
)


@dataclass(frozen=True)
class Ratio:
    name: str
    description: str
    goal: float
    value: float | None
    versus: str | None
    verdict: Literal["PASS", "MISS", "n/a"]


def throughput(rows: list[Row], system: str, mode: str) -> float | None:
    return next((r.jobs_per_s for r in rows if (r.system, r.mode) == (system, mode)), None)


def compare(rows: list[Row], target: Target, subject: str) -> Ratio:
    mode_label = next(m.label for m in MODES if m.key == target.mode)
    subject_label = next((r.label for r in rows if r.system == subject), subject)
    ours = throughput(rows, subject, target.mode)
    keys = PEER_KEYS if target.versus == "best peer" else ("raw",)
    theirs = [
        (r.jobs_per_s, r.label) for r in rows if r.system in keys and r.mode == target.mode and r.jobs_per_s
    ]
    name = target.name if subject == "m10py" else f"{target.name}, {subject_label}"
    description = f"{subject_label} {mode_label} / {target.versus} {mode_label}"
    if not ours or not theirs:
        return Ratio(name, description, target.goal, None, None, "n/a")
    best, best_label = max(theirs)
    value = ours / best
    return Ratio(
        name, description, target.goal, value, best_label, "PASS" if value >= target.goal else "MISS"
    )


def all_ratios(rows: list[Row]) -> list[Ratio]:
    """The targets for the repository's m10py, its drain without claim-ahead, then an overlay candidate."""
    subjects = [s for s in ("m10py", "m10py_loop", "m10py_overlay") if any(r.system == s for r in rows)]
    return [compare(rows, target, subject) for subject in subjects for target in TARGETS]


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def results_table(rows: list[Row]) -> tuple[Table, list[str]]:
    """The table, and the notes that its rows refer to by number."""
    table = Table(title="Work queue: throughput, latency per operation, dead tuples after the run")
    for heading in ("mode", "system", "jobs/s", "p50 ms", "p99 ms", "n_dead_tup", "dead rows/job"):
        table.add_column(heading, justify="left" if heading in ("mode", "system") else "right")
    labels = {m.key: m.label for m in MODES}
    notes: list[str] = []
    for i, row in enumerate(rows):
        jobs_per_s = fmt(row.jobs_per_s, ",.0f")
        if row.note:
            notes.append(row.note)
            jobs_per_s = f"[{len(notes)}] {jobs_per_s}"
        last_of_mode = i == len(rows) - 1 or rows[i + 1].mode != row.mode
        table.add_row(
            labels[row.mode],
            row.label,
            jobs_per_s,
            fmt(row.p50_ms, ".2f"),
            fmt(row.p99_ms, ".2f"),
            fmt(row.dead_tuples, ","),
            fmt(row.churn_per_job, ".2f"),
            end_section=last_of_mode,
        )
    return table, notes


def print_results(rows: list[Row], ratios: list[Ratio]) -> None:
    table, notes = results_table(rows)
    console.print(table)
    for number, note in enumerate(notes, 1):
        console.print(f"[{number}] {note}")
    console.print("jobs/s: median over rounds of items (jobs) per second of the timed phase.")
    for mode in MODES:
        console.print(f"latency, {mode.label}: {mode.latency}")
    console.print(
        "n_dead_tup: pg_stat_user_tables.n_dead_tup summed over the system's queue "
        "tables after the trial; dead rows/job: their n_tup_upd + n_tup_del during the "
        "trial per job (warm-up included), whether or not vacuum or pruning removed them."
    )
    for ratio in ratios:
        style = {"PASS": "green", "MISS": "red", "n/a": "yellow"}[ratio.verdict]
        versus = f" (vs {ratio.versus})" if ratio.versus else ""
        console.print(
            f"({ratio.name}) {ratio.description} = {fmt(ratio.value, '.2f')}{versus}"
            f"; target >= {ratio.goal}: [{style}]{ratio.verdict}[/]"
        )


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def report(
    options: Options,
    server: dict[str, str],
    systems: list[QueueSystem],
    rows: list[Row],
    ratios: list[Ratio],
    load_at_start: list[float],
) -> dict[str, Any]:
    versions: dict[str, str] = {"python": platform.python_version()}
    for system in systems:
        versions.update(system.versions())
    return {
        "benchmark": "work queue",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "benchmarks/queue.py", *sys.argv[1:]]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": load_average(),
        },
        "server": server,
        "allow_unsafe_durability": options.allow_unsafe_durability,
        "versions": versions,
        "sizes": asdict(options.sizes),
        "consumers": CONSUMERS,
        "modes": {m.key: {"kind": m.kind, "batch": m.batch, "latency": m.latency} for m in MODES},
        "results": [asdict(r) for r in rows],
        "ratios": [asdict(r) for r in ratios],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    console.print(f"wrote {path}")


def main(options: Options) -> int:
    started = time.monotonic()
    load_at_start = load_average()
    console.print(
        f"machine: {os.cpu_count()} CPUs, load average {load_at_start} (other work on "
        "the machine skews absolute numbers; compare within this run)"
    )
    server = check_server(options.database_url, options.allow_unsafe_durability)
    for path in options.m10_overlay:
        console.print(f"[yellow]also running m10py + overlay {path}[/] (not the repository's SQL)")
    systems = build_systems(options.systems, options.pgmq_finish, options.m10_overlay)
    with bench_databases(systems, options) as dbs, worker_pool() as (pool, barrier):
        outcome = run_rounds(pool, barrier, dbs, options.sizes)
    rows = aggregate(systems, outcome)
    ratios = all_ratios(rows)
    print_results(rows, ratios)
    write_json(options.output, report(options, server, systems, rows, ratios, load_at_start))
    console.print(f"total {time.monotonic() - started:.0f} s")
    return 0
