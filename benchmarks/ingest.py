"""Benchmark of m10py's ingest (ingest_failure, ingest_failures) against a plain upsert.

One command::

    python benchmarks/ingest.py            # full run, about 2 minutes
    python benchmarks/ingest.py --quick    # about 30 seconds

It runs in the project's environment (psycopg and m10py only). It creates a database of its own
on the server (``--database-url``, else ``$DATABASE_URL``, else the local default), migrates it
with ``m10py.schema.migrate`` and drops it at the end (``--keep-database`` keeps it).

Systems, in the same database and the same run:

* ``ingest``: ``m10_recovery.ingest_failure`` (one failure per call) and ``m10_recovery.ingest_failures``
  (one JSON array per call). Each call validates and normalises the payload, fingerprints the
  message (``error_signature`` + ``normalize_message``), upserts the candidate, writes a
  ``suggestion_input`` row and a provenance row and, for a new candidate, enqueues an evaluate item.
* ``upsert``: the floor. A table shaped like ``recovery_candidates`` (``CREATE TABLE ... (LIKE ...
  INCLUDING ALL)``: same columns, defaults and indexes, the unique index on the identity included)
  and ``INSERT ... ON CONFLICT (failure_match_id, error_signature) DO UPDATE SET occurrence_count =
  occurrence_count + 1``, with the fingerprint computed by the client (sha256, no normalisation)
  and nothing else written. The batch form is one ``INSERT ... SELECT FROM unnest(...)`` statement.

Modes (one connection, one call per transaction, prepared statements, autocommit):

* ``single new``: every call reports a new identity (the 'accepted' path: insert + enqueue).
* ``single repeat``: calls cycle over 20 identities reported before (the 'duplicate' path).
* ``single keyed``: as ``single new`` with a fresh idempotency key per call (ingest only).
* ``batch 100``: 100 new identities per call.

A latency sample is one call (round trip and commit). failures/s is the failures of a trial
divided by the trial's wall time; a row shows the median over rounds and percentiles over every
sample. The systems alternate within every round, in an order that flips each round, so that load
from other processes on a shared machine falls on both. Compare the ratios of one run, not absolute
numbers across runs.

Stages: where a single new ingest's server time goes, measured inside the server (a loop of calls
in one transaction, rolled back; no round trip, no commit), per call, median over rounds: the payload
check, the message template, its tokens, the template lookup, the four writes besides the candidate
(evaluate item, outbox event, input and provenance rows), the whole ``ingest_failure``, and the
baseline's upsert statement (the candidate's write). The round trip and commit are the single-mode
latencies above.

Targets checked: single new ingest >= 0.7 x the plain upsert; batch 100 ingest > 5000 failures/s.

The server must have ``fsync`` and ``synchronous_commit`` on and the tables must be logged, or the
benchmark refuses to run (``--allow-unsafe-durability`` overrides). Results: a table on stdout and
``benchmarks/results/ingest.json`` (``ingest-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
# benchmarks/queue.py would shadow the standard library's queue module (psycopg imports it): drop
# this folder from the path, and put the checkout on it so m10py imports without an install.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

import argparse  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from m10py import schema  # noqa: E402
from m10py.db import with_database  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 100
REPEAT_IDENTITIES = 20
SINGLE_TARGET_RATIO = 0.7
BATCH_TARGET_PER_S = 5000.0
STAGE_CALLS = 500  # calls per stage loop

Conn = psycopg.Connection[Any]

BASELINE_DDL = """
CREATE TABLE bench_upsert (LIKE m10_recovery.recovery_candidates INCLUDING ALL)
"""

UPSERT_ONE = """
INSERT INTO bench_upsert AS b (failure_match_id, error_signature, signature_version, error_code,
                               message_template, error_message, source, skill, tenant)
VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s)
ON CONFLICT (failure_match_id, error_signature) DO UPDATE
   SET occurrence_count = b.occurrence_count + 1, last_seen_at = now(), updated_at = now()
