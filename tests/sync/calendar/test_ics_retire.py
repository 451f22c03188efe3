"""Provider `ics`: past events leave the doctor's file and the store (calendar.ics.keep_past_days),
at the file's next write or within a day, and nothing brings them back or counts them missing.

Each pass here runs at a chosen time: the stage's window through ``push(now=…)`` and the
retirement through the provider's clock, so a visit can be pushed while it is ahead and
retired months later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from pydantic import ValidationError
from sqlalchemy import func, select

from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.sync.calendar import ics_state
from clinicsync.sync.calendar.ics import IcsCalendar, uid_for
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.calendar.reconcile import reconcile
from clinicsync.sync.calendar.status import calendar_status
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.model.calendar import ICS_EVENTS, ICS_FILES, LINKS
from clinicsync.sync.store.store import Store
from tests.sync.calendar.helpers import DOCTORS, apply, appointment

AMELIA = DOCTORS["D01"][1]
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DAY = timedelta(days=1)


@pytest.fixture
def ics_settings(tmp_path: Path) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}},
                                           context={"base_dir": tmp_path})


def ended(external_id: str, ago: timedelta, status: str = "booked"):  # type: ignore[no-untyped-def]
    """A 30-minute visit of Dr. Hart that ended ``ago`` before NOW."""
    return appointment(external_id, start=NOW - ago - timedelta(minutes=30), status=status)


def run(settings: CalendarSettings, store: Store, at: datetime) -> dict[str, int]:
    """One pass as if it ran at ``at``: its window and its retirement."""
    provider = IcsCalendar(settings.ics, store.engine, clock=lambda: at)
    try:
        return push(settings, store.engine, provider, now=at).as_dict()
    finally:
        provider.close()


def uids(path: Path) -> dict[str, tuple[str, int]]:
    """The file's events: UID -> (STATUS, SEQUENCE)."""
    return {str(e["uid"]): (str(e.get("status", "")), int(e.get("sequence", 0)))
            for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")}


def uid(external_id: str) -> str:
    return uid_for(event_id("csv", external_id))


def stored(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(ICS_EVENTS.c.uid).where(ICS_EVENTS.c.calendar_id == AMELIA)).scalars())


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file written (renamed into place) from now on."""
    done: list[Path] = []
    real = ics_state.os.replace

    def replace(source: Path, target: Path) -> None:
        done.append(Path(target))
        real(source, target)

    monkeypatch.setattr(ics_state.os, "replace", replace)
    return done


def test_a_visit_past_keep_past_days_leaves_the_file_and_the_store_at_its_next_write(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, writes: list[Path]) -> None:
    _retired_at_the_next_write(ics_settings, store, tmp_path, writes)


@pytest.mark.mariadb
def test_the_retirement_on_mariadb(ics_settings: CalendarSettings, mariadb_store: Store, tmp_path: Path,
                                   writes: list[Path]) -> None:
    _retired_at_the_next_write(ics_settings, mariadb_store, tmp_path, writes)


def _retired_at_the_next_write(ics_settings: CalendarSettings, store: Store, tmp_path: Path,
                               writes: list[Path]) -> None:
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    ahead = appointment("AHEAD", start=NOW + 2 * DAY)
    apply(store, ended("OLD", 91 * DAY), ended("KEPT", 89 * DAY), ended("CXL", 91 * DAY), ahead)
    assert run(ics_settings, store, NOW - 95 * DAY)["inserted"] == 4  # all four ahead then
    apply(store, ended("CXL", 91 * DAY, status="cancelled"))
    assert run(ics_settings, store, NOW - 94 * DAY)["deleted"] == 1
    assert uids(path)[uid("CXL")] == ("CANCELLED", 1)
    assert len(uids(path)) == 4 and len(stored(store)) == 4

    apply(store, appointment("AHEAD", start=NOW + 3 * DAY))  # a change: the file is written
    writes.clear()
    assert run(ics_settings, store, NOW)["patched"] == 1
    assert writes == [path]  # once, retirement included
    assert set(uids(path)) == stored(store) == {uid("KEPT"), uid("AHEAD")}  # 91 days: gone; 89: kept
    assert not list(path.parent.glob("*.part"))


def test_a_run_with_nothing_to_do_writes_nothing_and_a_quiet_file_is_retired_within_a_day(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, writes: list[Path]) -> None:
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    apply(store, ended("OLD", 90 * DAY + 6 * timedelta(hours=1)), appointment("AHEAD", start=NOW + 2 * DAY))
    assert run(ics_settings, store, NOW - 95 * DAY)["inserted"] == 2
    written = path.read_bytes()
    writes.clear()
    # Nothing changed and nothing to retire yet (the visit ended 90 days 6 hours before NOW):
    # the file is checked for the day, not written.
    assert run(ics_settings, store, NOW - timedelta(hours=12))["inserted"] == 0
    assert writes == [] and path.read_bytes() == written
    # Past keep_past_days now, but checked less than a day ago: nothing is looked at or written.
    assert run(ics_settings, store, NOW)["inserted"] == 0
    assert writes == [] and uid("OLD") in uids(path)
    # A day after the last check, with no change at all: retired and written.
    run(ics_settings, store, NOW + timedelta(hours=13))
    assert writes == [path]
    assert set(uids(path)) == stored(store) == {uid("AHEAD")}
    writes.clear()
    run(ics_settings, store, NOW + 3 * DAY)  # the daily check again: nothing left to retire
    run(ics_settings, store, NOW + 3 * DAY)
    assert writes == []


def test_a_retired_event_is_not_added_again_nor_reported_and_comes_back_if_its_visit_moves_back(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, writes: list[Path]) -> None:
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    apply(store, ended("OLD", 91 * DAY), ended("CXL", 91 * DAY), appointment("AHEAD", start=NOW + 2 * DAY))
    run(ics_settings, store, NOW - 95 * DAY)
    apply(store, ended("CXL", 91 * DAY, status="cancelled"))
    run(ics_settings, store, NOW - 94 * DAY)
    run(ics_settings, store, NOW)  # the daily check retires both
    assert set(uids(path)) == {uid("AHEAD")}

    writes.clear()
    report = run(ics_settings, store, NOW + timedelta(hours=1))
    assert report == {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 1, "failed": 0, "skipped": 0}
    assert writes == [] and set(uids(path)) == stored(store) == {uid("AHEAD")}
    status = calendar_status(ics_settings, store.engine, now=NOW)
    [mine] = status["calendars"]
    assert (mine["present"], mine["pending"], mine["failing"]) == (1, 0, 0)
    settings = Settings(calendar=ics_settings,
                        connectors=[CsvDropSettings(name="csv", kind="csv", mapping="csv_default", drop_dir=Path("."))])
    assert reconcile(settings, store.engine, IcsCalendar(ics_settings.ics, store.engine), now=NOW).findings == []

    # Moved back into the window at the source (rare): written again, newer than what
    # calendar apps last saw of it (OLD: sequence 0 when pushed; CXL: 1 when cancelled).
    apply(store, appointment("OLD", start=NOW + 5 * DAY), appointment("CXL", start=NOW + 6 * DAY))
    report = run(ics_settings, store, NOW + timedelta(hours=2))
    assert report["patched"] == 2 and report["failed"] == 0
    events = uids(path)
    assert events[uid("OLD")] == ("CONFIRMED", 1) and events[uid("CXL")] == ("CONFIRMED", 2)
    assert set(events) == stored(store)
    with store.engine.connect() as connection:
        states = dict(connection.execute(select(LINKS.c.event_id, LINKS.c.state)).all())
    assert states == {event_id("csv", x): "present" for x in ("OLD", "CXL", "AHEAD")}


def test_a_foreign_event_of_an_edited_file_is_kept_and_our_own_old_one_retires(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    apply(store, appointment("AHEAD", start=NOW + 2 * DAY))
    run(ics_settings, store, NOW - 95 * DAY)
    old_end = (NOW - 200 * DAY).strftime("%Y%m%dT%H%M%SZ")
    foreign = ("BEGIN:VEVENT\r\nUID:lunch@doctor\r\nDTSTART:20200101T120000Z\r\nDTEND:20200101T130000Z\r\n"
               "SUMMARY:Lunch\r\nEND:VEVENT\r\n")
    ours = (f"BEGIN:VEVENT\r\nUID:restored@clinicsync\r\nDTSTART:{old_end}\r\nDTEND:{old_end}\r\n"
            "SUMMARY:Follow-up\r\nX-CLINICSYNC:1\r\nEND:VEVENT\r\n")
    text = path.read_bytes().decode()
    path.write_bytes(text.replace("END:VCALENDAR", foreign + ours + "END:VCALENDAR").encode())
    apply(store, appointment("AHEAD", start=NOW + 3 * DAY))  # the next write adopts the edited file
    run(ics_settings, store, NOW)
    # Years old, but not ours: kept. Ours (X-CLINICSYNC:1, from a backup): retired as the others.
    assert set(uids(path)) == {uid("AHEAD"), "lunch@doctor"}
    with store.engine.connect() as connection:
        files = connection.execute(select(func.count()).select_from(ICS_FILES)
                                   .where(ICS_FILES.c.dirty.is_(True))).scalar_one()
    assert files == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_crash_between_the_retirement_and_the_write_is_completed_by_the_next_run(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    apply(store, ended("OLD", 91 * DAY), appointment("AHEAD", start=NOW + 2 * DAY))
    run(ics_settings, store, NOW - 95 * DAY)

    def dies(target: Path, parts: object) -> str:
        raise SystemExit("killed after the retirement's commit")

    monkeypatch.setattr("clinicsync.sync.calendar.ics.write_atomically", dies)
    with pytest.raises(SystemExit):
        run(ics_settings, store, NOW)
    assert stored(store) == {uid("AHEAD")} and uid("OLD") in uids(path)  # the store's side is done
    monkeypatch.undo()
    run(ics_settings, store, NOW + timedelta(minutes=5))  # within the day: written because it owes it
    assert set(uids(path)) == {uid("AHEAD")}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_cutoff_is_keep_past_days(store: Store, tmp_path: Path) -> None:
    settings = CalendarSettings.model_validate(
        {"provider": "ics", "past_days": 10, "ics": {"directory": "calendars", "keep_past_days": 10}},
        context={"base_dir": tmp_path})
    apply(store, ended("A", 11 * DAY), ended("B", 9 * DAY))
    run(settings, store, NOW - 12 * DAY)
    run(settings, store, NOW)
    assert stored(store) == {uid("B")}


@pytest.mark.parametrize(("values", "error"), [
    ({"past_days": 120}, "calendar.ics.keep_past_days (90) is smaller than calendar.past_days (120)"),
    ({"ics": {"keep_past_days": 20}}, "calendar.ics.keep_past_days (20) is smaller than calendar.past_days (30)"),
    ({"ics": {"keep_past_days": -1}}, "greater than or equal to 0"),
])
def test_keep_past_days_below_the_window_is_a_settings_error(values: dict[str, object], error: str,
                                                              tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(")", r"\)")):
        CalendarSettings.model_validate({"provider": "ics", **values}, context={"base_dir": tmp_path})


def test_keep_past_days_defaults_to_90_and_may_equal_the_window(tmp_path: Path) -> None:
    make: Callable[..., CalendarSettings] = lambda **v: CalendarSettings.model_validate(  # noqa: E731
        {"provider": "ics", **v}, context={"base_dir": tmp_path})
    assert make().ics.keep_past_days == 90
    assert make(past_days=45, ics={"keep_past_days": 45}).ics.keep_past_days == 45


def test_the_daily_retirement_of_a_file_edited_by_hand_keeps_what_was_added(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    apply(store, ended("OLD", 91 * DAY), appointment("AHEAD", start=NOW + 2 * DAY))
    run(ics_settings, store, NOW - 95 * DAY)
    lunch = ("BEGIN:VEVENT\r\nUID:lunch@doctor\r\nDTSTART:20200101T120000Z\r\nDTEND:20200101T130000Z\r\n"
             "SUMMARY:Lunch\r\nEND:VEVENT\r\n")
    path.write_bytes(path.read_bytes().decode().replace("END:VCALENDAR", lunch + "END:VCALENDAR").encode())
    run(ics_settings, store, NOW)  # no change of ours: the daily retirement reads the edited file first
    assert set(uids(path)) == {uid("AHEAD"), "lunch@doctor"}
