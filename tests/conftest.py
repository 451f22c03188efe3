"""Shared test harness: stores on SQLite and on the real PostgreSQL, settings files,
the CLI, and the third-party fixtures under tests/fixtures/third_party."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pymysql
import pytest
import structlog
from sqlalchemy import Engine
from typer.testing import CliRunner

from clinicsync.sync.cli import app
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.store import Store
from tests.mariadb_head import HeadDatabase
from tests.mariadb_head import copy_head as copy_mariadb_head
from tests.mariadb_head import drop as drop_mariadb
from tests.mariadb_head import make_head as make_mariadb_head
from tests.pg_schemas import SchemaPool

ROOT = Path(__file__).resolve().parent.parent
# Real third-party material (FHIR examples, HL7 samples, OpenEMR schema), each with a SOURCE note.
SHARED_FIXTURES = ROOT / "tests" / "fixtures" / "third_party"
POSTGRES_URL = os.environ.get("CLINICSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
# A test's PostgreSQL sessions commit without waiting for the WAL to reach the disk (1.45 ms a
# commit here, against 0.07 ms): what a commit makes visible, its locks and isolation are the
# same, only a crash of the server itself could lose the last commits, and no test crashes the
# server (tests/reliability/test_pg_restart.py stops it cleanly). Written before search_path,
# which the harness reads as the URL's last option.
TEST_SESSION_OPTIONS = "-csynchronous_commit%3Doff%20"
# structlog's own defaults (what a test logs through when nothing configured it) render an
# exception with rich, every local variable of every frame included: one error logged by a
# page's handler took 17 s of CPU to print (the app, the settings and the store among the
# locals). clinicsync never logs that way (clinicsync/common/logs.py formats exceptions as plain
# text before any renderer, and no local variable is written), so the tests' defaults print
# plain tracebacks too; structlog.reset_defaults(), which tests call, keeps it.
_DEFAULT_RENDERER = structlog._config._BUILTIN_DEFAULT_PROCESSORS[-1]  # colours as structlog chose them
structlog._config._BUILTIN_DEFAULT_PROCESSORS[-1] = structlog.dev.ConsoleRenderer(  # type: ignore[index]
    colors=_DEFAULT_RENDERER._colors, exception_formatter=structlog.dev.plain_traceback)
structlog.reset_defaults()


def _one_preferred_tls_context() -> None:
    """PyMySQL offers TLS to every server unless told not to (its PREFERRED mode): each
    connection first builds a client context loaded with the system's CA store (~80 ms of CPU
    on a loaded 2-core machine against ~2 ms for the connection itself), then falls back to
    plain text when the server offers no TLS, as the test server does. The suite opens
    thousands of MariaDB connections (each CLI command's source engine, each fixture's admin
    connection). That context is the same for every connection (no CA, no client certificate,
    nothing of the host in it) and an SSLContext is made to be shared, so the tests build it
    once per process: the handshake is offered and refused as before, and a connection given
    its own TLS options (a CA, a certificate) still gets a context of its own."""
    create = pymysql.connections.Connection._create_ssl_ctx
    shared: dict[str, object] = {}

    def preferred(self: pymysql.connections.Connection, sslp: object) -> object:
        if sslp != {}:
            return create(self, sslp)
        if "context" not in shared:
            shared["context"] = create(self, sslp)
        return shared["context"]

    pymysql.connections.Connection._create_ssl_ctx = preferred


_one_preferred_tls_context()
# CI sets this so that a database that is down fails the run instead of skipping tests.
REQUIRE_SERVICES = os.environ.get("CLINICSYNC_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def _structlog_defaults() -> None:
    """Each test starts from structlog's defaults: a test that ran the CLI's or the service's
    logging set-up in this worker leaves it configured (a ``warning`` level's filtering wrapper
    drops the info events another test's ``capture_logs`` waits for: the settings watch's tests
    failed so, by the order xdist gave them)."""
    structlog.reset_defaults()


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (pytest.mark.anyio) run on asyncio, the loop uvicorn uses."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_real_retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clients' retries keep their real policy (attempts, waits, what is retried) but do not
    sleep for real: a FHIR poll a hook starts, or a write-back callback, against a refusing
    peer otherwise slept its whole backoff (~5 s a test). A test that reads the waits records
    them with its own fixture (tests/connectors/conftest.py ``retry_sleeps``).

    google-auth retries the token endpoint itself (3 attempts, 1 s then 2 s, in
    ``google.auth._exponential_backoff``): that module alone gets a ``time`` whose sleep returns
    at once, so the calendar's token-fault tests keep google-auth's real retry, without ~1 s each."""
    from google.auth import _exponential_backoff

    from clinicsync.connectors.fhir.client import FhirClient
    from clinicsync.connectors.rest_callback import Callback

    monkeypatch.setattr(FhirClient, "sleep", staticmethod(lambda seconds: None))
    monkeypatch.setattr(Callback, "sleep", staticmethod(lambda seconds: None))
    monkeypatch.setattr(_exponential_backoff, "time", SimpleNamespace(sleep=lambda seconds: None))


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
        yield f"{POSTGRES_URL}?options={TEST_SESSION_OPTIONS}-csearch_path%3D{schema}"
    finally:
        _SCHEMAS.release(schema)  # dropped, or (a store at head left as it was made) emptied for the next test


