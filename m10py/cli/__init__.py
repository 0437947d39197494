"""The `m10` command line."""

from __future__ import annotations

import logging

import typer

from m10py import __version__
from m10py.cli import candidates, db, locks, outbox, queue, stream
from m10py.cli.common import CliState, failures_as_exit_codes, state
from m10py.cli.ingest import ingest
from m10py.cli.worker import worker
from m10py.config import Settings
from m10py.services import ServiceResolver

app = typer.Typer(
    name="m10",
    help="m10py: a Postgres-native failure-recovery engine.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db.app, name="db")
app.add_typer(queue.app, name="queue")
app.add_typer(candidates.app, name="candidates")
app.add_typer(outbox.app, name="outbox")
app.add_typer(locks.app, name="locks")
app.add_typer(stream.app, name="stream")
app.command()(ingest)
app.command()(worker)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"m10py {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="DATABASE_URL",
        show_envvar=True,
        help="PostgreSQL URL. Unset: a container when Docker answers, else an embedded server.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if database_url:
        settings = Settings(
            database_url, settings.redis_url, settings.data_dir, settings.services, settings.pool_max_size
        )
    resolver = ServiceResolver(settings)
    ctx.call_on_close(resolver.close)
    ctx.obj = CliState(settings, resolver)


@app.command()
def demo(
    ctx: typer.Context,
    failures: int = typer.Option(400, "--failures", min=10, help="How many failures to ingest."),
    workers: int = typer.Option(2, "--workers", min=1, max=16, help="Evaluation workers."),
) -> None:
    """The engine end to end: ingest failures, evaluate, decide, execute, learn, show suggestions."""
    from m10py.demo import run_demo

    with failures_as_exit_codes():
        run_demo(state(ctx), failures=failures, workers=workers)


def main() -> None:
    app()
