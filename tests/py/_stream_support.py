"""Redis servers of a test's own (for killing, flushing, failing over) and a stream worker process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class RedisProcess:
    """A redis-server (or, with sentinel_of, a sentinel) on a loopback port, without persistence."""

    def __init__(
        self, port: int | None = None, *, extra: list[str] | None = None, sentinel: str | None = None
    ):
        assert REDIS_SERVER is not None
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="m10-redis-"))
        self.extra = extra or []
        self.sentinel = sentinel
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        assert REDIS_SERVER is not None
        if self.sentinel is not None:
            conf = self.dir / "sentinel.conf"
            conf.write_text(self.sentinel)
            args = [REDIS_SERVER, str(conf), "--sentinel", "--port", str(self.port), "--dir", str(self.dir)]
        else:
            args = [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                *self.extra,
            ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, 10, f"redis on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class CuttingProxy:
    """A TCP proxy to a local port that forwards the first `budget` bytes its clients send and then
    cuts every connection: the server runs the complete commands among those bytes and the client
    hears nothing more (a connection lost in the middle of a pipelined write)."""

    def __init__(self, target_port: int, budget: int) -> None:
        self.target_port = target_port
        self.budget = budget
        self.forwarded = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                if upstream:
                    data = data[: self.budget - self.forwarded]
                    self.forwarded += len(data)
                target.sendall(data)
                if upstream and self.forwarded >= self.budget:
                    self.close()
                    return
        except OSError:
            pass

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):  # not connected (yet or any more)
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def worker_process(env: dict[str, str], consumer: str, batch_size: int) -> subprocess.Popen[bytes]:
    """`python -m tests.py._stream_support` running one StreamWorker (for SIGKILL tests)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.py._stream_support", consumer, str(batch_size)],
        env={**os.environ, **env},
        cwd=Path(__file__).parents[2],
    )


def _main() -> None:
    from m10py.client import M10Client
    from m10py.config import StreamSettings
    from m10py.db import create_pool
    from m10py.redis_conn import redis_client
    from m10py.stream_worker import StreamWorker

    consumer, batch_size = sys.argv[1], int(sys.argv[2])
    pool = create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2)
    worker = StreamWorker(
        M10Client(pool),
        redis_client(os.environ["REDIS_URL"], timeout=5),
        StreamSettings.from_env(),
        consumer=consumer,
        batch_size=batch_size,
        block_ms=100,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.run(stop)


if __name__ == "__main__":
    _main()
