"""A push checks out its connection without the pool's pre-ping (a round trip per push, issue 32)
and tells a connection the server dropped by its first statement, the turn: such a push runs
once more on a pinged checkout and lands exactly once; the dead connection is never handed out
again. The shared rate bucket (one autocommit statement) does the same and takes its token from
the store, not from this process's fallback. A push that is not the first statement's failure
is not retried. On PostgreSQL (backends ended with ``pg_terminate_backend``) and MariaDB
(``KILL``), the two stores whose pool pre-pings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.server.ratelimits import SharedBuckets
from clinicsync.sync.store import db
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model import Appointment, Event, SyncRun
from clinicsync.sync.store.store import Store
from tests.conftest import migrate
from tests.sync.test_push_turns import booking

A = Appointment.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
R = SyncRun.__table__  # type: ignore[attr-defined]
KEY = "csk_test-dead-0123456789abcdefghijklmnopqrstu"


class Pool:
    """The server-side ids of an engine's connections, the pings the pool made, and a way to end
    the sessions behind its idle connections as a server restart would."""

    def __init__(self, engine: Engine, kill: Callable[[Any], None]) -> None:
        self.engine, self._kill = engine, kill
        self.sessions: list[Any] = []
        self.pings = 0
        event.listen(engine, "connect", self._connected)
        pinger: Any = engine.dialect.do_ping  # sync/store/db.py's: the pool's real pings go to its ``ping``
        ping = pinger.ping

        def counted(dbapi_connection: Any) -> bool:
            self.pings += 1
            return bool(ping(dbapi_connection))

        pinger.ping = counted

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        info = getattr(dbapi_connection, "info", None)
        self.sessions.append(
            info.backend_pid if info is not None and hasattr(info, "backend_pid") else dbapi_connection.thread_id()
        )

    def kill_all(self) -> None:
        for session in self.sessions:
            self._kill(session)


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


@pytest.fixture(
    params=[pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]
)
def pooled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Store, Pool]]:
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        kill_sql = "SELECT pg_terminate_backend(%s)"
    else:
        url = str(request.getfixturevalue("mariadb_database")["url"])
        kill_sql = "KILL %s"
    path = tmp_path / "settings.yaml"
    path.write_text(
        f'clinic:\n  timezone: America/New_York\n  default_region: US\nstore:\n  url: "{url}"\n'
        "connectors:\n  - name: website\n    kind: rest_api\n    api_keys: [{name: site, sha256: "
        f"{key_digest(KEY)}}}]\n",
        encoding="utf-8",
    )
    engine = make_engine(url)
    migrate(engine, request)  # at head, as `clinicsync db upgrade` leaves it
    engine.dispose()  # every connection from here on is seen by Pool
    admin = make_engine(url)

    def kill(session: Any) -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(kill_sql, (session,))

    store = Store(engine)
    try:
        yield load_settings(path), store, Pool(engine, kill)
    finally:
        store.close()
        admin.dispose()


def test_a_push_on_a_dropped_connection_lands_once_on_a_new_one(pooled: tuple[Settings, Store, Pool]) -> None:
    settings, store, pool = pooled
    receiver = PushReceiver(settings, store, settings.connectors[0])
    assert receiver.receive(booking("B-1"), "api POST B-1", quarantine_bad=False).outcome == "created"
    assert pool.pings == 0, "a push checks out unpinged"
    connected = len(pool.sessions)
    pool.kill_all()  # the server dropped every session the pool holds (a restart, a failover)
    assert receiver.receive(booking("B-2"), "api POST B-2", quarantine_bad=False).outcome == "created"
    assert len(pool.sessions) == connected + 1, "one new connection for the push's second try"
    assert count(store, A, A.c.external_id == "B-2") == 1
    assert count(store, E, E.c.appointment_id.in_(select(A.c.id).where(A.c.external_id == "B-2"))) == 1
    assert count(store, R) == 2 and count(store, R, R.c.status != "ok") == 0, "one run per push, none failed"
    # The dead connection is not handed out again: the next pushes go through without a retry.
    for n in (3, 4):
        assert receiver.receive(booking(f"B-{n}"), f"api POST B-{n}", quarantine_bad=False).outcome == "created"
    assert len(pool.sessions) == connected + 1


def test_a_failure_after_the_first_statement_is_not_retried(pooled: tuple[Settings, Store, Pool]) -> None:
    """Only a dead connection met by the turn is sent again; a later failure is the push's own
    (a failed run, the error raised), as it was with the pre-ping."""
    settings, store, pool = pooled
    receiver = PushReceiver(settings, store, settings.connectors[0])
    tries = []

    def within(connection: Any) -> None:
        tries.append(1)
        pool.kill_all()  # the connection dies after its turn was taken
        connection.exec_driver_sql("SELECT 1")

    with pytest.raises(Exception) as raised:
        receiver.receive(booking("B-1"), "api POST B-1", quarantine_bad=False, within=within)
    assert not isinstance(raised.value, db.DeadOnArrival)
    assert tries == [1] and count(store, A) == 0
    assert count(store, R, R.c.status == "failed") == 1


@pytest.mark.postgres
def test_the_shared_bucket_takes_its_token_from_the_store_after_a_drop(postgres_url: str,
                                                                        request: pytest.FixtureRequest) -> None:
    engine = make_engine(postgres_url)
    migrate(engine, request)
    engine.dispose()
    pool = Pool(engine, lambda pid: _terminate(postgres_url, pid))
    try:
        buckets = SharedBuckets(engine, clock=lambda: 1000.0)
        assert buckets.try_acquire("k", 0.001, 2) == 0.0
        pool.kill_all()
        assert buckets.try_acquire("k", 0.001, 2) == 0.0  # the store's second token, not a local bucket's
        assert buckets.try_acquire("k", 0.001, 2) > 0, "the store's bucket is empty: both tokens came from it"
        assert not buckets._local._buckets, "never fell back to this process's buckets"
        assert pool.pings == 0 and len(pool.sessions) == 2, "unpinged; the second try on a new connection"
        with engine.connect() as connection:  # the connection went back to the pool out of autocommit
            assert connection.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        engine.dispose()


def _terminate(url: str, pid: int) -> None:
    admin = make_engine(url)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_a_connection_the_driver_already_knows_closed_is_a_first_statements_retry(postgres_url: str) -> None:
    """The driver may refuse even the cursor (psycopg, on a connection it knows is closed): that
    too goes through SQLAlchemy's handler (db.at_cursor opens its cursor inside), so the checkout
    is invalidated and the work runs once more on a new connection, as when the statement fails."""
    engine = make_engine(postgres_url)
    attempts: list[bool] = []

    def work() -> int:
        with engine.connect() as connection:
            first = not attempts
            attempts.append(first)
            if first:
                connection.connection.driver_connection.close()  # type: ignore[union-attr]
            cursor = db.first_at_cursor(connection, "SELECT 1")
            try:
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()

    try:
        assert db.on_live_connection(work) == 1
        assert attempts == [True, False]
    finally:
        engine.dispose()
