"""Settings read from the environment; nothing else in the package reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
