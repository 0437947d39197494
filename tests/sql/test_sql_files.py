"""Collects every case of tests/sql/test_*.sql and runs it in a rolled-back transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg import Connection
from psycopg.rows import TupleRow

from tests.sql.sqlcases import SqlCase, SqlCaseFailure, discover, run_case

CASES = discover(Path(__file__).parent)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sql(case: SqlCase, db: Connection[TupleRow]) -> None:
    failure: SqlCaseFailure | None = None
    try:
        run_case(db, case)
    except SqlCaseFailure as exc:
        failure = exc
    if failure is not None:
        pytest.fail(str(failure), pytrace=False)
