"""Issue 60: a SQL source whose server stops answering mid-query is cut by its `timeout`
(plus a grace, sql_session.hang_limit) instead of holding its poll for ever.

The servers are the real PostgreSQL and MariaDB; between them and the connector sits a
loopback TCP relay that, once it sees the source query go by, stops passing anything on (a
stopped server process or a network that drops packets: the statement timeout, which the
server enforces, never answers). The connector must fail with SourceHung within the limit,
and read again normally once the relay passes traffic."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.connectors.base import RetriableConnectorError
from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_session import SourceHung, dispose_kept_engines, hang_limit
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.jobs import ServiceContext, collect_jobs, connector_jobs
from clinicsync.sync.service.runner import Service
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.locks import store_lane
from tests.connectors.test_sql import MAPPING, METADATA, QUERY, Source
from tests.reliability.harness import write_drop, write_settings

TIMEOUT = 0.5


class Relay:
    """127.0.0.1:<port> -> the server; ``hang_on``: once a client packet holds these bytes,
    nothing more is passed either way (the connection stays open)."""

    def __init__(self, target: tuple[str, int], hang_on: bytes) -> None:
        self.target, self.hang_on = target, hang_on
        self.hung = threading.Event()
        self.armed = True
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.target) as server:
            hung_here = False
            while not self._closed:
                ready, _, _ = select.select([client, server], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self.armed and self.hang_on in data:
                        hung_here = True
                        self.hung.set()
                    if not hung_here:
                        (server if sock is client else client).sendall(data)

    def close(self) -> None:
        self._closed = True
        self._listener.close()


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def relayed(request: pytest.FixtureRequest) -> Iterator[tuple[Source, Relay, str]]:
    """The source table `appts` on the real server, and its URL through a Relay."""
    if request.param == "mariadb":
        url, port = str(request.getfixturevalue("mariadb_database")["url"]), 3306
    else:
        url, port = str(request.getfixturevalue("postgres_url")), 5432
    engine = make_engine(url)
    METADATA.create_all(engine)
    relay = Relay(("127.0.0.1", port), hang_on=b"appts")
    yield Source(request.param, url, engine), relay, url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{relay.port}")
    relay.close()
    engine.dispose()


def _connector(url: str) -> SqlConnector:
    return SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=url, query=QUERY,
                                    cursor_column="updated_at", timeout=TIMEOUT))


def test_a_source_that_stops_answering_mid_query_is_cut_by_its_timeout(relayed) -> None:  # type: ignore[no-untyped-def]
    source, relay, url = relayed
    source.add(1, 2, 3)
    connector = _connector(url)
    began = time.monotonic()
    try:
        with pytest.raises(SourceHung, match=r"no answer for 3 s \(its timeout is 0.5 s\)"):
            list(connector.fetch(None))
    finally:
        connector.close()
    took = time.monotonic() - began
    assert relay.hung.is_set(), "the relay never saw the query: nothing was tested"
    assert hang_limit(TIMEOUT) <= took < hang_limit(TIMEOUT) + 2.0, took

    relay.armed = False  # the source answers again: the next poll reads as usual
    again = _connector(url)
    try:
        records = [record for batch in again.fetch(None) for record in batch.records]
    finally:
        again.close()
    assert sorted(r.data["id"] for r in records) == [1, 2, 3]


@pytest.mark.postgres
def test_a_slow_call_within_the_limit_is_not_cut(postgres_url: str, tmp_path: Path) -> None:
    """The guard counts a call's wait, not the read's: a query of 1.2 s under a 1 s timeout
    is stopped by the server (statement timeout), never by the guard."""
    engine = make_engine(postgres_url)
    METADATA.create_all(engine)
    Source("postgres", postgres_url, engine).add(1)
    connector = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=postgres_url,
                                         query="SELECT id, updated_at, pg_sleep(1.2) AS s FROM appts",
                                         cursor_column="updated_at", timeout=1.0))
    try:
        with pytest.raises(Exception, match="statement timeout") as caught:
            list(connector.fetch(None))
        assert not isinstance(caught.value, SourceHung)
    finally:
        connector.close()
        with contextlib.suppress(Exception):
            engine.dispose()


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def locked(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """The table `appts`, locked against readers by another session for the test."""
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_database")["url"])
        lock = "LOCK TABLES appts WRITE"
    else:
        url = str(request.getfixturevalue("postgres_url"))
        lock = "LOCK TABLE appts IN ACCESS EXCLUSIVE MODE"
    engine = make_engine(url)
    METADATA.create_all(engine)
    Source(request.param, url, engine).add(1)
    with engine.connect() as holder:
        holder.exec_driver_sql(lock)
        yield url, holder
        holder.rollback()
        if request.param == "mariadb":
            holder.exec_driver_sql("UNLOCK TABLES")
    engine.dispose()


def test_a_lock_held_by_another_session_is_cut_by_the_timeout(locked) -> None:  # type: ignore[no-untyped-def]
    url, _holder = locked
    connector = _connector(url)
    began = time.monotonic()
    try:
        with pytest.raises(RetriableConnectorError):
            list(connector.fetch(None))
    finally:
        connector.close()
    assert time.monotonic() - began < hang_limit(TIMEOUT) + 2.0


@pytest.mark.postgres
def test_the_service_keeps_polling_the_others_and_polls_the_hung_source_again(  # type: ignore[no-untyped-def]
        store, store_url: str, postgres_url: str, tmp_path: Path) -> None:
    """`clinicsync run` with a source that hangs at every read and a CSV source, on a SQLite
    store (the polls' writes take turns on its one writer lane, their reads do not) and on a
    PostgreSQL store (the hung source's poll lock must be released for its next poll): the CSV
    source is polled on, and the hung source is polled again at its next due time, each read
    cut after its limit."""
    engine = make_engine(postgres_url)
    METADATA.create_all(engine)
    Source("postgres", postgres_url, engine).add(1)
    relay = Relay(("127.0.0.1", 5432), hang_on=b"appts")
    write_drop(tmp_path / "drop", "a.csv", 5, prefix="C-")
    config = write_settings(tmp_path, store_url, [
        {"name": "csv", "drop_dir": str(tmp_path / "drop"), "schedule": {"interval": "1s"}}])
    with config.open() as handle:
        data = yaml.safe_load(handle)
    data["connectors"].insert(0, {
        "name": "hung", "kind": "sql", "mapping": str(MAPPING), "cursor_column": "updated_at", "query": QUERY,
        "url": postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}"), "timeout": TIMEOUT,
        "schedule": {"interval": "1s"}})
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    ctx = ServiceContext(load_settings(config), store)
    service = Service(ctx, collect_jobs(ctx, [connector_jobs]))
    service.start()
    try:
        deadline = time.monotonic() + 20.0  # a bound for a loaded machine; ~7 s when idle
        while time.monotonic() < deadline and (ctx.board.jobs["poll:hung"].runs < 2
                                               or ctx.board.jobs["poll:csv"].runs < 2):
            time.sleep(0.05)
        hung, csv = ctx.board.jobs["poll:hung"], ctx.board.jobs["poll:csv"]
        assert hung.runs >= 2, ctx.board.snapshot()  # cut, then polled again: its lock was released
        assert hung.last_error is not None and "no answer" in hung.last_error
        # On SQLite the hung read holds no lane (only writes take it, sync/ingest/engine.py): the CSV
        # source is polled while the hung source waits for its answer (tests/sync/service/test_lane.py).
        assert csv.runs >= 2 and csv.failures == 0, ctx.board.snapshot()
    finally:
        service.shutdown(timedelta(seconds=2 * hang_limit(TIMEOUT)))
        relay.close()
        engine.dispose()
        dispose_kept_engines()  # the service kept the source's engine (sql_session.read_engine)
    assert not service.failed


def test_the_sqlite_lane_serves_its_waiters_in_arrival_order(tmp_path: Path) -> None:
    """A job that leaves the lane and asks for it again at once (a source hanging until its
    timeout, due again) goes behind the jobs already waiting, never before them."""
    lane = store_lane(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))  # the lane the writers take
    order: list[str] = []

    def take(name: str, hold: float = 0.0) -> None:
        with lane:
            order.append(name)
            time.sleep(hold)

    lane.__enter__()  # "hung" holds the lane
    waiters = []
    for name in ("a", "b", "c"):
        waiter = threading.Thread(target=take, args=(name,))
        waiter.start()
        waiters.append(waiter)
        time.sleep(0.05)  # arrival order a, b, c
    lane.__exit__(None, None, None)
    take("hung again")  # due again at once: after the three
    for waiter in waiters:
        waiter.join(2)
    assert order == ["a", "b", "c", "hung again"]


def test_the_lane_lets_its_holder_in_again_and_the_others_after_it(tmp_path: Path) -> None:
    """A job holding the lane for its pass (the stages) calls a helper that takes it for its
    own write (the zone rules' check): it goes in at once, and a waiter only after the outer
    hold ends."""
    lane = store_lane(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    order: list[str] = []
    waiter = threading.Thread(target=lambda: (lane.__enter__(), order.append("other"), lane.__exit__(None, None, None)))
    with lane:
        waiter.start()
        time.sleep(0.05)
        with lane:  # would wait for itself for ever on a plain ticket lock
            order.append("inner")
        time.sleep(0.05)
        order.append("outer")
    waiter.join(2)
    assert order == ["inner", "outer", "other"]
