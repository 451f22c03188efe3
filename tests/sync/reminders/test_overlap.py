"""Two runs' reminder planning and waiting-list detection overlapping, on PostgreSQL (SQLite
has one writer: a second import or planner waits for the first), interleaved deterministically
with threads and events.

The outbox read while another worker's import is still open. An event's id is drawn when it is
inserted, not when it commits, so an import that began first and commits last leaves an id below
ones already readable. Two runs overlapping (two replicas, cron's `sync --once` beside `run`, two poll jobs of
one `run`, a push beside a poll) made the consumers (reminder planning, the waiting list's freed
slots) read past it and advance their offsets over it: the visit's messages were never planned.
Import A pauses after writing its event, before its commit.

Agendas: planned outside the outbox's offset, by a read of the stored keys and an insert."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from clinicsync.sync.reminders import planned_rows
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.db import discard_rehearsal, make_rehearsal_engine
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.detect import detect
from tests.sync.calendar.test_overlap import WAIT, Thread
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
START = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
NO_QUIET = "quiet_hours: null\nagenda: {enabled: false}"


@pytest.fixture(params=["postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """These tests run on PostgreSQL only (see the module's docstring)."""
    return str(request.getfixturevalue("postgres_url"))


PAUSE = 6 * WAIT  # how long A waits inside its transaction for B (B's wait is seen in pg_locks first)


class PausedA:
    """Run A's call of ``owner.name`` (its first argument a connection) waits there, inside
    A's transaction, until :meth:`go`; ``pid`` is A's backend."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.reached, self.going, self.pid = threading.Event(), threading.Event(), 0
        original = getattr(owner, name)

        def paused(connection: Any, *args: Any, **kwargs: Any) -> Any:
            found = original(connection, *args, **kwargs)
            if threading.current_thread().name == "A":
                self.pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                self.reached.set()
                assert self.going.wait(PAUSE)
            return found

        monkeypatch.setattr(owner, name, paused)

    def start(self, work: Callable[[], Any]) -> Thread:
        run_a = Thread("A", work)
        run_a.start()
        assert self.reached.wait(WAIT)
        return run_a

    def go_once_waited_for(self, store: Store, thread: threading.Thread) -> None:
        """Let A go on once ``thread`` waits for a lock A holds (pg_locks), or has ended."""
        deadline = time.monotonic() + PAUSE - WAIT
        with store.engine.connect() as connection:
            while thread.is_alive() and time.monotonic() < deadline:
                waiting = connection.execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted AND :pid = ANY(pg_blocking_pids(pid))"),
                    {"pid": self.pid},
                ).scalar()
                connection.rollback()
                if waiting:
                    break
                time.sleep(0.02)
        self.going.set()


def import_paused_before_commit(
    monkeypatch: pytest.MonkeyPatch, store: Store, *appointments: Any, connector: str = "c1"
) -> tuple[Thread, PausedA]:
    """Import A in a thread of its own, paused inside its transaction once its rows and events
    are written (at the quarantine entries, which come after them)."""
    paused = PausedA(monkeypatch, quarantine, "record")
    return paused.start(lambda: put(store, *appointments, connector=connector)), paused


def planned(store: Store) -> dict[str, set[str]]:
    """Each appointment's external id -> the kinds planned for it."""
    found: dict[str, set[str]] = {}
    with store.engine.connect() as connection:
        for key, kind in connection.execute(select(REMINDERS.c.key, REMINDERS.c.kind)):
            found.setdefault(key.split(":", 1)[0], set()).add(kind)
    return found


def test_an_import_that_commits_after_a_later_one_is_planned(
    store: Store, reminder_settings: SettingsMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = reminder_settings(NO_QUIET)
    put(store, appointment("Z1", START, patient="P0"), connector="c0")  # the zone noted (A would hold its row)
    plan(settings, store, NOW)
    run_a, paused = import_paused_before_commit(monkeypatch, store, appointment("A1", START), connector="c1")
    put(store, appointment("B1", START, patient="P2"), connector="c2")  # B's import: a later event id, committed
    run_b = Thread("B", lambda: plan(settings, store, NOW))  # B's planning, while A's import is open
    run_b.start()
    paused.go_once_waited_for(store, run_b)
    run_a.outcome()
    run_b.outcome()
    plan(settings, store, NOW)  # the next run
    kinds = planned(store)
    assert set(kinds) == {"a1", "a2", "a3"}, kinds  # main: no a2 (A1): its event read past, never planned
    assert kinds["a2"] == {"confirmation", "reminder"}


def test_a_cancellation_that_commits_after_a_later_import_frees_its_slot(
    store: Store, reminder_settings: SettingsMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(store, appointment("A1", START), connector="c1")
    lead = START - START  # no lead time: any slot ahead is offered
    with store.engine.begin() as connection:
        detect(connection, NOW, lead)  # the waiting list has read the booking
    run_a, paused = import_paused_before_commit(
        monkeypatch, store, appointment("A1", START, status="cancelled"), connector="c1"
    )
    put(store, appointment("B1", START, patient="P2"), connector="c2")

    def waitlist_pass() -> None:
        with store.engine.begin() as connection:
            detect(connection, NOW, lead)

    run_b = Thread("B", waitlist_pass)
    run_b.start()
    paused.go_once_waited_for(store, run_b)
    run_a.outcome()
    run_b.outcome()
    waitlist_pass()  # the next run
    with store.engine.connect() as connection:
        freed = connection.execute(select(FREED_SLOTS.c.appointment_id, FREED_SLOTS.c.freed_by)).all()
    assert [tuple(row) for row in freed] == [(1, "source")]  # main: none, the cancellation was read past


def test_two_runs_plan_a_doctors_agenda_once_and_neither_fails(
    store: Store, reminder_settings: SettingsMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A has read which agendas are stored (none) when run B plans them; A then inserts the
    same keys. Main: A's stage failed (IntegrityError: a unique key), run exit 1 and the
    `stage.failed` alert for what was no fault."""
    settings = reminder_settings("quiet_hours: null\nagenda: {enabled: true, at: '07:00'}")
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # 08:00 in New York
    put(store, appointment("A1", datetime(2026, 6, 10, 18, 0, tzinfo=UTC)))
    plan(settings, store, now)
    with store.engine.begin() as connection:
        connection.execute(REMINDERS.delete().where(REMINDERS.c.kind == "agenda"))  # before today's agendas
    paused = PausedA(monkeypatch, planned_rows, "known_keys")
    run_a = paused.start(lambda: plan(settings, store, now))
    run_b = Thread("B", lambda: plan(settings, store, now))
    run_b.start()
    paused.go_once_waited_for(store, run_b)
    first, second = run_a.outcome(), run_b.outcome()  # main: A raised IntegrityError
    assert first.planned + second.planned == 1
    with store.engine.connect() as connection:
        agendas = connection.execute(select(REMINDERS.c.key).where(REMINDERS.c.kind == "agenda")).scalars().all()
    assert agendas == ["agenda:c1:D1:2026-06-10"]


def test_a_dry_run_holds_no_outbox_lock(store: Store, reminder_settings: SettingsMaker) -> None:
    """A dry run's one transaction is never committed: it takes no writers' lock (it would hold
    it to its end, the service's planners waiting behind it) and waits for none."""
    settings = reminder_settings(NO_QUIET)
    engine = make_rehearsal_engine(store.engine.url.render_as_string(hide_password=False))
    try:
        rehearsal = Store(engine)
        put(rehearsal, appointment("A1", START))
        assert plan(settings, rehearsal, NOW).planned == 4  # its own events, read in its own transaction
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with store.engine.connect() as other:
            held = other.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid"), {"pid": pid}
            ).scalar()
        assert held == 0
    finally:
        discard_rehearsal(engine)
    assert planned(store) == {}


def test_the_writers_lock_is_each_stores_own(store: Store) -> None:
    """Two stores in schemas of one database (two deployments, the suite's two workers) do not
    wait for each other's imports: the key is scoped by the schema, as every lock of
    sync/store/locks.py. With one key for the database, a consumer of one store waited for every
    import of the other, and under the suite's load a writer queued behind the other's waiting
    consumer stalled this module's paused import past its wait."""
    from clinicsync.sync.store.db import make_engine
    from clinicsync.sync.store.outbox import writers_key, writing_events
    from tests.conftest import postgres_schema

    with postgres_schema() as other_url:
        other = make_engine(other_url)
        try:
            assert writers_key(other) != writers_key(store.engine)
            with store.engine.begin() as connection:
                writing_events(connection)  # a writer of this store, between its insert and its commit
                with other.connect() as consumer:  # the other store's consumer takes its lock at once
                    assert consumer.exec_driver_sql(
                        f"SELECT pg_try_advisory_xact_lock({writers_key(other):d})").scalar() is True
                    consumer.rollback()
        finally:
            other.dispose()