RETURNING b.id, b.occurrence_count
"""

UPSERT_MANY = """
INSERT INTO bench_upsert AS b (failure_match_id, error_signature, signature_version, error_code,
                               message_template, error_message, source, skill, tenant)
SELECT t.f, t.s, 1, t.c, t.m, t.m, %s, t.k, t.t
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS t(f, s, c, m, k, t)
ON CONFLICT (failure_match_id, error_signature) DO UPDATE
   SET occurrence_count = b.occurrence_count + 1, last_seen_at = now(), updated_at = now()
RETURNING b.id, b.occurrence_count
"""

INGEST_ONE = """
SELECT candidate_id, status, is_duplicate, occurrence_count, error_signature, work_id
  FROM m10_recovery.ingest_failure(p_failure_match_id => %s, p_failure_payload => %s, p_source => %s,
                                   p_idempotency_key => %s)
"""

INGEST_MANY = """
SELECT ordinal, candidate_id, status, is_duplicate, occurrence_count, error_signature, work_id
  FROM m10_recovery.ingest_failures(p_failures => %s, p_source => %s)
"""

SOURCE = "bench"
CODES = ("TIMEOUT", "RATE_LIMITED", "HTTP_503", "CONNECTION_RESET", "PARSE_ERROR")


@dataclass(frozen=True)
class Failure:
    failure_match_id: uuid.UUID
    payload: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.payload["error_type"])

    @property
    def message(self) -> str:
        return str(self.payload["raw"])

    @property
    def signature(self) -> str:
        digest = hashlib.sha256(f"{self.code}\x1f{self.message}".encode()).hexdigest()
        return f"v1:{digest[:32]}"


def make_failure(n: int, failure_match_id: uuid.UUID | None = None) -> Failure:
    """A realistic agent failure: a code, a message with variable parts, skill, tenant, meta."""
    code = CODES[n % len(CODES)]
    message = (
        f"Request to https://api.example.com/v1/items/{n} failed with {code} after {n % 60}s "
        f"(request id {uuid.uuid4()}, worker-{n % 8})"
    )
    payload = {
        "error_type": code,
        "raw": message,
        "skill": f"skill_{n % 10}",
        "tenant": f"tenant_{n % 3}",
        "meta": {"attempt": n % 5, "host": f"worker-{n % 8}", "tags": ["bench", "ingest"]},
    }
    return Failure(failure_match_id or uuid.uuid4(), payload)


# --- the operations ----------------------------------------------------------------------------------


def ingest_one(conn: Conn, failure: Failure, key: uuid.UUID | None = None) -> int:
    row = conn.execute(
        INGEST_ONE, (failure.failure_match_id, Jsonb(failure.payload), SOURCE, key), prepare=True
    ).fetchone()
    assert row is not None
    return 1


def ingest_many(conn: Conn, failures: list[Failure]) -> int:
    doc = [{"failure_match_id": str(f.failure_match_id), "failure_payload": f.payload} for f in failures]
    rows = conn.execute(INGEST_MANY, (Jsonb(doc), SOURCE), prepare=True).fetchall()
    assert len(rows) == len(failures)
    return len(rows)


def upsert_one(conn: Conn, failure: Failure) -> int:
    p = failure.payload
    row = conn.execute(
        UPSERT_ONE,
        (
            failure.failure_match_id,
            failure.signature,
            failure.code,
            failure.message,
            failure.message,
            SOURCE,
            p["skill"],
            p["tenant"],
        ),
        prepare=True,
    ).fetchone()
    assert row is not None
    return 1


def upsert_many(conn: Conn, failures: list[Failure]) -> int:
    rows = conn.execute(
        UPSERT_MANY,
        (
            SOURCE,
            [f.failure_match_id for f in failures],
            [f.signature for f in failures],
            [f.code for f in failures],
            [f.message for f in failures],
            [str(f.payload["skill"]) for f in failures],
            [str(f.payload["tenant"]) for f in failures],
        ),
        prepare=True,
    ).fetchall()
    assert len(rows) == len(failures)
    return len(rows)


# --- modes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    batch: int
    systems: tuple[str, ...]


MODES = (
    Mode("single_new", "single new", 1, ("ingest", "upsert")),
    Mode("single_repeat", "single repeat", 1, ("ingest", "upsert")),
    Mode("single_keyed", "single keyed", 1, ("ingest",)),
    Mode(f"batch_{BATCH}", f"batch {BATCH}", BATCH, ("ingest", "upsert")),
)


@dataclass(frozen=True)
class Sizes:
    rounds: int
    single_calls: int
    batch_calls: int
    warmup: int


FULL = Sizes(rounds=5, single_calls=800, batch_calls=40, warmup=30)
QUICK = Sizes(rounds=2, single_calls=300, batch_calls=15, warmup=20)


@dataclass
class Trial:
    failures: int
    seconds: float
    latencies: list[float]

    @property
    def per_s(self) -> float:
        return self.failures / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Bench:
    conn: Conn
    counter: int = 0
    repeat_pool: dict[str, list[Failure]] = field(default_factory=dict)

    def fresh(self) -> Failure:
        self.counter += 1
        return make_failure(self.counter)

    def repeats(self, system: str) -> list[Failure]:
        """The identities the repeat mode cycles over, reported once before timing."""
        if system not in self.repeat_pool:
            pool = [make_failure(i) for i in range(REPEAT_IDENTITIES)]
            for f in pool:
                (ingest_one if system == "ingest" else upsert_one)(self.conn, f)
            self.repeat_pool[system] = pool
        return self.repeat_pool[system]

    def call(self, mode: Mode, system: str, n: int) -> Callable[[], int]:
        """One prepared call of the mode: returns the number of failures it reported."""
        conn = self.conn
        one = ingest_one if system == "ingest" else upsert_one
        if mode.key == "single_new":
            return functools.partial(one, conn, self.fresh())
        if mode.key == "single_repeat":
            pool = self.repeats(system)
            base = pool[n % len(pool)]
            # The same identity (code and message) in a new payload object, as a client sends it.
            return functools.partial(one, conn, Failure(base.failure_match_id, dict(base.payload)))
        if mode.key == "single_keyed":
            return functools.partial(ingest_one, conn, self.fresh(), uuid.uuid4())
        batch = [self.fresh() for _ in range(mode.batch)]
        return functools.partial(ingest_many if system == "ingest" else upsert_many, conn, batch)

    def trial(self, mode: Mode, system: str, calls: int, warmup: int) -> Trial:
        for i in range(warmup):
            self.call(mode, system, i)()
        latencies: list[float] = []
        failures = 0
        elapsed = 0.0
        for i in range(calls):
            op = self.call(mode, system, i)  # payloads are built before the clock starts
            t0 = time.perf_counter()
            failures += op()
            dt = time.perf_counter() - t0
            elapsed += dt
            latencies.append(dt)
        return Trial(failures, elapsed, latencies)


# --- stages ------------------------------------------------------------------------------------------

# One plpgsql loop per stage over the same failure, timed with clock_timestamp() inside the server:
# (stage, statement run p_calls times). The candidate upserts use fresh identities, as the single new
# mode does; the four writes besides the candidate are made as ingest_failure makes them.
STAGES: tuple[tuple[str, str], ...] = (
    (
        "payload check (normalize_failure_payload)",
        "PERFORM m10_recovery.normalize_failure_payload(p_payload)",
    ),
    ("message template (normalize_message)", "PERFORM m10_recovery.normalize_message(v_message)"),
    ("tokens (template_tokens)", "PERFORM m10_recovery.template_tokens(v_template)"),
    (
        "template lookup (learn_template_tokens, matched)",
        "SELECT * INTO v_row FROM m10_recovery.learn_template_tokens(p_payload->>'error_type', v_tokens)",
    ),
    (
        "evaluate item insert",
        """INSERT INTO m10_recovery.work_queue (candidate_id, method, payload, priority, max_attempts,
                                             available_at, created_at)
        SELECT v_cand.candidate_id, m.name, '{}'::jsonb, 0, m.default_max_attempts, now(), now()
          FROM m10_recovery.work_methods m WHERE m.name = 'evaluate'""",
    ),
    (
        "outbox event (publish_outbox)",
        """PERFORM m10_recovery.publish_outbox(
            'recovery.candidate.created',
            jsonb_build_object('candidate_id', v_cand.candidate_id, 'failure_match_id', gen_random_uuid(),
                               'error_signature', v_cand.error_signature,
                               'error_code', p_payload->>'error_type', 'source', 'bench'),
            'candidate', v_cand.candidate_id::text)""",
    ),
    (
        "input and provenance rows",
        """WITH si AS (
            INSERT INTO m10_recovery.suggestion_input (candidate_id, input_type, source, value)
            VALUES (v_cand.candidate_id, 'failure', 'bench', p_payload)
        )
        INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details)
        VALUES (v_cand.candidate_id, 'ingested', 'bench',
                jsonb_build_object('error_signature', v_cand.error_signature, 'input', p_payload))""",
    ),
    (
        "ingest_failure, whole (server only)",
        "SELECT * INTO v_row FROM m10_recovery.ingest_failure(gen_random_uuid(), p_payload, 'bench')",
    ),
    (
        "plain upsert statement (server only)",
        """INSERT INTO bench_upsert AS b (failure_match_id, error_signature, signature_version, error_code,
                                       message_template, error_message, source, skill, tenant)
        VALUES (gen_random_uuid(), 'v1:' || md5(v_message), 1, p_payload->>'error_type', v_message, v_message,
                'bench', p_payload->>'skill', p_payload->>'tenant')
        ON CONFLICT (failure_match_id, error_signature) DO UPDATE
           SET occurrence_count = b.occurrence_count + 1, last_seen_at = now(), updated_at = now()""",
    ),
)

STAGE_LOOP = """
    t0 := clock_timestamp();
    FOR i IN 1 .. p_calls LOOP
        {statement};
    END LOOP;
    stage := {label};
    us_per_call := extract(epoch FROM clock_timestamp() - t0) * 1e6 / p_calls;
    RETURN NEXT;
