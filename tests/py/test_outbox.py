"""The outbox processor and its handlers against real PostgreSQL, HTTP and Redis: outcomes by HTTP
status, unknown types, pluggable handlers, a dead Redis, and bad input to publish."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from m10py.client import M10Client
from m10py.config import OutboxSettings
from m10py.errors import InvalidArgument
from m10py.models import OutboxEvent
from m10py.outbox import HandlerRegistry, OutboxProcessor, Outcome
from m10py.outbox_handlers import StreamHandler, WebhookHandler, build_registry, parse_retry_after


class StatusServer:
    """Answers every POST with one status and headers; records the requests."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append(dict(self.headers))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[StatusServer] = []

    def start(status: int, headers: dict[str, str] | None = None) -> StatusServer:
        servers.append(StatusServer(status, headers))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _processor(client: M10Client, registry: HandlerRegistry) -> OutboxProcessor:
    return OutboxProcessor(client, registry, processor_id="p", batch_size=10, concurrency=4, lease_seconds=30)


def _row(client: M10Client, outbox_id: int) -> tuple[Any, ...] | None:
    with client.pool.connection() as conn:
        return conn.execute(
            "SELECT retry_count, last_error, next_retry_at - now(), processed_at IS NOT NULL"
            " FROM m10_recovery.outbox WHERE id = %s",
            (outbox_id,),
        ).fetchone()


def _dead_reason(client: M10Client, outbox_id: int) -> str | None:
    with client.pool.connection() as conn:
        row = conn.execute(
            "SELECT reason FROM m10_recovery.outbox_dead_letter WHERE id = %s", (outbox_id,)
        ).fetchone()
    return None if row is None else str(row[0])


def _run_once(processor: OutboxProcessor) -> None:
    # One claim and its deliveries: run(once=True) would claim again while anything is due, and a
    # failure's full-jitter backoff can be due at once, which would make attempt counts random.
    with ThreadPoolExecutor(processor.concurrency) as deliverers:
        processor.process_batch(deliverers)


def test_2xx_is_delivered_with_standard_webhooks_headers(client: M10Client, serve: Any) -> None:
    server = serve(204)
    registry = HandlerRegistry()
    registry.register("webhook.", WebhookHandler(server.url, secret="whsec_" + "c2VjcmV0", timeout=2))
    outbox_id = client.publish_outbox("webhook.order.paid", {"order": 1})
    _run_once(_processor(client, registry))
    row = _row(client, outbox_id)
    assert row is not None and row[3], "processed"
    (headers,) = server.requests
    assert headers["webhook-id"] == _event_id(client, outbox_id)
    assert headers["webhook-timestamp"].isdigit()
    assert headers["webhook-signature"].startswith("v1,")


