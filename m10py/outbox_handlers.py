"""The built-in delivery handlers of the outbox: HTTP webhook, Redis stream, log.

The webhook follows the Standard Webhooks conventions (standardwebhooks.com): a JSON body
{"type", "timestamp", "data"} and the headers webhook-id (the event's stable event_id),
webhook-timestamp (Unix seconds of this attempt) and, with a secret, webhook-signature
"v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import math
import threading
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import redis

from m10py import __version__
from m10py.config import OutboxSettings
from m10py.models import OutboxEvent
from m10py.outbox import Handler, HandlerRegistry, Outcome

log = logging.getLogger(__name__)
event_log = logging.getLogger("m10py.outbox.events")

_MAX_RESPONSE_BYTES = 65536
_MAX_RETRY_AFTER = 86400.0


def signing_key(secret: str) -> bytes:
    """A Standard Webhooks secret is 'whsec_' + base64 of the key; any other text is the key itself."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError as exc:
            raise ValueError("M10_WEBHOOK_SECRET starts with whsec_ but the rest is not base64") from exc
    return secret.encode()


def sign(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_body(event: OutboxEvent) -> bytes:
    envelope = {"type": event.event_type, "timestamp": event.created_at.isoformat(), "data": event.payload}
    return json.dumps(envelope, separators=(",", ":")).encode()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date), within [0, 1 day]."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


class WebhookHandler:
    """POST each event to one URL. Only 2xx is success; 410 dead-letters; 429/503 honour Retry-After."""

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the webhook URL must be http:// or https:// with a host, got {url!r}")
        if not timeout > 0:
            raise ValueError(f"the webhook timeout must be positive, got {timeout}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._key = signing_key(secret) if secret else None
        self.timeout = timeout
        self._local = threading.local()  # one keep-alive connection per delivering thread

    def __call__(self, event: OutboxEvent) -> Outcome:
        body = webhook_body(event)
        webhook_id = str(event.event_id)
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "user-agent": f"m10py/{__version__}",
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
        }
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, webhook_id, timestamp, body)
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            excerpt = response.read(_MAX_RESPONSE_BYTES)
            if not response.isclosed():  # a body larger than we read: do not reuse the connection
                self._drop(conn)
        except (OSError, http.client.HTTPException) as exc:
            self._drop(conn)
            return Outcome.retry(f"webhook {type(exc).__name__}: {exc or 'no detail'}")
        status = response.status
        if 200 <= status < 300:
            return Outcome.delivered()
        detail = f"HTTP {status} {response.reason}: {excerpt[:200].decode('utf-8', 'replace')}".strip()
        if status == 410:
            return Outcome.dead(f"receiver answered 410 Gone ({detail})")
        if status in (429, 503):
            return Outcome.retry(detail, parse_retry_after(response.getheader("retry-after")))
        return Outcome.retry(detail)

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None


class StreamHandler:
    """XADD each event to a Redis stream (MAXLEN ~); consumers dedup by the event_id field."""

    def __init__(self, client: redis.Redis, key: str, *, max_len: int = 100000) -> None:
        self.redis = client
        self.key = key
        self.max_len = max_len

    def __call__(self, event: OutboxEvent) -> Outcome:
        fields: dict[str, str] = {
            "event_id": str(event.event_id),
            "event_type": event.event_type,
            "outbox_id": str(event.outbox_id),
            "created_at": event.created_at.isoformat(),
            "payload": json.dumps(event.payload, separators=(",", ":")),
        }
        try:
            self.redis.xadd(self.key, fields, maxlen=self.max_len, approximate=True)  # type: ignore[arg-type]
        except redis.RedisError as exc:
            return Outcome.retry(f"redis {type(exc).__name__}: {exc}")
        return Outcome.delivered()


def log_handler(event: OutboxEvent) -> Outcome:
    """Write the event as one JSON line to the m10py.outbox.events logger."""
    event_log.info("%s", json.dumps(event.to_json(), separators=(",", ":")))
    return Outcome.delivered()


def unconfigured(reason: str) -> Handler:
    """For a route whose handler lacks its settings: dead-letter with the reason (replay once set)."""
    return lambda _event: Outcome.dead(reason)


def build_registry(settings: OutboxSettings, redis_url: str | None) -> HandlerRegistry:
    """The handlers M10_OUTBOX_ROUTES names ('prefix=handler,...'; handlers: webhook, stream, log)."""
    registry = HandlerRegistry()
    handlers: dict[str, Handler] = {"log": log_handler}
    if settings.webhook_url:
        handlers["webhook"] = WebhookHandler(
            settings.webhook_url, secret=settings.webhook_secret, timeout=settings.webhook_timeout
        )
    else:
        handlers["webhook"] = unconfigured("the webhook handler has no URL: set M10_WEBHOOK_URL")
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        handlers["stream"] = StreamHandler(client, settings.stream_key, max_len=settings.stream_max_len)
    else:
        handlers["stream"] = unconfigured("the stream handler has no Redis: set REDIS_URL")
    for route in filter(None, (r.strip() for r in settings.routes.split(","))):
        prefix, sep, name = (part.strip() for part in route.partition("="))
        if not sep or name not in handlers:
            known = ", ".join(handlers)
            raise ValueError(f"M10_OUTBOX_ROUTES: {route!r} is not prefix=handler (handlers: {known})")
        registry.register(prefix, handlers[name])
    return registry
