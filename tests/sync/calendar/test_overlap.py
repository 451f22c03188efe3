"""Two runs' calendar stages overlapping (cron's `sync --once` while a long one still runs, a
CronJob with concurrencyPolicy Allow, the `run` service and a manual `sync --once`),
interleaved deterministically with threads and events: one stage at a time (the calendar
lock), and a .ics file written from an older view never recorded as the store's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import psycopg
import pytest
from icalendar import Calendar

from clinicsync.sync.calendar import push as push_module
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.ics import IcsCalendar, uid_for
from clinicsync.sync.calendar.ics_state import write_atomically
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import PushReport, calendar_stage, push
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.runs.stage_locks import calendar_lock
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from tests.conftest import POSTGRES_URL, Cli, SettingsFactory
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, apply, appointment

AMELIA = str(DOCTORS["D01"][1])
WAIT = 10.0
BUSY = PushReport().as_dict() | {"busy": 1}  # a skipped stage's report: its usual counts, all 0, and why


def stage(calendar: CalendarSettings, store: Store) -> dict[str, int]:
    return calendar_stage(cast(Settings, SimpleNamespace(calendar=calendar)), store, "run")


def statuses(path: Path) -> dict[str, str]:
    return {str(e["uid"]): str(e["status"]) for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")}


@pytest.fixture
def ics_settings(tmp_path: Path) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}},
                                           context={"base_dir": tmp_path})


class Thread(threading.Thread):
    """A run in a thread of its own; its result (or what it raised) kept for the test."""

    def __init__(self, name: str, work: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # handed to the test
            self.error = exc

    def outcome(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


def pause_in(monkeypatch: pytest.MonkeyPatch, cls: type, method: str, thread: str, reached: threading.Event,
             go: threading.Event, before: bool = False) -> None:
    """Run ``thread``'s call of ``cls.method`` up to a point, then wait: ``before`` the call, or
    (a generator) after it has produced everything it reads, before handing it on."""
    original = getattr(cls, method)

    if before:
        def paused(self: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name == thread:
                reached.set()
                assert go.wait(WAIT)
            return original(self, *args, **kwargs)
    else:
        def paused(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:  # type: ignore[misc]
            parts = list(original(self, *args, **kwargs))  # the rows read now
            if threading.current_thread().name == thread:
                reached.set()
                assert go.wait(WAIT)
            yield from parts

    monkeypatch.setattr(cls, method, paused)


def cancelled_between(work: Callable[[], Any], store: Store, a_paused: threading.Event, a_go: threading.Event,
                      b_paused: threading.Event, b_go: threading.Event) -> tuple[Any, Any]:
    """Run A until it pauses; the desk cancels A1; run B until it pauses (or ends, having
    skipped the stage); A goes on to its end, then B. Their results."""
    run_a = Thread("A", work)
    run_a.start()
    assert a_paused.wait(WAIT)
    apply(store, appointment("A1", status="cancelled"))
    run_b = Thread("B", work)
    run_b.start()
    reached_or_done(b_paused, run_b)
    a_go.set()
    first = run_a.outcome()
    b_go.set()
    return first, run_b.outcome()


def reached_or_done(event: threading.Event, thread: threading.Thread) -> None:
    """Wait until ``thread`` reaches its pause, or ends without reaching it (skipped the stage)."""
    for _ in range(int(WAIT * 100)):
        if event.wait(0.01) or not thread.is_alive():
            return
    raise AssertionError(f"{thread.name} neither paused nor ended")


def test_an_overlapping_stage_never_leaves_a_cancelled_visit_booked_in_a_doctors_file(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run A writes Amelia's file from what it read; run B, started meanwhile, stores a
    cancellation for that file and reaches its write after A's. On main B pushed beside A
    (the poll lock is the poll's only): A's write recorded its older file as written, so B
    found nothing owed and the next run nothing to do: the feed showed the cancelled visit
    booked until Amelia's next change (days). Now B skips the stage ({"busy": 1}) and the next
    run pushes the cancellation."""
    first, second = appointment("A1"), appointment("A2")
    apply(store, first)
    stage(ics_settings, store)
    apply(store, second)  # a change for Amelia: run A writes her file
    a_read, a_go, b_flush, b_go = (threading.Event() for _ in range(4))
    pause_in(monkeypatch, IcsCalendar, "_document", "A", a_read, a_go)
    pause_in(monkeypatch, IcsCalendar, "flush", "B", b_flush, b_go, before=True)
    first_run, second_run = cancelled_between(lambda: stage(ics_settings, store), store, a_read, a_go, b_flush, b_go)
    assert first_run["inserted"] == 1
    stage(ics_settings, store)  # the next run: nothing changed for Amelia since
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    assert statuses(path)[uid_for(event_id("csv", "A1"))] == "CANCELLED"
    assert second_run == BUSY


