"""The store's pool pings a connection it hands out only when it sat in the pool for FRESH_FOR
seconds or more (sync/store/db.py): a poll's checkouts a moment apart are not pinged again, and
one the server dropped while it sat there is still never handed out dead. On PostgreSQL, whose
pool pre-pings (a ping is a round trip)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from clinicsync.sync.store import db
from clinicsync.sync.store.db import make_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _counted(engine: Engine) -> list[int]:
    """The pool's real pings, counted (the dialect's own ping behind db.py's wrapper)."""
    pings: list[int] = []
    pinger: Any = engine.dialect.do_ping
    ping = pinger.ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_connection))

    pinger.ping = counted
    return pings


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_checkouts_a_moment_apart_are_pinged_once_at_most(engine: Engine) -> None:
    pings = _counted(engine)
    _backend(engine)  # the first connection: new, never pinged
    for _ in range(5):
        _backend(engine)
    assert pings == []  # the old pool pinged each of the five


def test_a_connection_that_sat_in_the_pool_is_pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _counted(engine)
    _backend(engine)
    monkeypatch.setattr(db, "FRESH_FOR", 0.0)  # every connection has sat long enough
    _backend(engine)
    _backend(engine)
    assert len(pings) == 2


def test_one_the_server_dropped_while_it_sat_there_is_replaced(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _backend(engine)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(db, "FRESH_FOR", 0.0)
    assert _backend(engine) != first  # the ping found it dead: a new connection, no error


def test_the_connection_checked_in_last_is_handed_out_first(postgres_url: str) -> None:
    """Threads sharing the pool (a service's poll slots, its scheduler, its jobs): a checkout takes
    the connection just checked in, which needs no ping, not the one that sat longest."""
    engine = make_engine(postgres_url, pool_size=2, max_overflow=0)
    try:
        pings = _counted(engine)
        with engine.connect() as older, engine.connect() as newer:
            old_pid = older.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            newer.exec_driver_sql("SELECT 1")
            older.close()  # checked in first; it is made to have sat for a minute below
            newer_pid = newer.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        record = engine.pool._pool.queue  # type: ignore[attr-defined]
        for pooled in record:
            if pooled.dbapi_connection.info.backend_pid == old_pid:
                db._RETURNED[pooled.dbapi_connection] -= 60.0
        for _ in range(3):
            assert _backend(engine) == newer_pid
        assert pings == []  # first-in-first-out handed out the one that sat, and pinged it
    finally:
        engine.dispose()
