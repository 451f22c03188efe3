"""Issue 60: a read timeout on every polled source query, and the SQL connection the service
keeps between polls.

A source that answers too slowly is cut within its timeout plus a little, and the poll fails
with an error that names the connector and the timeout: a PostgreSQL or MariaDB view that
sleeps (the server's statement timeout), a SQLite source query that runs long (its progress
handler), a FHIR server that accepts the request and never answers (the per-read timeout).
In the service (``keeping_engines``) a SQL source's connection is kept for the next poll, and
one the server dropped meanwhile is replaced without failing the poll."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import text

from clinicsync.connectors.base import RetriableConnectorError
from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_session import (
    SourceTimedOut,
    dispose_kept_engines,
    keeping_engines,
    read_only_connection,
)
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.store.db import make_engine
from tests.connectors.test_sql import MAPPING, METADATA, QUERY, Source

TIMEOUT = 0.5
SLACK = 1.5  # seconds past the timeout a cut may take on a loaded machine (the server's own answer)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def server_source(request: pytest.FixtureRequest) -> Iterator[Source]:
    """The table `appts` and a view `slow_appts` of it that sleeps 5 s, on the real server."""
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_database")["url"])
        view = "CREATE VIEW slow_appts AS SELECT appts.*, SLEEP(5) AS slept FROM appts"
    else:
        url = str(request.getfixturevalue("postgres_url"))
        view = "CREATE VIEW slow_appts AS SELECT appts.* FROM appts CROSS JOIN pg_sleep(5)"
    engine = make_engine(url)
    METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(view)
    yield Source(request.param, url, engine)
    dispose_kept_engines()
    engine.dispose()


def _sql(url: str, **options: object) -> SqlConnector:
    return SqlConnector(SqlSettings(name="slowsrc", mapping=str(MAPPING), url=url, cursor_column="updated_at",
                                    timeout=TIMEOUT, **options))  # type: ignore[arg-type]


def test_a_view_that_sleeps_past_the_timeout_is_cut_and_named(server_source: Source) -> None:
    server_source.add(1)
    connector = _sql(server_source.url, table="slow_appts")
    began = time.monotonic()
    try:
        with pytest.raises(SourceTimedOut) as caught:
            list(connector.fetch(None))
    finally:
        connector.close()
    took = time.monotonic() - began
    assert took < TIMEOUT + SLACK, took
    message = str(caught.value)
    assert message.startswith("connector slowsrc: reading the source failed: the query ran past the timeout of "
                              "0.5 s (the connector's `timeout:`)"), message


def test_a_sqlite_source_query_past_the_timeout_is_stopped(tmp_path: Path) -> None:
    """SQLite has no statement timeout: a progress handler stops the statement."""
    url = f"sqlite:///{tmp_path / 'practice.db'}"
    engine = make_engine(url)
    METADATA.create_all(engine)
    Source("sqlite", url, engine).add(1)
    slow = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000) "
            "SELECT id, patient_id, starts_at, minutes, status, updated_at FROM appts "
            "WHERE (SELECT count(*) FROM n) > 0")
    connector = _sql(url, query=slow)
    began = time.monotonic()
    try:
        with pytest.raises(SourceTimedOut, match=r"^connector slowsrc: a query ran past the timeout of 0.5 s"):
            list(connector.fetch(None))
    finally:
        connector.close()
        engine.dispose()
    assert time.monotonic() - began < TIMEOUT + SLACK


class StalledServer:
    """127.0.0.1:<port>: accepts, reads the request, never answers (a hung FHIR server)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.requests = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.recv(65536)
            self.requests += 1
            self._held.append(client)

    def close(self) -> None:
        self._listener.close()
        for client in self._held:
            client.close()


def test_a_fhir_server_that_never_answers_is_cut_by_the_read_timeout(retry_sleeps: list[float]) -> None:
    server = StalledServer()
    connector = FhirConnector(FhirSettings.model_validate({
        "name": "slowehr", "base_url": f"http://127.0.0.1:{server.port}/fhir", "timeout_seconds": TIMEOUT,
        "retry": {"attempts": 1}, "http2": False}))
    began = time.monotonic()
    try:
        with pytest.raises(RetriableConnectorError) as caught:
            list(connector.fetch(None))
    finally:
        connector.close()
        server.close()
    assert time.monotonic() - began < TIMEOUT + SLACK
    assert server.requests >= 1, "the server never saw the request: nothing was tested"
    assert str(caught.value).startswith("connector slowehr: GET ")
    assert "timed out (timeout_seconds: 0.5 s a read, 2 s a whole answer)" in str(caught.value)


def _backend_id(connector: SqlConnector) -> int:
    """The server's id of the connection the connector's reads use now."""
    with read_only_connection(connector.engine, 5) as connection:
        sql = "SELECT pg_backend_pid()" if connection.dialect.name == "postgresql" else "SELECT CONNECTION_ID()"
        return int(connection.execute(text(sql)).scalar_one())


def _kill(source: Source, backend: int) -> None:
    if source.kind == "postgres":
        with source.engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")
    else:
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
        with admin, admin.cursor() as cursor:
            cursor.execute(f"KILL {backend}")


def test_the_service_keeps_a_source_connection_and_replaces_one_the_server_dropped(server_source: Source) -> None:
    server_source.add(1, 2)
    with keeping_engines():
        first = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=server_source.url, query=QUERY,
                                         cursor_column="updated_at"))
        backend = _backend_id(first)
        assert len([r for batch in first.fetch(None) for r in batch.records]) == 2
        engine = first.engine
        first.close()  # the poll's end: the kept engine stays, its connection idle in its pool
        second = SqlConnector(first.settings)
        assert second.engine is engine and _backend_id(second) == backend  # the same connection, not a new one
        _kill(server_source, backend)  # dropped while idle (a server restart, an idle timeout)
        time.sleep(0.2)
        assert len([r for batch in second.fetch(None) for r in batch.records]) == 2
        assert _backend_id(second) != backend
        second.close()
    outside = SqlConnector(first.settings)  # `sync --once`, check, discover: nothing kept
    assert outside.engine is not engine
    outside.close()