"""


def stages_function() -> str:
    loops = "".join(
        STAGE_LOOP.format(statement=statement, label="'" + label.replace("'", "''") + "'")
        for label, statement in STAGES
    )
    return f"""
CREATE FUNCTION pg_temp.ingest_stages(p_payload jsonb, p_calls integer)
RETURNS TABLE (stage text, us_per_call double precision)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    v_message text := p_payload->>'raw';
    v_template text := m10_recovery.normalize_message(v_message);
    v_tokens text[] := m10_recovery.template_tokens(v_template);
    v_row record;
    v_cand record;
BEGIN
    PERFORM m10_recovery.learn_template_tokens(p_payload->>'error_type', v_tokens);  -- learned once
    SELECT * INTO v_cand FROM m10_recovery.ingest_failure(gen_random_uuid(), p_payload, 'bench');
    {loops}
END
$$
"""


def stage_costs(conn: Conn, rounds: int, calls: int) -> dict[str, float]:
    """Median µs per call of each stage over ``rounds`` loops of ``calls``; nothing is kept."""
    samples: dict[str, list[float]] = {}
    payload = Jsonb(make_failure(0).payload)
    with conn.transaction(force_rollback=True):
        conn.execute(stages_function())
        for _ in range(rounds):
            for stage, us in conn.execute("SELECT * FROM pg_temp.ingest_stages(%s, %s)", (payload, calls)):
                samples.setdefault(stage, []).append(float(us))
    return {stage: statistics.median(values) for stage, values in samples.items()}


# --- results -----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Row:
    mode: str
    system: str
    calls: int
    failures: int
    failures_per_s: float
    p50_ms: float
    p99_ms: float
    rounds_per_s: list[float]


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    target: str
    met: bool | None


def make_row(mode: Mode, system: str, trials: list[Trial]) -> Row:
    latencies = [x for t in trials for x in t.latencies]
    return Row(
        mode=mode.label,
        system=system,
        calls=len(latencies),
        failures=sum(t.failures for t in trials),
        failures_per_s=statistics.median(t.per_s for t in trials),
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        rounds_per_s=[round(t.per_s, 1) for t in trials],
    )


def find(rows: list[Row], mode: str, system: str) -> Row | None:
    return next((r for r in rows if r.mode == mode and r.system == system), None)


def checks(rows: list[Row]) -> list[Check]:
    found: list[Check] = []
    ingest, upsert = find(rows, "single new", "ingest"), find(rows, "single new", "upsert")
    ratio = ingest.failures_per_s / upsert.failures_per_s if ingest and upsert else None
    found.append(
        Check(
            "single new: ingest / plain upsert",
            ratio,
            f">= {SINGLE_TARGET_RATIO}",
            None if ratio is None else ratio >= SINGLE_TARGET_RATIO,
        )
    )
    ingest, upsert = find(rows, "single repeat", "ingest"), find(rows, "single repeat", "upsert")
    ratio = ingest.failures_per_s / upsert.failures_per_s if ingest and upsert else None
    found.append(Check("single repeat: ingest / plain upsert", ratio, "(reported)", None))
    batch = find(rows, f"batch {BATCH}", "ingest")
    rate = batch.failures_per_s if batch else None
    found.append(
        Check(
            f"batch {BATCH}: ingest failures/s",
            rate,
            f"> {BATCH_TARGET_PER_S:.0f}",
            None if rate is None else rate > BATCH_TARGET_PER_S,
        )
    )
    return found


def print_results(rows: list[Row], found: list[Check], stages: dict[str, float]) -> None:
    header = f"{'mode':<15} {'system':<8} {'calls':>7} {'failures/s':>11} {'p50 ms':>8} {'p99 ms':>8}"
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.mode:<15} {r.system:<8} {r.calls:>7} {r.failures_per_s:>11.0f}"
            f" {r.p50_ms:>8.3f} {r.p99_ms:>8.3f}"
        )
    print()
    for c in found:
        value = "n/a" if c.value is None else (f"{c.value:.2f}" if c.value < 100 else f"{c.value:.0f}")
        verdict = {True: "met", False: "NOT met", None: ""}[c.met]
        print(f"{c.name:<40} {value:>8}  target {c.target:<10} {verdict}")
    print()
    print("where a single new ingest's server time goes (µs per call, no round trip or commit)")
    for stage, us in stages.items():
        print(f"  {stage:<50} {us:>8.1f}")


# --- database ----------------------------------------------------------------------------------------


def server_settings(conn: Conn) -> dict[str, str]:
    names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
    found: dict[str, str] = {}
    for name in names:
        row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
        assert row is not None
        found[name] = str(row[0])
    return found


def durability_problems(settings: dict[str, str]) -> list[str]:
    return [f"{n} = {settings[n]}" for n in ("fsync", "synchronous_commit") if settings[n] == "off"]


def unlogged_tables(conn: Conn) -> list[str]:
    rows = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " WHERE c.relkind = 'r' AND c.relpersistence <> 'p'"
        "   AND (c.relnamespace = 'm10_recovery'::regnamespace OR c.relname = 'bench_upsert')"
    ).fetchall()
    return [str(r[0]) for r in rows]


@contextmanager
def bench_database(server_url: str, name: str, keep: bool) -> Iterator[str]:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    try:
        schema.migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(BASELINE_DDL)
        yield url
    finally:
        if not keep:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def verify(conn: Conn) -> dict[str, int]:
    """What the run left behind, and the invariants that must hold for the numbers to mean anything."""
    one = conn.execute(
        "SELECT (SELECT count(*) FROM m10_recovery.recovery_candidates),"
        "       (SELECT coalesce(sum(occurrence_count), 0) FROM m10_recovery.recovery_candidates),"
        "       (SELECT count(*) FROM m10_recovery.suggestion_input),"
        "       (SELECT count(*) FROM m10_recovery.suggestion_provenance),"
        "       (SELECT count(*) FROM m10_recovery.work_queue),"
        "       (SELECT count(*) FROM bench_upsert)"
    ).fetchone()
    assert one is not None
    candidates, occurrences, inputs, provenance, work, upserted = (int(x) for x in one)
    assert inputs == occurrences == provenance, (inputs, occurrences, provenance)
    assert work == candidates, "one evaluate item per new candidate, none for repeats"
    return {
        "candidates": candidates,
        "occurrences": occurrences,
        "suggestion_input_rows": inputs,
        "provenance_rows": provenance,
        "work_items": work,
        "baseline_rows": upserted,
    }


# --- main --------------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls (about 30 s)")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--allow-unsafe-durability", action="store_true")
    parser.add_argument("--output", type=Path, help="JSON result file (default: benchmarks/results/)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = Sizes(args.rounds, sizes.single_calls, sizes.batch_calls, sizes.warmup)
    default_name = "ingest-quick.json" if args.quick else "ingest.json"
    output: Path = args.output or BENCH_DIR / "results" / default_name

    with psycopg.connect(args.database_url, autocommit=True) as probe:
        settings = server_settings(probe)
    problems = durability_problems(settings)
    if problems and not args.allow_unsafe_durability:
        print(
            f"refusing to run: {', '.join(problems)} (pass --allow-unsafe-durability to override)",
            file=sys.stderr,
        )
        return 2

    name = f"bench_ingest_{os.getpid()}"
    started = time.time()
    with (
        bench_database(args.database_url, name, args.keep_database) as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        unlogged = unlogged_tables(conn)
        if unlogged and not args.allow_unsafe_durability:
            print(f"refusing to run: unlogged tables {unlogged}", file=sys.stderr)
            return 2
        bench = Bench(conn)
        trials: dict[tuple[str, str], list[Trial]] = {}
        for round_no in range(sizes.rounds):
            for mode in MODES:
                systems = mode.systems if round_no % 2 == 0 else tuple(reversed(mode.systems))
                calls = sizes.batch_calls if mode.batch > 1 else sizes.single_calls
                for system in systems:
                    trial = bench.trial(mode, system, calls, sizes.warmup if mode.batch == 1 else 2)
                    trials.setdefault((mode.key, system), []).append(trial)
                    print(
                        f"round {round_no + 1}/{sizes.rounds}  {mode.label:<14} {system:<7}"
                        f" {trial.per_s:>9.0f} failures/s"
                        f"  p50 {percentile(trial.latencies, 0.5) * 1e3:.3f} ms",
                        flush=True,
                    )
        rows = [make_row(m, s, trials[(m.key, s)]) for m in MODES for s in m.systems]
        left = verify(conn)
        stages = stage_costs(conn, sizes.rounds, STAGE_CALLS)

    found = checks(rows)
    print_results(rows, found, stages)
    result = {
        "benchmark": "ingest",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "quick": args.quick,
        "sizes": asdict(sizes),
        "server": settings,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "python": platform.python_version(),
        "payload_example": make_failure(1).payload,
        "rows": [asdict(r) for r in rows],
        "checks": [asdict(c) for c in found],
        "stages_us_per_call": stages,
        "left_behind": left,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(output)
    print(f"\nwrote {output.relative_to(PROJECT) if output.is_relative_to(PROJECT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
