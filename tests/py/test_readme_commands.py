"""The README's examples run as written, each marked block against a freshly migrated database.

Marker: an HTML comment on the line right before a fenced block opts the block in:

    <!-- readme-test -->            or, with a name for the test id,   <!-- readme-test: m10 -->

- a ```bash / ```sh / ```shell / ```console block: its lines starting with `m10 ` or `psql `
  (after an optional `$ ` prompt; a trailing backslash continues a line) run in order through
  bash, with the venv's `m10` first on PATH and DATABASE_URL / REDIS_URL set; every one must exit
  0. Other lines (comments, `export`, `make`, ...) are not run. psql commands must connect with
  "$DATABASE_URL" and are skipped when psql is not installed.
- a ```python block: runs with the test's interpreter, DATABASE_URL set to a fresh migrated database.
- a ```sql block: the whole block runs through `psql -X -v ON_ERROR_STOP=1 "$DATABASE_URL"` (through
  psycopg, statement by statement, when psql is not installed).

Each block starts from its own migrated database (the `fresh_db_url` fixture), so blocks do not
depend on each other. M10_README_PATH points the test at another file (for trying a draft README).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.sql.sqlcases import split_statements

ROOT = Path(__file__).resolve().parents[2]
README = Path(os.environ.get("M10_README_PATH") or ROOT / "README.md")
VENV_BIN = Path(sys.executable).parent
COMMAND_TIMEOUT = 180

_MARKER = re.compile(r"^\s*<!--\s*readme-test(?:\s*:\s*(?P<label>[\w.-]+))?\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_SHELL = frozenset({"bash", "sh", "shell", "console"})
_SQL = frozenset({"sql", "psql"})
_PYTHON = frozenset({"python", "py"})
_PROGRAMS = frozenset({"m10", "psql"})
_USES_DATABASE_URL = re.compile(r"\$\{?DATABASE_URL\}?")


@dataclass(frozen=True)
class Command:
    line: int
    text: str

    @property
    def program(self) -> str:
        return self.text.split(maxsplit=1)[0]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    label: str | None
    body: str
    commands: tuple[Command, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.label or self.language}@{self.path.name}:{self.line}"

    @property
    def is_sql(self) -> bool:
        return self.language in _SQL


def shell_commands(body: str, first_line: int) -> list[Command]:
    """The m10 / psql command lines of a shell block, continuation lines joined."""
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    for offset, raw in enumerate(body.splitlines()):
        line = raw.strip()
        if not pending:
            start = first_line + offset
            line = line.removeprefix("$ ")
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        text = " ".join([*pending, line]).strip()
        pending = []
        if text and not text.startswith("#") and text.split(maxsplit=1)[0] in _PROGRAMS:
            commands.append(Command(start, text))
    return commands


def parse_readme(text: str, path: Path = README) -> tuple[list[Block], list[str]]:
    """The marked blocks of a Markdown text, and what is wrong with the markers."""
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        if not marker:
            i += 1
            continue
        where = f"{path.name}:{i + 1}"
        opening = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if not opening:
            problems.append(f"{where}: a readme-test marker must be right before a fenced block")
            i += 1
            continue
        fence, language = opening.group("fence"), opening.group("info").lower()
        end = next(
            (
                j
                for j in range(i + 2, len(lines))
                if lines[j].strip().startswith(fence) and not lines[j].strip().strip(fence[0])
            ),
            None,
        )
        if end is None:
            problems.append(f"{where}: the marked block is never closed")
            break
        body = "\n".join(lines[i + 2 : end])
        commands = tuple(shell_commands(body, i + 3)) if language in _SHELL else ()
        block = Block(path, i + 2, language, marker.group("label"), body, commands)
        if language in _SHELL:
            if not block.commands:
                problems.append(f"{where}: the marked {language} block has no m10 or psql command")
            problems.extend(
                f'{path.name}:{c.line}: psql must connect with "$DATABASE_URL": {c.text}'
                for c in block.commands
                if c.program == "psql" and not _USES_DATABASE_URL.search(c.text)
            )
        elif language in _SQL:
            if not split_statements(body):
                problems.append(f"{where}: the marked sql block has no statement")
        elif language in _PYTHON:
            if not body.strip():
                problems.append(f"{where}: the marked python block is empty")
        else:
            problems.append(
                f"{where}: a readme-test block must be one of "
                f"{', '.join(sorted(_SHELL | _SQL | _PYTHON))}, not {language or 'plain'!r}"
            )
        blocks.append(block)
        i = end + 1
    return blocks, problems


def _readme_blocks() -> list[Block]:
    if not README.is_file():
        return []
    blocks, _ = parse_readme(README.read_text(encoding="utf-8"))
    return [b for b in blocks if b.is_sql or b.language in _SHELL | _PYTHON]


BLOCKS = _readme_blocks()


def _env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "M10_DATA_DIR": str(tmp_path / "m10-data"),  # never the project's own embedded servers
        "COLUMNS": "160",
        "NO_COLOR": "1",
    }


def _run(argv: list[str], what: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> None:
    try:
        result = subprocess.run(
            argv,
            input=stdin,
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}\n  did not finish within {COMMAND_TIMEOUT}s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"{what}\n  exit code {result.returncode}\n"
            f"  stdout:\n{result.stdout[-3000:]}\n  stderr:\n{result.stderr[-3000:]}",
            pytrace=False,
        )


def _run_sql_block(block: Block, env: dict[str, str], cwd: Path, database_url: str) -> None:
    what = f"{block.path.name}:{block.line}: the sql block"
    psql = shutil.which("psql")
    if psql:
        argv = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_url, "-f", "-"]
        _run(argv, f"{what} (through psql)", env, cwd, stdin=block.body)
        return
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in split_statements(block.body, block.line + 1):
            try:
                conn.execute(statement.text)  # type: ignore[arg-type]  # README text, not user input
            except psycopg.Error as exc:
                pytest.fail(f"{block.path.name}:{statement.line}: {statement.text}\n  {exc}", pytrace=False)


def _run_shell_block(block: Block, env: dict[str, str], cwd: Path) -> None:
    m10 = shutil.which("m10", path=str(VENV_BIN))
    assert m10, f"no m10 next to {sys.executable}: install the project (make install)"
    bash = shutil.which("bash") or "sh"
    have_psql = shutil.which("psql", path=env["PATH"]) is not None
    ran = 0
    for command in block.commands:
        if command.program == "psql" and not have_psql:
            continue
        what = f"{block.path.name}:{command.line}: $ {command.text}"
        _run([bash, "-c", command.text], what, env, cwd)
        ran += 1
    if not ran:
        pytest.skip(f"{block.id}: only psql commands, and psql is not installed")


def test_readme_markers_are_well_formed() -> None:
    if not README.is_file():
        pytest.skip(f"{README} does not exist")
    _, problems = parse_readme(README.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "block",
    BLOCKS or [pytest.param(None, marks=pytest.mark.skip(reason=f"no readme-test block in {README}"))],
    ids=[b.id for b in BLOCKS] or ["no-blocks"],
)
def test_readme_block_runs(block: Block, fresh_db_url: str, redis_url: str, tmp_path: Path) -> None:
    env = _env(fresh_db_url, redis_url, tmp_path)
    if block.is_sql:
        _run_sql_block(block, env, tmp_path, fresh_db_url)
    elif block.language in _PYTHON:
        _run([sys.executable, "-c", block.body], f"{block.id}: the python block", env, tmp_path)
    else:
        _run_shell_block(block, env, tmp_path)


_SAMPLE = """\
# Title

