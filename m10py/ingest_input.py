"""Reading failures for `m10 ingest`: one JSON document, or JSON lines, validated before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID, uuid4

from m10py.errors import InvalidArgument

_REQUEST_KEYS = frozenset({"failure_match_id", "failure_payload", "idempotency_key", "source"})


@dataclass(frozen=True)
class FailureRequest:
    failure_match_id: str
    failure_payload: dict[str, Any]
    idempotency_key: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "failure_match_id": self.failure_match_id,
            "failure_payload": self.failure_payload,
        }
        if self.idempotency_key is not None:
            data["idempotency_key"] = self.idempotency_key
        if self.source is not None:
            data["source"] = self.source
        return data


def parse_document(text: str, where: str, *, failure_match_id: str | None = None) -> FailureRequest:
    """One failure: either a whole request ({"failure_match_id", "failure_payload", ...}) or a bare
    failure payload, whose failure_match_id comes from the option or is generated."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    return _request(value, where, failure_match_id)


def read_json_lines(stream: BinaryIO, name: str) -> Iterator[FailureRequest]:
    """Requests from a JSON-lines stream; each line must name its failure_match_id."""
    for number, raw in enumerate(stream, 1):
        where = f"{name}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgument(
                f"{where}: not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"
            ) from exc
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"{where}: not valid JSON: {exc.msg} at column {exc.colno}") from exc
        if not isinstance(value, dict) or "failure_match_id" not in value:
            raise InvalidArgument(
                f"{where}: each line must be an object with failure_match_id and failure_payload"
            )
        yield _request(value, where, None)


def read_text(path: Path | None, stdin: BinaryIO) -> tuple[str, str]:
    """(text, name) of a file, or of standard input for '-'."""
    if path is None or str(path) == "-":
        data, name = stdin.read(), "<stdin>"
    else:
        try:
            data, name = path.read_bytes(), str(path)
        except OSError as exc:
            raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{name}: not valid UTF-8 at byte {exc.start}") from exc


def _request(value: Any, where: str, failure_match_id: str | None) -> FailureRequest:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: a failure must be a JSON object, got {type(value).__name__}")
    if "failure_payload" not in value:  # a bare payload
        return FailureRequest(_uuid(failure_match_id or str(uuid4()), f"{where}: failure_match_id"), value)
    unknown = sorted(set(value) - _REQUEST_KEYS)
    if unknown:
        raise InvalidArgument(f"{where}: unknown field(s) {', '.join(unknown)}")
    payload = value["failure_payload"]
    if not isinstance(payload, dict):
        raise InvalidArgument(f"{where}: failure_payload must be an object, got {type(payload).__name__}")
    match_id = value.get("failure_match_id", failure_match_id)
    if match_id is None:
        raise InvalidArgument(f"{where}: failure_match_id is missing")
    key = value.get("idempotency_key")
    source = value.get("source")
    if source is not None and not isinstance(source, str):
        raise InvalidArgument(f"{where}: source must be a string")
    return FailureRequest(
        _uuid(match_id, f"{where}: failure_match_id"),
        payload,
        None if key is None else _uuid(key, f"{where}: idempotency_key"),
        source,
    )


def _uuid(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a UUID string, got {type(value).__name__}")
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise InvalidArgument(f"{what} is not a UUID: {value!r}") from exc
