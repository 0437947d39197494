"""What every command shares: the resolved services, the client, and output for people or machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from m10py.client import M10Client
from m10py.config import Settings, redact_url
from m10py.db import create_pool
from m10py.errors import M10Error
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
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    except (ServiceUnavailable, psycopg.OperationalError) as exc:
        err_console.print(f"[red]database unavailable:[/red] {redact_url(str(exc))}")
        raise typer.Exit(EXIT_UNAVAILABLE) from exc


@contextmanager
def client(ctx: typer.Context) -> Iterator[M10Client]:
    with failures_as_exit_codes():
        pool = create_pool(state(ctx).database_url(), min_size=1, max_size=2)
        try:
            yield M10Client(pool)
        finally:
            pool.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
