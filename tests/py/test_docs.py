"""The documents an operator reads agree with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from m10py.cli import app
from tools.sql_reference import TARGET, render

ROOT = Path(__file__).resolve().parents[2]


def test_sql_reference_is_generated_from_the_sql() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "run: python tools/sql_reference.py"


def _command_paths(command: Any, prefix: str) -> list[str]:
    subcommands = getattr(command, "commands", None)  # a group (typer vendors click's types)
    if subcommands is not None:
        paths = [prefix] if command.invoke_without_command else []
        for name, sub in subcommands.items():
            paths += _command_paths(sub, f"{prefix} {name}")
        return paths
    return [prefix]


def test_every_cli_command_is_documented() -> None:
    """An operator finds every command of `m10` in the README or docs/, as `m10 <command>`."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    docs = "\n".join(p.read_text(encoding="utf-8") for p in documents)
    paths = _command_paths(typer.main.get_command(app), "m10")
    assert len(paths) > 10
    missing = [path for path in paths if path != "m10" and path not in docs]
    assert missing == [], f"commands no document shows: {missing}"
