"""A PostgreSQL push's round trips, counted on the wire (libpq's trace of the pool's connections):
its transaction's BEGIN goes in one message with the push's turn (sync/store/db.py ``begin_first``),
not as psycopg's round trip of its own (issue 32: at one client a push waits out each round trip),
so a new appointment's push is four round trips — BEGIN with the turn, the one read, the folded
writes, COMMIT — where it was five. Every turn of a push goes in that message, in order, and is
held before the first read. The connection goes back to the pool out of autocommit, whether the
push committed or rolled back, and its next transaction is a transaction."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.push import PushReceiver, _locked
from clinicsync.sync.store.db import PUSH_PLANS, make_engine
from clinicsync.sync.store.locks import advisory_key
from clinicsync.sync.store.outbox import writers_key, writing_events_sql
from clinicsync.sync.store.store import Store
from tests.sync.test_push_turns import booking

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest('csk_test-trips-0123456789abcdefghijklmnopqrstu')}}}]
"""))


class Wire:
    """The messages each checked-out connection of ``store`` sends and receives while traced."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.folder, self.traces = folder, []
        event.listen(store.engine, "checkout", self._checkout)
        event.listen(store.engine, "checkin", self._checkin)

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        from psycopg import pq

        handle, path = tempfile.mkstemp(dir=self.folder)
        self.traces.append((path, handle))
        dbapi_connection.pgconn.trace(handle)
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def _checkin(self, dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.pgconn.untrace()

    def messages(self) -> list[tuple[str, str, str]]:
        """(direction, type, contents) of every traced message so far; the traces then start over."""
        seen = []
        for path, handle in self.traces:
            os.close(handle)
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                if line.count("\t") < 2:
                    continue  # a statement's later line (a query written on several lines)
                direction, _length, kind, *rest = [*line.split("\t"), ""]
                seen.append((direction, kind, rest[0].strip()))
        self.traces.clear()
        return seen


@pytest.fixture
def wire(store: Store, tmp_path: Path) -> Iterator[Wire]:
    yield Wire(store, tmp_path)


def round_trips(messages: list[tuple[str, str, str]]) -> int:
    """Each exchange ends with the server's ReadyForQuery (a simple query's, however many
    statements it held, or an extended one's Sync)."""
    return sum(1 for direction, kind, _ in messages if direction == "B" and kind == "ReadyForQuery")


def test_a_push_begins_with_its_turn_in_one_message(settings: Settings, store: Store, wire: Wire) -> None:
    receiver = PushReceiver(settings, store, settings.connectors[0])
    assert receiver.receive(booking("W0"), "push:0", quarantine_bad=True).outcome == "created"  # people known
    wire.messages()
    assert receiver.receive(booking("W1"), "push:1", quarantine_bad=True).outcome == "created"
    messages = wire.messages()
    # BEGIN with the turn, the one read, the folded writes (appointment, event, run), COMMIT.
    assert round_trips(messages) == 4, messages
    first = next(contents for direction, _kind, contents in messages if direction == "F")
    turn = advisory_key("push", "website", "W1")
    assert first.startswith('"BEGIN') and f"SELECT pg_advisory_xact_lock({turn})" in first, first
    assert not any('"BEGIN' in contents for direction, _kind, contents in messages[1:] if direction == "F")
    # A reschedule reads the stored row too: five.
    assert receiver.receive(booking("W1", start="2030-03-12T11:00:00"), "push:2",
                            quarantine_bad=True).outcome == "rescheduled"
    assert round_trips(wire.messages()) == 5


def _held_turns(store_url: str, pid: int) -> list[int]:
    """The advisory locks backend ``pid`` holds, as the signed keys advisory_key made (read on a
    connection of its own, outside the store's traced pool)."""
    with make_engine(store_url).connect() as other:
        rows = other.execute(text("SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
                                  "WHERE locktype = 'advisory' AND pid = :pid AND granted"), {"pid": pid})
        return sorted(int(row[0]) for row in rows)


def test_every_turn_is_held_before_the_first_read(store: Store, store_url: str, wire: Wire) -> None:
    keys = ["A", "B", "C"]
    seen: dict[str, Any] = {}
    writers = writers_key(store.engine)  # the store's own (its schema read once per engine, as a receiver does)
    wire.messages()

    def within(connection: Connection) -> None:  # the first read after the turns
        seen["pid"] = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        seen["held"] = _held_turns(store_url, seen["pid"])

    turn = _locked(store.engine, "website", keys, within)
    assert turn is not None
    with store.engine.begin() as connection:
        turn(connection)
    # the turns, and the outbox writers' lock (shared: sync/store/outbox.py) in the same message
    assert seen["held"] == sorted([*(advisory_key("push", "website", key) for key in keys), writers])
    assert _held_turns(store_url, seen["pid"]) == []  # released at commit
    messages = wire.messages()
    assert round_trips(messages) == 3  # BEGIN with the three turns, the read, COMMIT
    first = next(contents for direction, _kind, contents in messages if direction == "F")
    assert first == f'"BEGIN;{PUSH_PLANS};' + ";".join(  # in the order _turn_keys gives (always one order: no deadlock)
        f"SELECT pg_advisory_xact_lock({advisory_key('push', 'website', key)})" for key in keys) + \
        f';{writing_events_sql(store.engine)}"'


@pytest.mark.parametrize("ends", ["commit", "rollback"])
def test_the_connection_goes_back_out_of_autocommit(store: Store, ends: str) -> None:
    turn = _locked(store.engine, "website", ["A"], None)
    assert turn is not None
    with pytest.raises(RuntimeError) if ends == "rollback" else nullcontext(), store.engine.begin() as connection:
        turn(connection)
        connection.exec_driver_sql("CREATE TABLE written (n int)")
        if ends == "rollback":
            raise RuntimeError("the push failed after its turn")
    with store.engine.connect() as connection:  # the pool's one idle connection, checked out again
        driver: Any = connection.connection.driver_connection
        assert driver.autocommit is False
        assert driver.pgconn.transaction_status == 0  # idle
        stored = connection.exec_driver_sql("SELECT to_regclass('written') IS NOT NULL").scalar_one()
        assert stored == (ends == "commit")
    with pytest.raises(RuntimeError), store.engine.begin() as connection:  # a transaction, not autocommit
        connection.exec_driver_sql("CREATE TABLE later (n int)")
        raise RuntimeError("rolled back")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT to_regclass('later') IS NULL").scalar_one()
