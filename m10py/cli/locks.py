"""`m10 locks ...`: see and clean up distributed locks."""

from __future__ import annotations

import typer

from m10py.cli.common import JSON_OPTION, client, console, print_json, print_table

app = typer.Typer(help="See and clean up distributed locks.", no_args_is_help=True)


@app.command("list")
def list_locks(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every lock row, live or expired, with its holder."""
    with client(ctx) as c:
        rows = c.list_locks()
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "distributed locks",
        ["name", "holder", "acquired at", "expires at", "extensions"],
        [
            (r.lock_name, r.holder_id, r.acquired_at.isoformat(), r.expires_at.isoformat(), r.extend_count)
            for r in rows
        ],
    )


@app.command()
def cleanup(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Delete expired locks (acquire takes an expired lock over anyway; this keeps the table small)."""
    with client(ctx) as c:
        count = c.cleanup_expired_locks()
    if as_json:
        print_json({"deleted": count})
    else:
        console.print(f"deleted {count} expired lock(s)")
