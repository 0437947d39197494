"""`m10 worker`: evaluate recovery candidates from the work queue until stopped."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from m10py.cli.common import JSON_OPTION, client, console, print_json
from m10py.worker import EvaluationWorker


def worker(
    ctx: typer.Context,
    batch_size: int = typer.Option(10, "--batch-size", min=1, max=10000, help="Items claimed per round."),
    poll_interval: float = typer.Option(5.0, "--poll-interval", min=0.05, help="Seconds to wait when idle."),
    lease: int = typer.Option(
        300, "--lease", min=1, max=86400, help="Seconds before an unfinished claim returns."
    ),
    once: bool = typer.Option(False, "--once", help="Stop when no work is ready instead of waiting."),
    debug: bool = typer.Option(False, "--debug", help="Log every batch."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Claim evaluation work, evaluate the candidates, complete the work; SIGTERM stops it cleanly."""
    if debug:
        logging.getLogger("m10py").setLevel(logging.DEBUG)
        logging.getLogger("m10py.worker").setLevel(logging.DEBUG)
    stop = threading.Event()
    # SIGTERM and Ctrl-C finish the batch in hand, complete it, and exit without claiming more.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with client(ctx) as c:
            runner = EvaluationWorker(
                c, batch_size=batch_size, poll_interval=poll_interval, lease_seconds=lease
            )
            if not as_json:
                console.print(f"worker {runner.worker_id}: evaluating (batch {batch_size})")
            stats = runner.run(stop, once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary = {"worker_id": runner.worker_id, **vars(stats)}
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"worker {runner.worker_id} stopped: {stats.evaluated} evaluated, {stats.failed} failed, "
            f"{stats.skipped} without a candidate, {stats.batches} batches"
        )