```bash
m10 not-marked
```

<!-- readme-test -->
```bash
$ m10 db status   # a comment
export FOO=1
m10 queue enqueue \\
    --priority 5
psql "$DATABASE_URL" -c "SELECT 1"
```

<!-- readme-test: from-psql -->
```sql
SELECT 1;
SELECT ';';
```

<!-- readme-test -->
Not a fence.

<!-- readme-test -->
```text
not runnable
```

<!-- readme-test -->
```sh
psql -c "SELECT 1"
```
"""


def test_parse_readme_follows_the_convention() -> None:
    blocks, problems = parse_readme(_SAMPLE, Path("SAMPLE.md"))
    shell, sql, text, bad_psql = blocks
    assert shell.id == "bash@SAMPLE.md:8"
    assert [(c.line, c.text) for c in shell.commands] == [
        (9, "m10 db status   # a comment"),
        (11, "m10 queue enqueue --priority 5"),
        (13, 'psql "$DATABASE_URL" -c "SELECT 1"'),
    ]
    assert sql.id == "from-psql@SAMPLE.md:17"
    assert sql.is_sql
    assert [s.text for s in split_statements(sql.body)] == ["SELECT 1", "SELECT ';'"]
    assert text.language == "text"
    assert shlex.split(bad_psql.commands[0].text) == ["psql", "-c", "SELECT 1"]
    assert problems == [
        "SAMPLE.md:22: a readme-test marker must be right before a fenced block",
        "SAMPLE.md:25: a readme-test block must be one of bash, console, psql, py, python, sh, shell, "
        "sql, not 'text'",
        'SAMPLE.md:32: psql must connect with "$DATABASE_URL": psql -c "SELECT 1"',
    ]
