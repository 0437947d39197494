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


def split_statements(text: str, first_line: int = 1) -> list[Statement]:
    """Split SQL on top-level semicolons, honouring quotes, dollar quotes and comments."""
    statements: list[Statement] = []
    i, n = 0, len(text)
    start = 0
    line = first_line
    start_line: int | None = None
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        if start_line is None and not ch.isspace():
            if text.startswith("--", i):
                end = text.find("\n", i)
                i = n if end == -1 else end
                continue
            start_line = line
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end == -1 else end + 2
            line += text.count("\n", i, end)
            i = end
            continue
        if ch in "'\"":
            end = i + 1
            while end < n:
                if text[end] == ch and text.startswith(ch * 2, end):
                    end += 2
                    continue
                if text[end] == ch:
                    break
                end += 1
            line += text.count("\n", i, end)
            i = end + 1
            continue
        tag = re.match(r"\$[A-Za-z_]*\$", text[i:])
        if tag:
            close = text.find(tag.group(0), i + len(tag.group(0)))
            end = n if close == -1 else close + len(tag.group(0))
            line += text.count("\n", i, end)
            i = end
            continue
        if ch == ";":
            body = text[start:i].strip()
            if body and start_line is not None:
                statements.append(Statement(start_line, body))
            start = i + 1
            start_line = None
        i += 1
    tail = text[start:].strip()
    if tail and start_line is not None and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in tail.splitlines()
    ):
        statements.append(Statement(start_line, tail))
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
