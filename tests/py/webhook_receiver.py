"""A webhook receiver for the outbox tests and benchmark: loopback HTTP, dedup by webhook-id, and
optional injected failures (500s, timeouts, connection resets)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Chaos:
    """Fractions of requests that fail, and how long a 'timeout' keeps the client waiting."""

    error_500: float = 0.0
    timeout: float = 0.0
    reset: float = 0.0
    hang_seconds: float = 1.0
    seed: int = 6


@dataclass
class Ledger:
    """What the receiver saw: every delivery by webhook-id, and what it applied (once per id)."""

    deliveries: Counter[str] = field(default_factory=Counter)
    applied: dict[str, Any] = field(default_factory=dict)
    injected: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def duplicates(self) -> int:
        return sum(self.deliveries.values()) - len(self.applied)


class Receiver:
    def __init__(self, secret: bytes | None = None, chaos: Chaos | None = None) -> None:
        self.secret = secret
        self.chaos = chaos or Chaos()
        self.ledger = Ledger()
        self._rng = random.Random(self.chaos.seed)
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def draw(self) -> str:
        with self.ledger.lock:
            r = self._rng.random()
        c = self.chaos
        if r < c.error_500:
            return "500"
        if r < c.error_500 + c.timeout:
            return "timeout"
        if r < c.error_500 + c.timeout + c.reset:
            return "reset"
        return "ok"

    def apply(self, webhook_id: str, data: Any) -> None:
        with self.ledger.lock:
            self.ledger.deliveries[webhook_id] += 1
            self.ledger.applied.setdefault(webhook_id, data)

    def verify(self, headers: Any, body: bytes) -> bool:
        if self.secret is None:
            return True
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(self.secret, signed, hashlib.sha256).digest()).decode()
        return any(s.split(",", 1)[-1] == expected for s in headers.get("webhook-signature", "").split())


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the resets and timeouts are deliberate


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if not receiver.verify(self.headers, body):
                with receiver.ledger.lock:
                    receiver.ledger.bad_signatures += 1
                self._reply(401)
                return
            fate = receiver.draw()
            with receiver.ledger.lock:
                receiver.ledger.injected[fate] += 1
            if fate == "500":  # refused before applying
                self._reply(500)
                return
            receiver.apply(self.headers["webhook-id"], json.loads(body)["data"])
            if fate == "timeout":  # applied, but the answer comes too late: the sender retries
                time.sleep(receiver.chaos.hang_seconds)
                self.close_connection = True
                return
            if fate == "reset":  # applied, then the connection is reset instead of answered
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            self._reply(200)

        def _reply(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def finish(self) -> None:
            with contextlib.suppress(OSError):
                super().finish()

    return Handler