# This worker's PostgreSQL schemas at head, handed from test to test (tests/pg_schemas.py).
_SCHEMAS = SchemaPool(POSTGRES_URL)


# The suite's longest tests (the PostgreSQL month 312 s, the
# SQLite month 100 s, the import held open on PostgreSQL 59 s, the waiting-list week 46 s), run
# first: xdist hands tests out in order, and one of these drawn near the end of a random order
# keeps one worker busy while the other has nothing left (a tail of up to its whole length).
LONGEST_FIRST = (
    "tests/simulation/test_simulation.py::test_ten_days_across_the_dst_change_with_every_combinable_fault",
    "tests/simulation/test_simulation.py::test_an_import_open_while_the_service_plans_on_postgres",
    "tests/simulation/test_waitlist_simulation.py::test_a_week_with_waitlist_entries_every_offer_checked",
)


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle: the rest keeps its order
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))  # stable


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The worker's pooled schemas are dropped with its session (once those still being
    emptied are in the pool)."""
    _SCHEMAS.drain()


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


@pytest.fixture(scope="session")
def mariadb_head() -> Iterator[HeadDatabase]:
    """A MariaDB database migrated to head once per worker (tests/mariadb_head.py), dropped
    with the session: each `mariadb_store` starts as a copy of it."""
    name = f"h_{uuid.uuid4().hex[:12]}"
    try:
        head = make_mariadb_head(MARIADB, name)
    except pymysql.err.OperationalError as exc:
        _unavailable("MariaDB", exc)
    try:
        yield head
    finally:
        drop_mariadb(MARIADB, name)


@pytest.fixture
def mariadb_store(mariadb_database: dict[str, object], request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store at the head migration on a fresh MariaDB database, for the tests that repeat a
    store test there (the `store` fixture runs on SQLite and PostgreSQL): a copy of the
    worker's migrated database (tests/test_mariadb_head.py proves it is what the migrations
    make; tests/sync/test_migrations.py proves the migrations)."""
    engine = make_engine(str(mariadb_database["url"]))
    migrate(engine, request)
    store = Store(engine)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to head once per worker: each SQLite `store` starts as a copy
    of this file (a file copy, where running every migration cost ~0.1 s of CPU per test)."""
    path = tmp_path_factory.mktemp("migrated") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


SCHEMA_MARK = "__schema__."


@pytest.fixture(scope="session")
def postgres_head_script() -> str | None:
    """The SQL of a PostgreSQL schema at head (pg_dump of a schema migrated once per worker),
    its schema written as SCHEMA_MARK; None without pg_dump. Replaying it costs the client
    almost nothing, where running every migration cost ~0.15 s of CPU per test."""
    if shutil.which("pg_dump") is None:
        return None
    with postgres_schema() as url:
        schema = url.rsplit("search_path%3D", 1)[1]
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        dump = subprocess.run(["pg_dump", "--dbname", POSTGRES_URL, "--schema", schema, "--no-owner",
                               "--no-privileges", "--inserts"], capture_output=True, text=True, check=False)
    if dump.returncode != 0:
        return None
    lines = [line for line in dump.stdout.splitlines()
             if line and not line.startswith(("--", "\\")) and line != f"CREATE SCHEMA {schema};"]
    return "\n".join(lines).replace(f"{schema}.", SCHEMA_MARK)


def migrate(engine: Engine, request: pytest.FixtureRequest) -> None:
    """Bring a fresh store to head: a PostgreSQL schema from postgres_head_script's replay
    where there is one (and nothing there yet), a MariaDB database as a copy of the worker's
    migrated one (mariadb_head), else by running the migrations."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "mysql" and url not in _MIGRATED:
        copy_mariadb_head(request.getfixturevalue("mariadb_head"), MARIADB, str(engine.url.database))
        _MIGRATED.add(url)
        return
    script = request.getfixturevalue("postgres_head_script") if engine.dialect.name == "postgresql" else None
    if url in _MIGRATED:  # write_settings did, then the test's store
        return
    if script is None or "search_path%3D" not in url:
        upgrade(engine)
    else:
        schema = url.rsplit("search_path%3D", 1)[1]
        _SCHEMAS.learn(script, SCHEMA_MARK)
        if not _SCHEMAS.take(schema):  # a schema an earlier test left at head, else the replay
            with psycopg.connect(POSTGRES_URL) as connection:
                connection.execute(script.replace(SCHEMA_MARK, f"{schema}."))
            _SCHEMAS.made(schema)
    _MIGRATED.add(url)


