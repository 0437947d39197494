"""Errors of the SQL API, raised as Python exceptions that keep PostgreSQL's message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class M10Error(Exception):
    """Base class: the message is the database's, which names the argument or item at fault."""


class InvalidArgument(M10Error):
    """An argument was rejected (SQLSTATE 22023, or 54000 for a value over a size limit)."""


class NotFound(M10Error):
    """The item named does not exist (SQLSTATE P0002)."""


class InvalidState(M10Error):
    """The item exists but is not in a state that allows the operation (SQLSTATE 55000)."""


_BY_SQLSTATE: dict[str, type[M10Error]] = {
    "22023": InvalidArgument,
    "54000": InvalidArgument,
    "P0002": NotFound,
    "55000": InvalidState,
}


@contextmanager
def translated() -> Iterator[None]:
    """Turn the SQL API's own errors into M10Error subclasses; let everything else through."""
    try:
        yield
    except psycopg.Error as exc:
        kind = _BY_SQLSTATE.get(exc.sqlstate or "")
        if kind is None:
            raise
        diag = exc.diag
        message = diag.message_primary or str(exc)
        if diag.message_hint:
            message = f"{message} (hint: {diag.message_hint})"
        raise kind(message) from exc
