"""`m10 ingest`: record failures from an argument, a file, standard input, or a JSON-lines file."""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
from m10py.client import M10Client
from m10py.errors import InvalidArgument
from m10py.ingest_input import FailureRequest, parse_document, read_json_lines, read_text
from m10py.models import IngestResult
from m10py.stream import StreamPublisher

BATCH = 100
FLUSH_SECONDS = 10.0


def ingest(
    ctx: typer.Context,
    payload: str | None = typer.Argument(
        None, help="The failure as JSON: a payload, or {failure_match_id, failure_payload, ...}."
    ),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read the failure from a file ('-': stdin)."),
    jsonl: Path | None = typer.Option(
        None, "--jsonl", help="Ingest many: one request object per line ('-': stdin)."
    ),
    failure_match_id: str | None = typer.Option(
        None, "--failure-match-id", help="For a bare payload (default: a new UUID)."
    ),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="Makes a retry a replay."),
    source: str | None = typer.Option(None, "--source", help="Where the failure comes from."),
    use_stream: bool = typer.Option(
        False, "--use-stream", help="XADD the work items to the Redis stream after commit (M10_USE_STREAM=1)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record failures: each becomes (or repeats) a recovery candidate queued for evaluation."""
    given = [x for x in (payload, file, jsonl) if x is not None]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of PAYLOAD, --file or --jsonl")
    with failures_as_exit_codes():
        publish = use_stream or stream_settings().publish
        if jsonl is not None:
            _ingest_many(ctx, jsonl, source, as_json, publish)
            return
        text, name = (payload, "PAYLOAD") if payload is not None else read_text(file, sys.stdin.buffer)
        request = parse_document(text, name, failure_match_id=failure_match_id)
        key = idempotency_key or request.idempotency_key
        with client(ctx) as c:
            _attach_stream(ctx, c, publish)
            result = c.ingest_failure(
                request.failure_match_id,
                request.failure_payload,
                source=source or request.source,
                idempotency_key=key,
            )
            _flush_stream(c)
    if as_json:
        print_json({"failure_match_id": request.failure_match_id, **result.to_json()})
        return
    console.print(
        f"candidate {result.candidate_id}: {result.status} (occurrences {result.occurrence_count}, "
        f"signature {result.error_signature}, failure_match_id {request.failure_match_id})"
    )


def _attach_stream(ctx: typer.Context, c: M10Client, publish: bool) -> None:
    """Give the client a publisher whose XADD waits at most M10_STREAM_TIMEOUT_MS."""
    if publish:
        settings = stream_settings()
        c.stream = StreamPublisher(stream_redis(ctx, timeout=settings.timeout_ms / 1000), settings)


def _flush_stream(c: M10Client) -> None:
    """Send what is queued before the process exits (bounded: a dead Redis is given up on at once)."""
    if c.stream is not None:
        c.stream.flush(FLUSH_SECONDS)


def _ingest_many(ctx: typer.Context, path: Path, source: str | None, as_json: bool, publish: bool) -> None:
    """Validate every line first, then send batches in one transaction: all or nothing."""
    if str(path) == "-":
        requests = list(read_json_lines(sys.stdin.buffer, "<stdin>"))
    else:
        try:
            with path.open("rb") as stream:
                requests = list(read_json_lines(stream, str(path)))
        except OSError as exc:
            raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from exc
    counts = {"accepted": 0, "duplicate": 0}
    results: list[IngestResult] = []
    with client(ctx) as c:
        _attach_stream(ctx, c, publish)
        with (
            c.pool.connection() as conn,
            conn.transaction(),
            Progress(
                TextColumn("ingesting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=as_json or not console.is_terminal,
            ) as progress,
        ):
            task = progress.add_task("ingest", total=len(requests))
            for chunk in _chunks(requests, BATCH):
                batch = c.ingest_failures([r.to_json() for r in chunk], source=source, conn=conn)
                for result in batch:
                    counts[result.status] += 1
                results.extend(batch)
                progress.advance(task, len(chunk))
        if c.stream is not None:  # after the commit, never before it
            c.stream.publish_results(results)
            _flush_stream(c)
    if as_json:
        print_json({"ingested": len(requests), **counts})
    else:
        print_table(
            "ingested",
            ["failures", "accepted", "duplicate"],
            [(len(requests), counts["accepted"], counts["duplicate"])],
        )


def _chunks(requests: list[FailureRequest], size: int) -> list[list[FailureRequest]]:
    iterator = iter(requests)
    return list(iter(lambda: list(islice(iterator, size)), []))
