"""`m10 db ...`: migrate, status, rollback."""

from __future__ import annotations

import typer

from m10py import schema
from m10py.cli.common import JSON_OPTION, console, failures_as_exit_codes, print_json, print_table, state

app = typer.Typer(help="Apply, inspect and roll back the database schema.", no_args_is_help=True)


@app.command()
def migrate(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Re-apply every function and view."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply pending migrations, then the package's functions and views."""
    with failures_as_exit_codes():
        result = schema.migrate(state(ctx).database_url(), force=force)
    if as_json:
        print_json(result.to_json())
        return
    console.print(
        f"migrations applied: {len(result.migrations_applied)} {' '.join(result.migrations_applied)}".rstrip()
    )
    console.print(f"objects applied: {len(result.objects_applied)}, unchanged: {result.objects_unchanged}")


@app.command()
def status(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Exit 1 unless the schema matches the package."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List pending migrations and objects that are missing, outdated or drifted."""
    with failures_as_exit_codes():
        result = schema.status(state(ctx).database_url())
    if as_json:
        print_json(result.to_json())
    else:
        console.print(f"package version {result.package_version}")
        console.print(f"applied migrations: {', '.join(result.applied_migrations) or 'none'}")
        console.print(f"pending migrations: {', '.join(result.pending_migrations) or 'none'}")
        if result.changed_migrations:
            console.print(
                f"[red]migrations edited after they were applied:[/red] "
                f"{', '.join(result.changed_migrations)}"
            )
        problems = result.problems
        if problems:
            print_table(
                "objects not matching the package",
                ["kind", "name", "state"],
                [(o.kind, o.name, o.state) for o in problems],
            )
        console.print("schema matches the package" if result.clean else "schema differs from the package")
    if check and not result.clean:
        raise typer.Exit(1)


@app.command()
def rollback(
    ctx: typer.Context,
    steps: int = typer.Option(1, "--steps", min=1, help="How many migrations to roll back."),
    all_: bool = typer.Option(False, "--all", help="Roll back every migration."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Drop the package's functions and views and roll back migrations (run migrate to restore)."""
    with failures_as_exit_codes():
        result = schema.rollback(state(ctx).database_url(), steps=None if all_ else steps)
    if as_json:
        print_json(result.to_json())
        return
    console.print(f"rolled back: {', '.join(result.migrations_rolled_back) or 'nothing'}")
    console.print(f"objects dropped: {len(result.objects_dropped)}")
