"""`m10 queue ...`: inspect and operate the durable work queue."""

from __future__ import annotations

import json

import typer

from m10py.cli.common import JSON_OPTION, client, console, payload_option, print_json, print_table

app = typer.Typer(help="Inspect and operate the durable work queue.", no_args_is_help=True)


@app.command()
def stats(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Counts per method: ready, delayed, claimed, lease expired, dead (completed items are deleted)."""
    with client(ctx) as c:
        rows = c.queue_stats()
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "work queue",
        ["method", "ready", "delayed", "claimed", "lease expired", "dead", "oldest ready (s)"],
        [
            (
                r.method,
                r.ready,
                r.delayed,
                r.claimed,
                r.lease_expired,
                r.dead,
                f"{r.oldest_ready_age_seconds:.1f}",
            )
            for r in rows
        ],
    )


@app.command("release-stalled")
def release_stalled(
    ctx: typer.Context,
    seconds: int = typer.Option(300, "--seconds", min=0, help="Release items claimed longer ago than this."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Release items whose worker has stalled so they can be claimed again now."""
    with client(ctx) as c:
        released = c.release_stalled_work(seconds)
    if as_json:
        print_json({"released": released})
    else:
        console.print(f"released {released} stalled item(s)")


@app.command()
def enqueue(
    ctx: typer.Context,
    method: str = typer.Option("evaluate", "--method", help="A row of m10_recovery.work_methods."),
    payload: str = typer.Option("{}", "--payload", help="A JSON object."),
    priority: int = typer.Option(0, "--priority", help="Higher is claimed first."),
    delay: float = typer.Option(0, "--delay", help="Seconds before the item may be claimed."),
    candidate_id: int | None = typer.Option(None, "--candidate-id"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Enqueue one work item."""
    body = payload_option(payload)
    with client(ctx) as c:
        work_id = c.enqueue_work(
            candidate_id=candidate_id, method=method, payload=body, priority=priority, delay_seconds=delay
        )
    if as_json:
        print_json({"work_id": work_id})
    else:
        console.print(f"enqueued work item {work_id}")


@app.command()
def claim(
    ctx: typer.Context,
    worker_id: str = typer.Option("manual_worker", "--worker-id"),
    batch_size: int = typer.Option(10, "--batch-size"),
    lease: int = typer.Option(300, "--lease", help="Lease in seconds."),
    method: str | None = typer.Option(None, "--method"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Claim items by hand (for debugging); complete them with `m10 queue complete`."""
    with client(ctx) as c:
        items = c.claim_work(worker_id, batch_size, lease_seconds=lease, method=method)
    if as_json:
        print_json([i.to_json() for i in items])
        return
    print_table(
        f"claimed by {worker_id}",
        ["work_id", "method", "priority", "attempt", "lease expires", "payload"],
        [
            (
                i.work_id,
                i.method,
                i.priority,
                f"{i.attempts}/{i.max_attempts}",
                i.lease_expires_at.isoformat(timespec="seconds"),
                json.dumps(i.payload),
            )
            for i in items
        ],
    )


@app.command()
def complete(
    ctx: typer.Context,
    work_id: int = typer.Argument(..., help="The work_id that claim returned."),
    failed: bool = typer.Option(False, "--failed", help="Record a failure (retried with backoff)."),
    error: str | None = typer.Option(None, "--error", help="The error message of a failure."),
    worker_id: str | None = typer.Option(
        None, "--worker-id", help="Only complete if this worker still holds the item."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the outcome of a claimed item."""
    with client(ctx) as c:
        recorded = c.complete_work(work_id, not failed, error, worker_id=worker_id)
    if as_json:
        print_json({"work_id": work_id, "recorded": recorded})
    else:
        console.print(
            f"work item {work_id}: "
            + ("outcome recorded" if recorded else "no change (already finished, or held by another worker)")
        )


@app.command("requeue-dead")
def requeue_dead(
    ctx: typer.Context,
    work_ids: list[int] | None = typer.Argument(None, help="Dead items to requeue."),
    method: str | None = typer.Option(None, "--method", help="Requeue every dead item of this method."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Give dead items a new set of attempts once their cause is fixed."""
    with client(ctx) as c:
        count = c.requeue_dead_work(work_ids or None, method=method)
    if as_json:
        print_json({"requeued": count})
    else:
        console.print(f"requeued {count} dead item(s)")