def test_a_file_written_from_an_older_view_is_written_again_by_the_next_run(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same interleaving without the lock (two writers of the store's events that do not
    take it, a lock lost with its session): A's write no longer counts as the store's file
    once B has saved a change for it since A read, so the file stays owed and B (or the next
    run) writes it. On main A cleared the file's debt: neither B nor the next run wrote it."""

    def one_pass() -> None:
        provider = IcsCalendar(ics_settings.ics, store.engine)
        try:
            push(ics_settings, store.engine, provider)
        finally:
            provider.close()

    apply(store, appointment("A1"))
    one_pass()
    apply(store, appointment("A2"))
    a_read, a_go, b_flush, b_go = (threading.Event() for _ in range(4))
    pause_in(monkeypatch, IcsCalendar, "_document", "A", a_read, a_go)
    pause_in(monkeypatch, IcsCalendar, "flush", "B", b_flush, b_go, before=True)
    cancelled_between(one_pass, store, a_read, a_go, b_flush, b_go)
    assert b_flush.is_set()  # no lock here: B went as far as its write
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    assert statuses(path)[uid_for(event_id("csv", "A1"))] == "CANCELLED"
    one_pass()
    assert statuses(path)[uid_for(event_id("csv", "A1"))] == "CANCELLED"


def test_two_writers_of_one_file_each_write_their_own_temp_file(tmp_path: Path) -> None:
    """On main both wrote `<file>.ics.part`: the second truncated the first's bytes in the same
    file, and the first's rename then found no file (OSError: the stage failed)."""
    path = tmp_path / "cal" / "doctor.ics"
    opened, go = threading.Event(), threading.Event()

    def slow() -> Iterator[bytes]:
        opened.set()
        assert go.wait(WAIT)
        yield b"BEGIN:VCALENDAR\r\nX-A:older\r\nEND:VCALENDAR\r\n"

    run_a = Thread("A", lambda: write_atomically(path, slow()))
    run_a.start()
    assert opened.wait(WAIT)
    write_atomically(path, iter([b"BEGIN:VCALENDAR\r\nX-B:newer, and longer than the other\r\nEND:VCALENDAR\r\n"]))
    go.set()
    run_a.outcome()
    assert path.read_bytes() == b"BEGIN:VCALENDAR\r\nX-A:older\r\nEND:VCALENDAR\r\n"  # whole, the last rename's
    assert not list(path.parent.glob("*.part"))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_overlapping_google_stages_push_each_change_once(
        google_calendar_settings: Callable[..., CalendarSettings], fake_google: FakeGoogle, store: Store,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Run A has read what is pending and is about to send it when run B's stage starts. On
    main B sent the same inserts (3 calls), then A's met B's events: 3 inserts refused with 409,
    3 updates (9 calls for 3 new visits). Now B skips the stage and each event is sent once."""
    calendar = google_calendar_settings()
    apply(store, *(appointment(f"A{i}", doctor=doctor) for i, doctor in enumerate(("D01", "D02", "D03"))))
    a_ready, a_go = threading.Event(), threading.Event()
    pause_in(monkeypatch, GoogleCalendar, "push", "A", a_ready, a_go, before=True)
    run_a = Thread("A", lambda: stage(calendar, store))
    run_a.start()
    assert a_ready.wait(WAIT)
    run_b = Thread("B", lambda: stage(calendar, store))
    run_b.start()
    run_b.join(WAIT)
    a_go.set()
    assert run_a.outcome()["inserted"] == 3
    second_run = run_b.outcome()
    assert sorted((call.method, call.status) for call in fake_google.calls) == [("POST", 200)] * 3
    assert second_run == BUSY
    fake_google.reset_counts()
    assert stage(calendar, store)["unchanged"] == 3 and not fake_google.calls


_HOLDER = """
import sys, time
from sqlalchemy import create_engine
from clinicsync.sync.runs.stage_locks import calendar_lock
with calendar_lock(create_engine(sys.argv[1])) as held:
    assert held is not None
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_calendar_lock_of_a_killed_worker_is_released(store_url: str, store: Store) -> None:
    """A worker killed with SIGKILL inside the stage (OOM killer, `kill -9`) never blocks the
    stage: the kernel drops its flock (SQLite), PostgreSQL its session's advisory lock."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(store.engine.url.render_as_string(False))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with calendar_lock(store.engine) as other:
            assert other is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(WAIT)
        engine = make_engine(str(store.engine.url.render_as_string(False)))
        try:
            for _ in range(100):  # PostgreSQL ends the backend of a closed connection at once; a moment
                with calendar_lock(engine) as again:
                    if again is not None:
                        break
                threading.Event().wait(0.05)
            else:
                raise AssertionError("the killed worker's calendar lock was never released")
        finally:
            engine.dispose()
    finally:
        if holder.poll() is None:
            holder.kill()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_while_a_run_holds_the_stage_sync_skips_it_and_calendar_push_is_refused(
        cli: Callable[[Path], Cli], write_settings: SettingsFactory, store_url: str) -> None:
    config = write_settings(extra="calendar:\n  provider: ics\n  ics:\n    directory: calendars\n")
    run = cli(config)
    run("db", "upgrade")
    engine = make_engine(store_url)
    try:
        with calendar_lock(engine) as held:
            assert held is not None
            _, out, err = run("sync", "--once", "--json")
            assert json.loads(out)["calendar"] == BUSY and "calendar.skipped" in err
            _, _, err = run("calendar", "push", expect=1)
            assert "another worker is running the calendar stage" in err
        _, out, _ = run("calendar", "push", "--json")
        assert json.loads(out)["failed"] == 0 and "busy" not in json.loads(out)
    finally:
        engine.dispose()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_cancellation_racing_an_insert_never_leaves_the_event_in_google(
        google_calendar_settings: Callable[..., CalendarSettings], fake_google: FakeGoogle, store: Store,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Run A is about to insert a new visit (its link pending) when the desk cancels it; run B
    sends the delete (404: not there yet), A inserts, then B records its delete. On main the
    link said deleted over a live event: the next run found nothing to do and the cancelled
    visit stayed in the doctor's Google calendar for good. Now B skips the stage and the next
    run deletes A's event."""
    calendar = google_calendar_settings()
    apply(store, appointment("A1"))
    a_ready, a_go, b_records, b_go = (threading.Event() for _ in range(4))
    pause_in(monkeypatch, GoogleCalendar, "push", "A", a_ready, a_go, before=True)
    record = push_module.record_outcomes

    def late_bookkeeping(*args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "B":
            b_records.set()
            assert b_go.wait(WAIT)
        record(*args, **kwargs)

    monkeypatch.setattr(push_module, "record_outcomes", late_bookkeeping)
    first_run, _ = cancelled_between(lambda: stage(calendar, store), store, a_ready, a_go, b_records, b_go)
    assert first_run["inserted"] == 1
    stage(calendar, store)  # the next run
    assert list(fake_google.live(AMELIA)) == []


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_stage_whose_lock_session_died_stops_before_its_next_round(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock's PostgreSQL session ends mid-stage (a network blip, a restart): another run may
    take the stage, so this one sends no further round; the next run pushes it all."""
    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    held_lock = push_module.calendar_lock

    @contextlib.contextmanager
    def dying(engine: Any) -> Iterator[Any]:
        with held_lock(engine) as held:
            pid = held.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()  # type: ignore[union-attr]
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            yield held

    monkeypatch.setattr(push_module, "calendar_lock", dying)
    with pytest.raises(push_module.CalendarLockLost):
        stage(ics_settings, store)
    assert not (tmp_path / "calendars").exists()  # no round was sent, no file written
    monkeypatch.setattr(push_module, "calendar_lock", held_lock)
    assert stage(ics_settings, store)["inserted"] == 2
