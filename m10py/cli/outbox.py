"""`m10 outbox ...`: run the outbox processor, publish, inspect and replay dead letters."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace

import typer

from m10py.cli.common import JSON_OPTION, client, console, payload_option, print_json, print_table, state
from m10py.config import OutboxSettings
from m10py.locks import DistributedLock
from m10py.outbox import OutboxProcessor
from m10py.outbox_handlers import build_registry

PROCESSOR_LOCK = "m10:outbox_processor"

app = typer.Typer(help="Deliver outbox events; publish; inspect and replay dead letters.")


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Stop when nothing is due instead of waiting."),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        max=1000,
        help="Events claimed per round [env M10_OUTBOX_BATCH_SIZE: 50].",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=256, help="Deliveries in flight [env M10_OUTBOX_CONCURRENCY: 8]."
    ),
    processor_id: str | None = typer.Option(None, "--processor-id", help="Default: host:pid:random."),
    exclusive: bool = typer.Option(
        False,
        "--exclusive",
        help=f"Run only while holding the lock {PROCESSOR_LOCK} (one processor at a time).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the outbox processor (without a subcommand); SIGTERM finishes the batch in hand and stops."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        settings = OutboxSettings.from_env()
        settings = replace(
            settings,
            batch_size=batch_size or settings.batch_size,
            concurrency=concurrency or settings.concurrency,
        )
        registry = build_registry(settings, state(ctx).settings.redis_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with client(ctx) as c:
            processor = OutboxProcessor(
                c,
                registry,
                processor_id=processor_id,
                batch_size=settings.batch_size,
                concurrency=settings.concurrency,
                lease_seconds=settings.lease_seconds,
                poll_interval=settings.poll_interval,
                max_attempts=settings.max_attempts,
                retry_base_seconds=settings.retry_base_seconds,
                retry_cap_seconds=settings.retry_cap_seconds,
            )
            if not as_json:
                console.print(
                    f"outbox processor {processor.processor_id}: delivering (batch {settings.batch_size})"
                )
            if exclusive:
                # A lost lock stops the processor like SIGTERM: another one may hold it now.
                with DistributedLock(c, PROCESSOR_LOCK, holder_id=processor.processor_id, lost=stop):
                    stats = processor.run(stop, once=once)
            else:
                stats = processor.run(stop, once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary = {"processor_id": processor.processor_id, **vars(stats)}
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"outbox processor {processor.processor_id} stopped: {stats.delivered} delivered, "
            f"{stats.retried} to retry, {stats.dead} dead-lettered, {stats.stale} stale, "
            f"{stats.batches} batches"
        )


@app.command()
def publish(
    ctx: typer.Context,
    event_type: str = typer.Argument(..., help="A dotted name; its prefix picks the handler."),
    payload: str = typer.Option("{}", "--payload", help="A JSON object."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish one event (committed at once; from code, publish inside your own transaction)."""
    with client(ctx) as c:
        outbox_id = c.publish_outbox(event_type, payload_option(payload))
    if as_json:
        print_json({"outbox_id": outbox_id})
    else:
        console.print(f"published outbox event {outbox_id}")


@app.command()
def stats(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Counts by state and the age of the oldest unprocessed event."""
    with client(ctx) as c:
        row = c.outbox_stats()
    if as_json:
        print_json(row.to_json())
        return
    columns = ["pending", "retrying", "in flight", "lease expired", "processed", "dead", "oldest pending (s)"]
    print_table(
        "outbox",
        columns,
        [
            (
                row.pending,
                row.retrying,
                row.in_flight,
                row.lease_expired,
                row.processed,
                row.dead,
                f"{row.oldest_pending_age_seconds:.1f}",
            )
        ],
    )


@app.command("dead-letter")
def dead_letter(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    as_json: bool = JSON_OPTION,
) -> None:
    """The most recent dead letters and why each was given up on."""
    with client(ctx) as c:
        rows = c.dead_letters(limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "outbox dead letters",
        ["id", "event type", "attempts", "reason", "dead at"],
        [(r.id, r.event_type, r.retry_count, r.reason, r.dead_at.isoformat()) for r in rows],
    )


@app.command()
def replay(
    ctx: typer.Context,
    ids: list[int] | None = typer.Option(None, "--id", help="A dead letter's id (repeatable)."),
    type_prefix: str | None = typer.Option(None, "--type-prefix", help="Every dead letter of these types."),
    replay_all: bool = typer.Option(False, "--all", help="Every dead letter."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Put dead letters back in the outbox (same id and webhook-id, fresh attempts)."""
    with client(ctx) as c:
        count = c.replay_outbox(ids or None, event_type_prefix=type_prefix, replay_all=replay_all)
    if as_json:
        print_json({"replayed": count})
    else:
        console.print(f"replayed {count} dead letter(s)")
