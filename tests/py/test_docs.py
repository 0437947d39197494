"""The documents an operator reads agree with the code."""

from __future__ import annotations

from tools.sql_reference import TARGET, render


def test_sql_reference_is_generated_from_the_sql() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "run: python tools/sql_reference.py"