def _event_id(client: M10Client, outbox_id: int) -> str:
    with client.pool.connection() as conn:
        row = conn.execute("SELECT event_id FROM m10_recovery.outbox WHERE id = %s", (outbox_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_410_dead_letters_at_once(client: M10Client, serve: Any) -> None:
    registry = HandlerRegistry()
    registry.register("webhook.", WebhookHandler(serve(410).url, timeout=2))
    outbox_id = client.publish_outbox("webhook.x", {})
    _run_once(_processor(client, registry))
    reason = _dead_reason(client, outbox_id)
    assert reason is not None and "410 Gone" in reason
    assert _row(client, outbox_id) is None


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_honour_retry_after(client: M10Client, serve: Any, status: int) -> None:
    registry = HandlerRegistry()
    registry.register("webhook.", WebhookHandler(serve(status, {"Retry-After": "120"}).url, timeout=2))
    outbox_id = client.publish_outbox("webhook.x", {})
    _run_once(_processor(client, registry))
    row = _row(client, outbox_id)
    assert row is not None
    retry_count, last_error, wait, processed = row
    assert (retry_count, processed) == (1, False)
    assert f"HTTP {status}" in last_error
    assert 115 < wait.total_seconds() <= 120


@pytest.mark.parametrize("status", [400, 409, 422, 500, 302])
def test_other_statuses_are_failures_not_successes(client: M10Client, serve: Any, status: int) -> None:
    registry = HandlerRegistry()
    registry.register("webhook.", WebhookHandler(serve(status).url, timeout=2))
    outbox_id = client.publish_outbox("webhook.x", {})
    _run_once(_processor(client, registry))
    row = _row(client, outbox_id)
    assert row is not None and row[0] == 1 and not row[3]
    assert 0 <= row[2].total_seconds() <= 2, "first retry within base * 2^0 = 2 s"


def test_connection_refused_is_a_retry(client: M10Client) -> None:
    registry = HandlerRegistry()
    registry.register("webhook.", WebhookHandler("http://127.0.0.1:9/hook", timeout=1))
    outbox_id = client.publish_outbox("webhook.x", {})
    _run_once(_processor(client, registry))
    row = _row(client, outbox_id)
    assert row is not None and row[0] == 1 and "webhook" in row[1]


def test_unknown_types_are_dead_lettered_with_a_reason(client: M10Client) -> None:
    registry = build_registry(OutboxSettings(), None)
    outbox_id = client.publish_outbox("nobody.handles.this", {"x": 1})
    _run_once(_processor(client, registry))
    reason = _dead_reason(client, outbox_id)
    assert reason is not None and "no handler for event type 'nobody.handles.this'" in reason
    assert client.replay_outbox([outbox_id]) == 1, "replayable once a route exists"


def test_a_plugged_in_handler_is_chosen_by_the_longest_prefix(client: M10Client) -> None:
    seen: list[OutboxEvent] = []
    registry = HandlerRegistry()
    registry.register("orders.", lambda e: Outcome.dead("wrong handler"))
    registry.register("orders.paid.", lambda e: seen.append(e) or Outcome.delivered())
    outbox_id = client.publish_outbox(
        "orders.paid.eu", {"order": 7}, aggregate_type="order", aggregate_id="7"
    )
    _run_once(_processor(client, registry))
    assert [(e.outbox_id, e.payload, e.aggregate_id) for e in seen] == [(outbox_id, {"order": 7}, "7")]


def test_a_handler_that_raises_is_retried_not_lost(client: M10Client) -> None:
    registry = HandlerRegistry()
    registry.register("x.", lambda e: 1 / 0)  # type: ignore[arg-type, return-value]
    outbox_id = client.publish_outbox("x.y", {})
    _run_once(_processor(client, registry))
    row = _row(client, outbox_id)
    assert row is not None and row[0] == 1 and row[1].startswith("ZeroDivisionError")


def test_stream_handler_adds_to_a_real_stream(client: M10Client, redis_url: str) -> None:
    key = f"m10:test:outbox:{uuid.uuid4().hex}"
    r = redis.Redis.from_url(redis_url)
    try:
        registry = HandlerRegistry()
        registry.register("stream.", StreamHandler(r, key))
        outbox_id = client.publish_outbox("stream.candidate", {"n": 1})
        _run_once(_processor(client, registry))
        ((_, fields),) = r.xrange(key)
        assert fields[b"event_id"].decode() == _event_id(client, outbox_id)
        assert json.loads(fields[b"payload"]) == {"n": 1}
    finally:
        r.delete(key)


def test_dead_redis_keeps_the_event_for_a_retry(client: M10Client) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, socket_timeout=1)
    registry = HandlerRegistry()
    registry.register("stream.", StreamHandler(dead, "m10:outbox:stream"))
    outbox_id = client.publish_outbox("stream.candidate", {"n": 1})
    _run_once(_processor(client, registry))
    row = _row(client, outbox_id)
    assert row is not None and row[0] == 1 and not row[3]
    assert row[1].startswith("redis ConnectionError")


def test_publish_joins_the_callers_transaction(client: M10Client) -> None:
    with client.pool.connection() as conn:
        with conn.transaction(force_rollback=True):
            client.publish_outbox("log.x", {}, conn=conn)
        assert client.outbox_stats().pending == 0
        with conn.transaction():
            client.publish_outbox("log.x", {}, conn=conn)
    assert client.outbox_stats().pending == 1


@pytest.mark.parametrize(
    ("event_type", "payload", "message"),
    [
        ("", {}, "p_event_type must be"),
        ("  ", {}, "p_event_type must be"),
        ("log.x\x00", {}, "NUL"),
        ("log.x", {"bad": float("nan")}, "not valid JSON"),
        ("log.x", {"bad": "\x00"}, "NUL character"),
        ("log.x", {"big": "x" * 2_000_000}, "the limit is 1048576"),
    ],
    ids=["empty type", "blank type", "NUL in type", "NaN", "NUL in payload", "huge payload"],
)
def test_publish_refuses_bad_input_and_writes_nothing(
    client: M10Client, event_type: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        client.publish_outbox(event_type, payload)
    assert client.outbox_stats().pending == 0


def test_retry_after_parsing() -> None:
    assert parse_retry_after("30") == 30
    assert parse_retry_after("-5") == 0
    assert parse_retry_after("999999999") == 86400
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412460) == 20
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_routes_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="not prefix=handler"):
        build_registry(OutboxSettings(routes="orders.=email"), None)
    with pytest.raises(ValueError, match="M10_OUTBOX_BATCH_SIZE must be an integer"):
        OutboxSettings.from_env({"M10_OUTBOX_BATCH_SIZE": "many"})
