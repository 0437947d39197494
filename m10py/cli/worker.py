"""`m10 worker`: evaluate recovery candidates from the work queue (or the Redis stream) until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import typer

from m10py.cli.common import (
    JSON_OPTION,
    client,
    console,
    failures_as_exit_codes,
    print_json,
    stream_redis,
    stream_settings,
)
from m10py.client import M10Client
from m10py.stream_worker import StreamWorker
from m10py.worker import EvaluationWorker


def worker(
    ctx: typer.Context,
    batch_size: int = typer.Option(10, "--batch-size", min=1, max=10000, help="Items claimed per round."),
    poll_interval: float = typer.Option(5.0, "--poll-interval", min=0.05, help="Seconds to wait when idle."),
    lease: int = typer.Option(
        300, "--lease", min=1, max=86400, help="Seconds before an unfinished claim returns (DB mode)."
    ),
    use_stream: bool = typer.Option(
        False, "--use-stream", help="Take work from the Redis stream (REDIS_URL), with the zero-loss sweep."
    ),
    consumer: str | None = typer.Option(
        None, "--consumer", help="Stream consumer name (default: unique per process; reuse one to resume)."
    ),
    once: bool = typer.Option(False, "--once", help="Stop when no work is ready instead of waiting."),
    debug: bool = typer.Option(False, "--debug", help="Log every batch."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Claim evaluation work, evaluate the candidates, complete the work; SIGTERM stops it cleanly."""
    if debug:
        logging.getLogger("m10py").setLevel(logging.DEBUG)
    stop = threading.Event()
    # SIGTERM and Ctrl-C finish the batch in hand, complete (and acknowledge) it, and exit.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with client(ctx) as c:
            if use_stream:
                summary = _run_stream(ctx, c, stop, batch_size, poll_interval, consumer, once, as_json)
            else:
                summary = _run_db(c, stop, batch_size, poll_interval, lease, once, as_json)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"worker {summary['worker_id']} stopped: {summary['evaluated']} evaluated, "
        f"{summary['failed']} failed, {summary['skipped']} without a candidate, {summary['batches']} batches"
    )


def _run_db(
    c: M10Client, stop: threading.Event, batch_size: int, poll: float, lease: int, once: bool, quiet: bool
) -> dict[str, Any]:
    runner = EvaluationWorker(c, batch_size=batch_size, poll_interval=poll, lease_seconds=lease)
    if not quiet:
        console.print(f"worker {runner.worker_id}: evaluating (batch {batch_size})")
    stats = runner.run(stop, once=once)
    return {"worker_id": runner.worker_id, **vars(stats)}


def _run_stream(
    ctx: typer.Context,
    c: M10Client,
    stop: threading.Event,
    batch_size: int,
    poll: float,
    consumer: str | None,
    once: bool,
    quiet: bool,
) -> dict[str, Any]:
    settings = stream_settings()
    with failures_as_exit_codes():
        # The socket timeout outlasts the XREADGROUP block (the poll interval, at most).
        redis = stream_redis(ctx, timeout=poll + settings.timeout_ms / 1000 + 1)
    runner = StreamWorker(
        c, redis, settings, consumer=consumer, batch_size=batch_size, block_ms=int(poll * 1000)
    )
    if not quiet:
        console.print(
            f"worker {runner.consumer}: evaluating from stream {settings.stream_key} (batch {batch_size})"
        )
    stats = runner.run(stop, once=once)
    return {"worker_id": runner.consumer, "mode": "stream", **stats.to_json()}