_MIGRATED: set[str] = set()


def seed_sqlite_store(path: Path, request: pytest.FixtureRequest) -> bool:
    """Start a SQLite store that does not exist yet as a copy of the worker's migrated file;
    False (nothing done) when the file is already there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
    _MIGRATED.add(f"sqlite:///{path}")  # at head: the `store` fixture after it has nothing to migrate
    return True


@pytest.fixture
def store(store_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store at the head migration (tests/sync/test_migrations.py proves the migrations)."""
    if store_url.startswith("sqlite:///"):
        seed_sqlite_store(Path(store_url.removeprefix("sqlite:///")), request)
    engine = make_engine(store_url)
    migrate(engine, request)  # nothing to do for a seeded copy (it is in _MIGRATED)
    store = Store(engine)
    yield store
    store.close()


@pytest.fixture
def drop_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


SettingsFactory = Callable[..., Path]


# A source that reads nothing (pushed to us): for tests of the other parts of `check`, which
# fails a setup with no source at all.
PUSH_ONLY_SOURCE = "- {name: website, kind: rest_api, api_keys: [{name: site, sha256: '" + "0" * 64 + "'}]}\n"


@pytest.fixture
def write_settings(tmp_path: Path, store_url: str, request: pytest.FixtureRequest) -> SettingsFactory:
    """Write a settings.yaml for the test's store; ``connectors`` is YAML text.

    The store is at head before the first command, as `clinicsync db upgrade` leaves it in a
    deployment: a PostgreSQL store is migrated, a SQLite one starts as a copy of the worker's
    migrated file (the CLI would otherwise run every migration again in each test, ~0.2 s;
    tests/sync/test_migrations.py and the first-run tests prove that path).
    """
    if store_url.startswith("sqlite:///"):
        seed_sqlite_store(Path(store_url.removeprefix("sqlite:///")), request)
    else:
        engine = make_engine(store_url)
        migrate(engine, request)
        engine.dispose()

    def write(connectors: str = "", extra: str = "", timezone: str = "America/New_York") -> Path:
        path = tmp_path / "settings.yaml"
        path.write_text(
            f"clinic:\n  timezone: {timezone}\n  default_region: US\n  name: clinic\n"
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
