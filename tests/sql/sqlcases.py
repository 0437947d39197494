"""Run `.sql` test files under pytest.

A file holds cases, each starting at a line `-- test: name`; lines before the first case are a
setup run before every case. A case runs statement by statement in one transaction that is rolled
back afterwards. Assertions are plain SQL calling m10_test.is / ok / throws (tests/sql/_helpers.sql),
or any statement that raises. A failure names the file, the case, the line of the failing statement,
the statement and PostgreSQL's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import Connection
from psycopg.rows import TupleRow

_CASE_HEADER = re.compile(r"^--\s*test:\s*(?P<name>\S.*?)\s*$")


@dataclass(frozen=True)
class Statement:
    line: int
    text: str


@dataclass(frozen=True)
class SqlCase:
    path: Path
    name: str
    setup: tuple[Statement, ...]
    body: tuple[Statement, ...]

    @property
    def id(self) -> str:
        return f"{self.path.name}::{self.name}"


# Pieces of SQL inside which a semicolon does not end a statement, and the semicolon itself.
_TOKEN = re.compile(
    r"""--[^\n]*                 # line comment
      | /\*.*?\*/               # block comment
      | '(?:[^']|'')*'          # string
      | "(?:[^"]|"")*"          # quoted identifier
      | (\$[A-Za-z_]*\$).*?\1   # dollar-quoted body
      | ;""",
    re.S | re.X,
)
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.S)


def split_statements(text: str, first_line: int = 1) -> list[Statement]:
    """Split SQL on top-level semicolons, honouring quotes, dollar quotes and comments."""
    ends = [m.start() for m in _TOKEN.finditer(text) if m.group(0) == ";"]
    statements: list[Statement] = []
    start = 0
    for end in [*ends, len(text)]:
        segment = text[start:end]
        body_at = _LEADING_NOISE.match(segment)
        offset = body_at.end() if body_at else 0
        if offset < len(segment):
            line = first_line + text.count("\n", 0, start + offset)
            statements.append(Statement(line, segment[offset:].strip()))
        start = end + 1
    return statements


def parse_file(path: Path) -> list[SqlCase]:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    headers = [(i, m.group("name")) for i, ln in enumerate(lines) if (m := _CASE_HEADER.match(ln))]
    if not headers:
        raise ValueError(f"{path}: no '-- test: name' case in the file")
    setup = tuple(split_statements("".join(lines[: headers[0][0]])))
    cases = []
    for k, (index, name) in enumerate(headers):
        end = headers[k + 1][0] if k + 1 < len(headers) else len(lines)
        body = tuple(split_statements("".join(lines[index + 1 : end]), first_line=index + 2))
        cases.append(SqlCase(path, name, setup, body))
    return cases


def discover(folder: Path) -> list[SqlCase]:
    return [case for path in sorted(folder.glob("test_*.sql")) for case in parse_file(path)]


class SqlCaseFailure(AssertionError):
    pass


def run_case(conn: Connection[TupleRow], case: SqlCase) -> None:
    """Run the case's statements in the current transaction; the caller rolls it back."""
    for statement in (*case.setup, *case.body):
        try:
            conn.execute(statement.text)  # type: ignore[arg-type]  # test file, not user input
        except psycopg.Error as exc:
            diag = exc.diag
            kind = "assertion failed" if exc.sqlstate == "M1T00" else f"SQL error {exc.sqlstate}"
            detail = f"\n  detail: {diag.message_detail}" if diag.message_detail else ""
            raise SqlCaseFailure(
                f"{case.path.name}:{statement.line}: {case.name}: {kind}: "
                f"{diag.message_primary or exc}{detail}\n  statement: {statement.text}"
            ) from None
