"""Settings read from the environment; nothing else in the package reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ServiceMode = Literal["auto", "docker", "embedded"]
_SERVICE_MODES: tuple[ServiceMode, ...] = ("auto", "docker", "embedded")


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    data_dir: Path
    services: ServiceMode
    pool_max_size: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        services = env.get("M10_SERVICES", "auto")
        if services not in _SERVICE_MODES:
            raise ValueError(f"M10_SERVICES must be one of {', '.join(_SERVICE_MODES)}, got {services!r}")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            data_dir=Path(env.get("M10_DATA_DIR", ".m10")).expanduser().resolve(),
            services=services,
            pool_max_size=int(env.get("M10_POOL_MAX_SIZE", "10")),
        )


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _number(env: Mapping[str, str], name: str, default: float, kind: type[int] | type[float]) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None


DEFAULT_OUTBOX_ROUTES = "recovery.=log,log.=log,stream.=stream,webhook.=webhook"


@dataclass(frozen=True)
class OutboxSettings:
    """How `m10 outbox` claims and delivers (M10_OUTBOX_*, M10_WEBHOOK_*; see docs/runbook.md)."""

    batch_size: int = 50
    concurrency: int = 8
    lease_seconds: int = 60
    poll_interval: float = 1.0
    max_attempts: int = 10
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 600.0
    routes: str = DEFAULT_OUTBOX_ROUTES
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)  # never printed
    webhook_timeout: float = 10.0
    stream_key: str = "m10:outbox:stream"
    stream_max_len: int = 100000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OutboxSettings:
        env = os.environ if env is None else env

        def number(name: str, default: float, kind: type[int] | type[float]) -> Any:
            return _number(env, name, default, kind)

        d = cls()
        return cls(
            batch_size=number("M10_OUTBOX_BATCH_SIZE", d.batch_size, int),
            concurrency=number("M10_OUTBOX_CONCURRENCY", d.concurrency, int),
            lease_seconds=number("M10_OUTBOX_LEASE_SECONDS", d.lease_seconds, int),
            poll_interval=number("M10_OUTBOX_POLL_INTERVAL", d.poll_interval, float),
            max_attempts=number("M10_OUTBOX_MAX_ATTEMPTS", d.max_attempts, int),
            retry_base_seconds=number("M10_OUTBOX_RETRY_BASE_SECONDS", d.retry_base_seconds, float),
            retry_cap_seconds=number("M10_OUTBOX_RETRY_CAP_SECONDS", d.retry_cap_seconds, float),
            routes=env.get("M10_OUTBOX_ROUTES") or d.routes,
            webhook_url=env.get("M10_WEBHOOK_URL") or None,
            webhook_secret=env.get("M10_WEBHOOK_SECRET") or None,
            webhook_timeout=number("M10_WEBHOOK_TIMEOUT", d.webhook_timeout, float),
            stream_key=env.get("M10_OUTBOX_STREAM_KEY") or d.stream_key,
            stream_max_len=number("M10_STREAM_MAX_LEN", d.stream_max_len, int),
        )


@dataclass(frozen=True)
class StreamSettings:
    """The Redis stream bridge (M10_STREAM_*, M10_CLAIM_IDLE_MS, ...; see docs/runbook.md)."""

    stream_key: str = "m10:evaluate:stream"
    group: str = "m10:evaluate:group"
    max_len: int = 100000
    claim_idle_ms: int = 60000
    max_reclaim_attempts: int = 3
    dead_letter_stream: str = "m10:evaluate:dead-letter"
    # Items not completed this long after they became ready are claimed from PostgreSQL: longer than
    # the stream's own retries (claim_idle_ms x max_reclaim_attempts), so poison stays the stream's.
    grace_ms: int = 300000
    # Socket timeout of the ingest's XADD: a dead or slow Redis costs an ingest at most this.
    timeout_ms: int = 250
    # Under load the publisher sends at most one write per this long and a busy stream worker waits
    # this long for a fuller batch (fewer round trips and commits); idle, neither waits.
    linger_ms: int = 5
    # M10_USE_STREAM: ingest XADDs its work items (the CLI's `m10 ingest --use-stream` does too).
    publish: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StreamSettings:
        env = os.environ if env is None else env
        d = cls()
        settings = cls(
            stream_key=env.get("M10_STREAM_KEY") or d.stream_key,
            group=env.get("M10_CONSUMER_GROUP") or d.group,
            max_len=_number(env, "M10_STREAM_MAX_LEN", d.max_len, int),
            claim_idle_ms=_number(env, "M10_CLAIM_IDLE_MS", d.claim_idle_ms, int),
            max_reclaim_attempts=_number(env, "M10_MAX_RECLAIM_ATTEMPTS", d.max_reclaim_attempts, int),
            dead_letter_stream=env.get("M10_DEAD_LETTER_STREAM") or d.dead_letter_stream,
            grace_ms=_number(env, "M10_STREAM_GRACE_MS", d.grace_ms, int),
            timeout_ms=_number(env, "M10_STREAM_TIMEOUT_MS", d.timeout_ms, int),
            linger_ms=_number(env, "M10_STREAM_LINGER_MS", d.linger_ms, int),
            publish=env.get("M10_USE_STREAM", "").lower() in ("1", "true", "yes", "on"),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that would lose work or spin (clear errors, not a misbehaving worker)."""
        for name, value, low in (
            ("M10_STREAM_MAX_LEN", self.max_len, 1),
            ("M10_CLAIM_IDLE_MS", self.claim_idle_ms, 1),
            ("M10_MAX_RECLAIM_ATTEMPTS", self.max_reclaim_attempts, 1),
            ("M10_STREAM_GRACE_MS", self.grace_ms, 0),
            ("M10_STREAM_TIMEOUT_MS", self.timeout_ms, 1),
            ("M10_STREAM_LINGER_MS", self.linger_ms, 0),
        ):
            if value < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        if self.stream_key == self.dead_letter_stream:
            raise ValueError("M10_DEAD_LETTER_STREAM must differ from M10_STREAM_KEY")
