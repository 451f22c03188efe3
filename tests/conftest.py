"""Shared test harness: stores on SQLite and on the real PostgreSQL, settings files,
the CLI, and the third-party fixtures under tests/fixtures/third_party."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pymysql
import pytest
import structlog
from typer.testing import CliRunner

from clinicsync.sync.cli import app
from clinicsync.sync.db import make_engine, upgrade
from clinicsync.sync.store import Store

ROOT = Path(__file__).resolve().parent.parent
# Real third-party material (FHIR examples, HL7 samples, OpenEMR schema), each with a SOURCE note.
SHARED_FIXTURES = ROOT / "tests" / "fixtures" / "third_party"
POSTGRES_URL = os.environ.get("CLINICSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
# CI sets this so that a database that is down fails the run instead of skipping tests.
REQUIRE_SERVICES = os.environ.get("CLINICSYNC_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (pytest.mark.anyio) run on asyncio, the loop uvicorn uses."""
    return "asyncio"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The folder of third-party fixtures (tests/fixtures/third_party), shipped with the repository."""
    return SHARED_FIXTURES


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped afterwards over a new connection
    (a test may have restarted the server or terminated every connection meanwhile)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def mariadb_database() -> Iterator[dict[str, object]]:
    """A fresh MariaDB database for one test (connection kwargs and a SQLAlchemy URL)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    except pymysql.err.OperationalError as exc:
        _unavailable("MariaDB", exc)
    with admin:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield {**MARIADB, "database": name,
                   "url": f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"}
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE `{name}`")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    engine = make_engine(store_url)
    upgrade(engine)
    store = Store(engine)
    yield store
    store.close()


@pytest.fixture
def drop_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


SettingsFactory = Callable[..., Path]


@pytest.fixture
def write_settings(tmp_path: Path, store_url: str) -> SettingsFactory:
    """Write a settings.yaml for the test's store; ``connectors`` is YAML text.

    A PostgreSQL store is migrated first, as `clinicsync db upgrade` does in a deployment.
    """
    if not store_url.startswith("sqlite"):
        engine = make_engine(store_url)
        upgrade(engine)
        engine.dispose()

    def write(connectors: str = "", extra: str = "", timezone: str = "America/New_York") -> Path:
        path = tmp_path / "settings.yaml"
        path.write_text(
            f"clinic:\n  timezone: {timezone}\n  default_region: US\n"
            f"store:\n  url: \"{store_url}\"\n"
            + (f"connectors:\n{textwrap.indent(textwrap.dedent(connectors), '  ')}" if connectors else "")
            + textwrap.dedent(extra),
            encoding="utf-8")
        return path

    return write


class Cli:
    """Runs `clinicsync` in-process, as a user would type it."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int | None = 0) -> tuple[int, str, str]:
        argv = (["--config", str(self.config)] if self.config else []) + list(args)
        try:
            result = self.runner.invoke(app, argv, catch_exceptions=False)
        finally:
            # The CLI points structlog at the runner's stderr, which is closed afterwards.
            structlog.reset_defaults()
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli() -> Callable[[Path | None], Cli]:
    return Cli
