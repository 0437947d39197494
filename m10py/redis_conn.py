"""Redis clients from REDIS_URL: a plain server (redis://, rediss://, unix://) or a Sentinel deployment.

Sentinel form: ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``, e.g.
``redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster/0``. The password is the
master's; the client asks the sentinels where the master is and asks again after a failover, when
its connection fails or the old master turns read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = ("redis+sentinel://",)


def redis_client(url: str, *, timeout: float, retries: int = 0) -> redis.Redis:
    """A client whose every call gives up after `timeout` seconds (times 1 + `retries`)."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), retries),
        "decode_responses": True,
    }
    if not url.startswith(SENTINEL_SCHEMES):
        return redis.Redis.from_url(url, **options)
    target = parse_sentinel_url(url)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        target.sentinels,
        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return sentinel.master_for(  # type: ignore[no-untyped-call, no-any-return]
        target.service,
        db=target.db,
        username=target.username,
        password=target.password,
        retry=Retry(NoBackoff(), retries),
        decode_responses=True,
    )


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None = field(repr=False)  # never printed


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Parse the Sentinel URL form; ValueError (naming the part at fault, never the password)."""
    rest = url.split("://", 1)[1].split("?", 1)[0]
    hosts, _, path = rest.partition("/")
    credentials, _, hosts = hosts.rpartition("@")
    username, _, password = credentials.partition(":")
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"REDIS_URL: sentinel address {item!r} is not host:port")
        sentinels.append((host.strip("[]"), int(port)))
    parts = [p for p in path.split("/") if p]
    if not parts or len(parts) > 2:
        raise ValueError(
            "REDIS_URL: a sentinel URL names the service: redis+sentinel://host:port/service[/db]"
        )
    if len(parts) == 2 and not parts[1].isdigit():
        raise ValueError(f"REDIS_URL: database {parts[1]!r} is not a number")
    return SentinelTarget(
        sentinels,
        unquote(parts[0]),
        int(parts[1]) if len(parts) == 2 else 0,
        unquote(username) or None,
        unquote(password) or None,
    )
