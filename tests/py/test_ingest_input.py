"""Reading failures for `m10 ingest`: every malformed input is refused with its place named."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from m10py.errors import InvalidArgument
from m10py.ingest_input import parse_document, read_json_lines, read_text

FMID = "6f1c1f8e-8f0b-4c3e-9d7e-0a8b4b7f2c11"


def test_bare_payload_gets_the_given_or_a_new_failure_match_id() -> None:
    given = parse_document('{"error_type": "TIMEOUT"}', "PAYLOAD", failure_match_id=FMID)
    assert (given.failure_match_id, given.failure_payload) == (FMID, {"error_type": "TIMEOUT"})
    generated = parse_document('{"error_type": "TIMEOUT"}', "PAYLOAD")
    assert uuid.UUID(generated.failure_match_id)


def test_full_request_keeps_key_and_source() -> None:
    key = str(uuid.uuid4())
    request = parse_document(
        f'{{"failure_match_id": "{FMID}", "failure_payload": {{"raw": "x"}}, "idempotency_key": "{key}",'
        ' "source": "agent-7"}',
        "PAYLOAD",
    )
    assert request.to_json() == {
        "failure_match_id": FMID,
        "failure_payload": {"raw": "x"},
        "idempotency_key": key,
        "source": "agent-7",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"^PAYLOAD: not valid JSON"),
        ("[1, 2]", r"^PAYLOAD: a failure must be a JSON object, got list"),
        ('{"failure_payload": []}', r"failure_payload must be an object, got list"),
        ('{"failure_payload": {}}', r"failure_match_id is missing"),
        ('{"failure_match_id": "nope", "failure_payload": {}}', r"failure_match_id is not a UUID: 'nope'"),
        (
            '{"failure_match_id": 42, "failure_payload": {}}',
            r"failure_match_id must be a UUID string, got int",
        ),
        (
            f'{{"failure_match_id": "{FMID}", "failure_payload": {{}}, "idempotency_key": "k"}}',
            r"idempotency_key is not a UUID",
        ),
        (
            f'{{"failure_match_id": "{FMID}", "failure_payload": {{}}, "extra": 1}}',
            r"unknown field\(s\) extra",
        ),
    ],
)
def test_malformed_documents_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_document(text, "PAYLOAD")


def test_json_lines_name_the_line_at_fault() -> None:
    good = f'{{"failure_match_id": "{FMID}", "failure_payload": {{"raw": "a"}}}}\n'
    lines = good + "\n" + good
    assert len(list(read_json_lines(io.BytesIO(lines.encode()), "f.jsonl"))) == 2
    with pytest.raises(InvalidArgument, match=r"^f.jsonl:3: not valid UTF-8"):
        list(read_json_lines(io.BytesIO(good.encode() * 2 + b'{"raw": "\xff\xfe"}\n'), "f.jsonl"))
    with pytest.raises(InvalidArgument, match=r"^f.jsonl:2: not valid JSON"):
        list(read_json_lines(io.BytesIO((good + "{oops\n").encode()), "f.jsonl"))
    with pytest.raises(
        InvalidArgument, match=r"^f.jsonl:1: each line must be an object with failure_match_id"
    ):
        list(read_json_lines(io.BytesIO(b'{"error_type": "X"}\n'), "f.jsonl"))


def test_read_text_refuses_invalid_utf8_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"raw": "\xc3\x28"}')
    with pytest.raises(InvalidArgument, match=r"bad.json: not valid UTF-8 at byte 9"):
        read_text(bad, io.BytesIO())
    with pytest.raises(InvalidArgument, match=r"cannot read .*missing.json"):
        read_text(tmp_path / "missing.json", io.BytesIO())
    assert read_text(None, io.BytesIO(b'{"a": 1}')) == ('{"a": 1}', "<stdin>")
