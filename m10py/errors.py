"""Errors of the SQL API, raised as Python exceptions that keep PostgreSQL's message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class M10Error(Exception):
    """Base class: the message is the database's, which names the argument or item at fault."""


class InvalidArgument(M10Error):
    """An argument was rejected: by the SQL API (22023; 54000 over a size limit), by PostgreSQL's own
    input checks (22003 out of range, 22P02 invalid text, 22P05 a NUL in JSON, 54001 JSON nested too
    deep), or before sending."""


class NotFound(M10Error):
    """The item named does not exist (SQLSTATE P0002)."""


class InvalidState(M10Error):
    """The item exists but is not in a state that allows the operation (SQLSTATE 55000)."""


_BY_SQLSTATE: dict[str, type[M10Error]] = {
    "22023": InvalidArgument,
    "54000": InvalidArgument,
    "54001": InvalidArgument,
    "22003": InvalidArgument,
    "22P02": InvalidArgument,
    "22P05": InvalidArgument,
    "P0002": NotFound,
    "55000": InvalidState,
}


@contextmanager
def translated() -> Iterator[None]:
    """Turn invalid input and the SQL API's own errors into M10Error subclasses; let the rest through."""
    try:
        yield
    except psycopg.DataError as exc:
        if exc.sqlstate is None:  # refused by psycopg before sending, e.g. a NUL in a text argument
            raise InvalidArgument(str(exc)) from exc
        raise _translate(exc) from exc
    except psycopg.Error as exc:
        raise _translate(exc) from exc


def _translate(exc: psycopg.Error) -> Exception:
    kind = _BY_SQLSTATE.get(exc.sqlstate or "")
    if kind is None:
        return exc
    diag = exc.diag
    message = diag.message_primary or str(exc)
    if diag.message_detail:
        message = f"{message}: {diag.message_detail}"
    if diag.message_hint:
        message = f"{message} (hint: {diag.message_hint})"
    return kind(message)
