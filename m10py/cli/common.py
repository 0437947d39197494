"""What every command shares: the resolved services, the client, and output for people or machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from m10py.client import M10Client
from m10py.config import Settings, StreamSettings, redact_url
from m10py.db import create_pool
from m10py.errors import InvalidArgument, M10Error
from m10py.redis_conn import redis_client
from m10py.services import ServiceResolver, ServiceUnavailable

EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3

JSON_OPTION = typer.Option(False, "--json", help="Print JSON for machines instead of a table.")

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    settings: Settings
    resolver: ServiceResolver

    def database_url(self) -> str:
        return self.resolver.database_url()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState), "the root callback sets the CLI state"
    return obj


@contextmanager
def failures_as_exit_codes() -> Iterator[None]:
    """Print the reason for a failure on stderr and exit with a code that says which kind it was."""
    try:
        yield
    except M10Error as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from exc
    except (ServiceUnavailable, psycopg.OperationalError) as exc:
        err_console.print(f"[red]database unavailable:[/red] {escape(redact_url(str(exc)))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc
    except redis.RedisError as exc:
        err_console.print(f"[red]redis unavailable:[/red] {escape(redact_url(str(exc)))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc
    except (
        psycopg.errors.InvalidSchemaName,
        psycopg.errors.UndefinedFunction,
        psycopg.errors.UndefinedTable,
    ) as exc:
        err_console.print(
            f"[red]error:[/red] {escape(str(exc).strip())} (is the schema migrated? run `m10 db migrate`)"
        )
        raise typer.Exit(EXIT_FAILED) from exc


@contextmanager
def client(ctx: typer.Context) -> Iterator[M10Client]:
    with failures_as_exit_codes():
        url = state(ctx).database_url()
        try:
            # One plain connection first: a refused or rejected connection is reported at once,
            # naming the database, instead of after the pool's 30 s of retries.
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable(f"{redact_url(url)}: {exc}") from exc
        pool = create_pool(url, min_size=1, max_size=2)
        try:
            yield M10Client(pool)
        finally:
            pool.close()


def stream_settings() -> StreamSettings:
    try:
        return StreamSettings.from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def stream_redis(ctx: typer.Context, *, timeout: float) -> redis.Redis:
    """The Redis of the stream bridge: REDIS_URL (a server or a sentinel deployment), required."""
    url = state(ctx).settings.redis_url
    if not url:
        raise InvalidArgument(
            "the stream bridge needs REDIS_URL (redis://host:port/db or redis+sentinel://...)"
        )
    try:
        return redis_client(url, timeout=timeout)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from exc


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # Cells are data (payloads, worker ids), never rich markup.
    table = Table(title=escape(title))
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    console.print(table)


def payload_option(text: str) -> dict[str, Any]:
    """The JSON object given to --payload, or a usage error naming the option."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--payload is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter("--payload must be a JSON object")
    return value
