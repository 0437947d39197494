"""Benchmark of m10py's durable work queue against a raw SQL queue and three PyPI peers.

One command::

    python benchmarks/queue.py            # full run, 2-3 minutes
    python benchmarks/queue.py --quick    # under a minute

The first run creates ``benchmarks/.venv`` (``python -m venv`` + ``pip install -e .. -r
requirements.txt``) and every run re-executes itself inside it, so the peers never enter the
project's own environment. ``--no-bootstrap`` runs in the current interpreter instead.

Systems, each in its own database on the same server (created, then dropped at the end):

* ``m10py``: the public client, ``M10Client``. Drain uses its claim-ahead consumer
  (``m10py.consumer.WorkConsumer``, what ``M10Client.consume_work`` gives): each request is one
  ``complete_and_claim`` (the batch before completed, the next claimed, one commit), sent on a libpq
  pipeline as soon as a batch arrives, so the database claims while the consumer works.
* ``m10py_loop``: the same client without claiming ahead: one ``complete_and_claim`` call per cycle,
  waited for. Drain modes only (its enqueue is m10py's); reported beside m10py for comparison.
* ``raw``: a plain table and the textbook pattern: claim with ``UPDATE ... WHERE id IN (SELECT id
  ... ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING``, then a second statement (and commit)
  setting ``processed_at`` for the batch. No leases, retries or validation: the floor.
* ``pgmq``: the ``pgmq`` client; its SQL is loaded from the wheel (``pgmq.install``), so no
  extension is compiled. ``send``/``send_batch``; drain ``read`` + ``delete_batch`` (or
  ``archive_batch`` with ``--pgmq-finish archive``).
* ``pgqueuer``: ``Queries`` on asyncpg under uvloop: ``enqueue`` (lists for a batch); drain
  ``dequeue`` + ``log_jobs(successful)``.
* ``procrastinate``: its async ``App`` and ``JobManager``: ``defer_async``/``batch_defer_async``;
  drain ``fetch_job`` + ``finish_job``. ``fetch_job`` claims one job, so it has no batch-100 drain.

Modes (batch 100 unless said otherwise), with what one latency sample is:

* enqueue batch 1: one producer, one item per call and transaction; sample = one call.
* enqueue batch 100: one producer, 100 items per call (the system's batch API); sample = one call.
* drain batch 1 and drain batch 100: the queue is filled first (untimed), then two consumer
  processes, one connection each, claim and finish until a claim comes back empty. Sample = one
  consumer's claim+finish cycle for one batch: one ``next_batch`` call for m10py (it receives the
  batch claimed ahead and sends the next request), one ``complete_and_claim`` call for m10py_loop,
  the claim call plus the finish call for the others. Work per job is empty: queue overhead only,
  so claiming ahead can overlap only the consumer's own handling of a batch with the database.

Throughput is items (jobs) done in the timed phase divided by its wall time: for a drain, from the
moment both consumers pass a barrier until the last one sees an empty claim.

Each trial (one system, one mode) starts from the same line: queue tables truncated; for a drain,
filled and then ``VACUUM (ANALYZE)``d (an enqueue trial starts unanalysed, as after installing);
``CHECKPOINT``; no other session connected. The measuring
processes then warm up (untimed calls or cycles on their own connection) before the clock
starts. Dead tuples: after the trial, once every worker session has ended (a backend flushes its
statistics when it exits) and after ``pg_stat_force_next_flush()`` for the measuring session,
``n_dead_tup`` of the system's queue tables is read from ``pg_stat_user_tables``; the table also
shows updates + deletes per job, the row versions the trial made dead whether or not vacuum or
page pruning has removed them yet.

Fairness: the systems run in a rotated order per mode and round, reversed every other round, and
each system x mode runs ``--rounds`` times; jobs/s is the median over rounds and the latency
percentiles pool every sample. The server must have ``fsync`` and ``synchronous_commit`` on, and
every queue table must be logged, or the benchmark refuses to run (``--allow-unsafe-durability``
overrides). The machine may be small and shared: compare ratios from one run, not absolute
numbers across runs.

Results: a table on stdout and ``benchmarks/results/queue.json`` (``queue-quick.json`` with
``--quick``), with the target ratios of this run: (a) m10py drain batch 1 / best peer >= 1.8,
(b) m10py drain batch 100 / raw >= 1.2, (c) m10py enqueue batch 100 / best peer >= 1.0.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# This file shares its name with the standard library's queue module: search its folder last.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR] + [str(BENCH_DIR)]

from queue_options import Options, parse_options  # noqa: E402

VENV = BENCH_DIR / ".venv"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
PROJECT = BENCH_DIR.parent
STAMP = VENV / ".requirements.sha256"


def _in_bench_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _requirements_digest() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update((PROJECT / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _environment_ready() -> bool:
    return STAMP.exists() and STAMP.read_text().strip() == _requirements_digest()


def ensure_environment() -> None:
    """Create or update benchmarks/.venv, then re-run this command inside it."""
    if not _venv_python().exists():
        print(f"creating {VENV} (first run)", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not _environment_ready():
        print(f"installing m10py and the peers of {REQUIREMENTS.name} into {VENV}", flush=True)
        subprocess.run(
            [
                str(_venv_python()),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                str(PROJECT),
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        STAMP.write_text(_requirements_digest() + "\n")
    os.execv(_venv_python(), [str(_venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> int:
    options: Options = parse_options(sys.argv[1:])
    if options.bootstrap and not (_in_bench_venv() and _environment_ready()):
        ensure_environment()  # does not return
    from queue_runner import main as run

    return run(options)


if __name__ == "__main__":
    sys.exit(main())
