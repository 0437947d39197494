"""`m10 stream ...`: inspect and operate the Redis stream bridge (REDIS_URL, M10_STREAM_*)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from m10py.cli.common import (
    JSON_OPTION,
    client,
    console,
    failures_as_exit_codes,
    print_json,
    print_table,
    stream_redis,
    stream_settings,
)
from m10py.config import StreamSettings
from m10py.stream import StreamAdmin
from m10py.stream_worker import StreamWorker
from m10py.worker import default_worker_id

app = typer.Typer(help="Inspect and operate the Redis stream bridge.", no_args_is_help=True)
dead_letter_app = typer.Typer(help="The dead-letter stream.", no_args_is_help=True)
app.add_typer(dead_letter_app, name="dead-letter")

TIMEOUT_SECONDS = 5.0


@contextmanager
def _admin(ctx: typer.Context, settings: StreamSettings | None = None) -> Iterator[StreamAdmin]:
    settings = settings or stream_settings()
    with failures_as_exit_codes(), client(ctx) as c:
        yield StreamAdmin(c, stream_redis(ctx, timeout=TIMEOUT_SECONDS), settings)


@app.command()
def info(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Stream length, the group's consumers, pending entries and lag, dead-letter count."""
    with _admin(ctx) as admin:
        data = admin.info()
    if as_json:
        print_json(data)
        return
    print_table("stream", ["field", "value"], list(data.items()))


@app.command()
def pending(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", min=1, max=10000),
    min_idle_ms: int | None = typer.Option(None, "--min-idle-ms", min=0, help="Only entries idle this long."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Entries delivered and not acknowledged: consumer, idle time, deliveries."""
    with _admin(ctx) as admin:
        rows = admin.pending(limit=limit, min_idle_ms=min_idle_ms)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "pending entries",
        ["id", "consumer", "idle ms", "deliveries"],
        [(r.id, r.consumer, r.idle_ms, r.deliveries) for r in rows],
    )


@app.command("claim-stalled")
def claim_stalled(
    ctx: typer.Context,
    idle_ms: int | None = typer.Option(None, "--idle-ms", min=1, help="Default: M10_CLAIM_IDLE_MS."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Reclaim entries idle longer than M10_CLAIM_IDLE_MS and evaluate them here; dead-letter those
    delivered M10_MAX_RECLAIM_ATTEMPTS times."""
    settings = stream_settings()
    if idle_ms is not None:
        settings = dataclasses.replace(settings, claim_idle_ms=idle_ms)
    with failures_as_exit_codes(), client(ctx) as c:
        worker = StreamWorker(
            c, stream_redis(ctx, timeout=TIMEOUT_SECONDS), settings, consumer=f"cli:{default_worker_id()}"
        )
        report = worker.claim_stalled()
        worker.leave_group()
    if as_json:
        print_json(report.to_json())
        return
    console.print(
        f"reclaimed {report.reclaimed}, dead-lettered {report.dead_lettered}, "
        f"trimmed {report.trimmed}, acknowledged {report.acknowledged}"
    )


@dead_letter_app.command("list")
def dead_letter_list(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", min=1, max=10000),
    as_json: bool = JSON_OPTION,
) -> None:
    """Dead-lettered entries, oldest first: work item, reason, consumer, deliveries, last error."""
    with _admin(ctx) as admin:
        rows = admin.dead_letters(limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "dead letters",
        ["id", "work id", "reason", "consumer", "deliveries", "last error", "replayed as"],
        [(r.id, r.work_id, r.reason, r.consumer, r.deliveries, r.last_error, r.replayed_as) for r in rows],
    )


@app.command()
def replay(
    ctx: typer.Context,
    dead_letter_id: str | None = typer.Argument(None, help="The entry id in the dead-letter stream."),
    replay_all: bool = typer.Option(False, "--all", help="Every dead-letter entry not replayed yet."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-add dead-lettered entries to the stream (their items requeued); replaying twice does nothing."""
    if (dead_letter_id is None) == (not replay_all):
        raise typer.BadParameter("give a dead-letter entry ID or --all (not both)")
    with _admin(ctx) as admin:
        results = admin.replay_all() if replay_all else [admin.replay(dead_letter_id or "")]
    if as_json:
        print_json([r.to_json() for r in results])
        return
    print_table(
        "replay",
        ["dead letter", "work id", "status", "stream id"],
        [(r.dead_letter_id, r.work_id, r.status, r.stream_id) for r in results],
    )
