"""Command line, modes and run sizes of benchmarks/queue.py.

Standard library only: queue.py parses its arguments with this module before the benchmark's own
environment (benchmarks/.venv) exists, so that ``--help`` and argument errors need no install.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 100
SYSTEM_KEYS = ("m10py", "m10py_loop", "raw", "pgmq", "pgqueuer", "procrastinate")
PEER_KEYS = ("pgmq", "pgqueuer", "procrastinate")

ModeKind = Literal["enqueue", "drain"]


@dataclass(frozen=True)
class Mode:
    """One measured operation: ``batch`` items per call (enqueue) or per claim (drain)."""

    key: str
    kind: ModeKind
    batch: int
    warmup: int  # untimed calls (enqueue) or cycles per consumer (drain) before timing starts
    latency: str  # what one latency sample is

    @property
    def label(self) -> str:
        return f"{self.kind} batch {self.batch}"


MODES = (
    Mode(
        "enqueue_1",
        "enqueue",
        1,
        20,
        "one enqueue call from one producer: 1 item, one transaction (round trip + commit)",
    ),
    Mode(
        f"enqueue_{BATCH}",
        "enqueue",
        BATCH,
        3,
        f"one batch enqueue call from one producer: {BATCH} items, one transaction",
    ),
    Mode(
        "drain_1",
        "drain",
        1,
        20,
        "one consumer's cycle for one job: claim it and mark it done (m10py: one next_batch "
        "call of its claim-ahead consumer; m10py_loop: one complete_and_claim call, which completes "
        "the previous claim and claims the next; the others: their claim call plus their "
        "complete/delete call)",
    ),
    Mode(
        f"drain_{BATCH}",
        "drain",
        BATCH,
        3,
        f"one consumer's cycle for a batch of up to {BATCH} jobs: claim them and mark them "
        "done, counted as in drain batch 1",
    ),
)


@dataclass(frozen=True)
class Sizes:
    """How much work each trial does; a trial is one system running one mode once."""

    rounds: int
    enqueue_1_calls: int
    enqueue_batch_calls: int
    drain_1_jobs: int
    drain_batch_jobs: int

    def count(self, mode: Mode) -> int:
        """Timed calls for an enqueue mode, jobs to drain for a drain mode."""
        if mode.kind == "enqueue":
            return self.enqueue_1_calls if mode.batch == 1 else self.enqueue_batch_calls
        return self.drain_1_jobs if mode.batch == 1 else self.drain_batch_jobs

    def scaled(self, factor: float) -> Sizes:
        def scale(n: int) -> int:
            return max(1, round(n * factor))

        return replace(
            self,
            enqueue_1_calls=scale(self.enqueue_1_calls),
            enqueue_batch_calls=scale(self.enqueue_batch_calls),
            drain_1_jobs=scale(self.drain_1_jobs),
            drain_batch_jobs=scale(self.drain_batch_jobs),
        )


QUICK = Sizes(
    rounds=1, enqueue_1_calls=300, enqueue_batch_calls=30, drain_1_jobs=1_000, drain_batch_jobs=10_000
)
FULL = Sizes(
    rounds=5, enqueue_1_calls=2_000, enqueue_batch_calls=200, drain_1_jobs=4_000, drain_batch_jobs=40_000
)


@dataclass(frozen=True)
class Options:
    database_url: str
    quick: bool
    sizes: Sizes
    systems: tuple[str, ...]
    allow_unsafe_durability: bool
    keep_databases: bool
    db_prefix: str
    output: Path
    pgmq_finish: Literal["delete", "archive"]
    m10_overlay: tuple[Path, ...]
    bootstrap: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/queue.py",
        description="Benchmark the m10py work queue against a raw SQL queue, pgmq, PgQueuer and "
        "procrastinate on one PostgreSQL (see the module docstring of queue.py).",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", DEFAULT_URL),
        help="server to benchmark on; one database per system is created on it "
        "and dropped afterwards (default: $DATABASE_URL or %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts and one round: under a minute in total"
    )
    parser.add_argument("--rounds", type=int, help="rounds of every system x mode")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every count (calls, jobs) by this factor"
    )
    parser.add_argument(
        "--systems", default=",".join(SYSTEM_KEYS), help="comma-separated subset of %(default)s"
    )
    parser.add_argument(
        "--allow-unsafe-durability",
        action="store_true",
        help="run even if fsync or synchronous_commit is off (results are then "
        "not comparable with a durable setup)",
    )
    parser.add_argument(
        "--keep-databases", action="store_true", help="leave the per-system databases in place for inspection"
    )
    parser.add_argument(
        "--db-prefix", default="bench_", help="prefix of the per-system database names (default: %(default)s)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON result file (default: benchmarks/results/queue.json, or queue-quick.json with --quick)",
    )
    parser.add_argument(
        "--pgmq-finish",
        choices=("delete", "archive"),
        default="delete",
        help="how the pgmq consumer finishes a message (default: %(default)s, its cheapest)",
    )
    parser.add_argument(
        "--m10-overlay",
        type=Path,
        action="append",
        default=[],
        metavar="SQL_FILE",
        help="also run 'm10py + overlay': m10py in a database of its own with this "
        "SQL file applied after migrating, to measure a candidate change of "
        "sql/ beside the repository's version (repeatable)",
    )
    parser.add_argument(
        "--no-bootstrap",
        dest="bootstrap",
        action="store_false",
        help="run in the current interpreter instead of benchmarks/.venv",
    )
    return parser


def parse_options(argv: list[str]) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    unknown = sorted(set(systems) - set(SYSTEM_KEYS))
    if unknown or not systems:
        parser.error(f"--systems: unknown {unknown}; choose from {', '.join(SYSTEM_KEYS)}")
    missing = [str(path) for path in args.m10_overlay if not path.is_file()]
    if missing:
        parser.error(f"--m10-overlay: no such file {', '.join(missing)}")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    sizes = (QUICK if args.quick else FULL).scaled(args.scale)
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds must be at least 1")
        sizes = replace(sizes, rounds=args.rounds)
    default_name = "queue-quick.json" if args.quick else "queue.json"
    output = args.output or BENCH_DIR / "results" / default_name
    return Options(
        database_url=args.database_url,
        quick=args.quick,
        sizes=sizes,
        systems=systems,
        allow_unsafe_durability=args.allow_unsafe_durability,
        keep_databases=args.keep_databases,
        db_prefix=args.db_prefix,
        output=output.resolve(),
        pgmq_finish=args.pgmq_finish,
        m10_overlay=tuple(path.resolve() for path in args.m10_overlay),
        bootstrap=args.bootstrap,
    )
