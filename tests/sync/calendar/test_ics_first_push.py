"""A first push into the .ics provider on the store writes each file's new events and their
links as rows in one pass (push._send_new, IcsCalendar.insert_new, issue 32). It must leave
what the general path (an Op and an Outcome per event, push._send_recorded) leaves: the same
files apart from DTSTAMP/LAST-MODIFIED, the same link, icsevent and icsfile rows in the same
order; a file that already holds one of the events goes the general way; a file that fails
records its links as failing, and the next run writes them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from clinicsync.mappings.model import NormalizedPatient
from clinicsync.sync.calendar import push as push_module
from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.provider import Op, Outcome
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.model.calendar import ICS_EVENTS, ICS_FILES, LINKS
from clinicsync.sync.store.store import Store
from tests.sync.calendar.helpers import apply, appointment, base_time

pytestmark = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
_STAMP = re.compile(r"^(DTSTAMP|LAST-MODIFIED):\d{8}T\d{6}Z\r$", re.MULTILINE)
Hook = Callable[[Sequence[Op], Sequence[Outcome]], None] | None


def general(_ops: Sequence[Op], _outcomes: Sequence[Outcome]) -> None:
    """An ``on_outcomes`` hook: its push takes the general path (an Op per event)."""


def calendar_settings(tmp_path: Path, **extra: Any) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}, **extra},
                                           context={"base_dir": tmp_path})


def a_practice(store: Store) -> None:
    """Two doctors' appointments that give their events different lines: a type to escape, a
    long non-ASCII name to fold, another zone, a cancelled one, one nobody's calendar takes."""
    others = [NormalizedPatient(f"P{i}", name=name, phone=None, email=f"p{i}@mail.example.com")
              for i, name in enumerate(["Zoë Ångström-Øverli de la Cruz Montenegro", "Li", "O'Brien, Seán"])]
    rows = []
    for i in range(130):
        rows.append(appointment(
            f"A{i:03d}", start=base_time() + timedelta(minutes=20 * i), doctor=("D01", "D02", "D03")[i % 3],
            kind=("Check, up; röntgen\n" if i % 7 == 0 else "Follow-up"), patient=others[i % 3],
            timezone=("Europe/Berlin" if i % 5 == 0 else "America/New_York"),
            status=("cancelled" if i % 11 == 0 else "booked")))
    rows.append(appointment("NOBODY", doctor=None))
    apply(store, *rows)


def pushed(store: Store, settings: CalendarSettings, on_outcomes: Hook = None) -> dict[str, int]:
    provider = IcsCalendar(settings.ics, store.engine)
    try:
        return push(settings, store.engine, provider, on_outcomes=on_outcomes).as_dict()
    finally:
        provider.close()


def state(store: Store, folder: Path) -> dict[str, Any]:
    """The files (stamps masked) and the calendar tables in id order, without ids and times."""
    with store.engine.connect() as connection:
        links = [tuple(r) for r in connection.execute(
            select(LINKS.c.appointment_id, LINKS.c.provider, LINKS.c.account, LINKS.c.calendar_id, LINKS.c.event_id,
                   LINKS.c.state, LINKS.c.etag, LINKS.c.pushed_hash, LINKS.c.rendered_from, LINKS.c.attempts,
                   LINKS.c.last_error).order_by(LINKS.c.id))]
        events = [(*r[:-1], _STAMP.sub(r"\1:-", r[-1])) for r in connection.execute(
            select(ICS_EVENTS.c.calendar_id, ICS_EVENTS.c.uid, ICS_EVENTS.c.sequence, ICS_EVENTS.c.cancelled,
                   ICS_EVENTS.c.tzid, ICS_EVENTS.c.vevent).order_by(ICS_EVENTS.c.id))]
        files = [tuple(r) for r in connection.execute(
            select(ICS_FILES.c.calendar_id, ICS_FILES.c.dirty).order_by(ICS_FILES.c.calendar_id))]
    texts = {p.name: _STAMP.sub(r"\1:-", p.read_bytes().decode()) for p in sorted(folder.glob("*.ics")) if p.is_file()}
    return {"links": links, "events": events, "files": files, "texts": texts}


def forget(store: Store, folder: Path) -> None:
    """Back to before the first push: no link, no event, no file."""
    with store.engine.begin() as connection:
        for table in (LINKS, ICS_EVENTS, ICS_FILES):
            connection.execute(delete(table))
    for path in folder.glob("*.ics"):
        if path.is_file():
            path.unlink()


def both_ways(store: Store, settings: CalendarSettings, folder: Path,
              before: Callable[[], None] = lambda: None) -> tuple[Any, Any]:
    """(counts, state) of a first push the new way, then the general way from the same start."""
    before()
    fast = pushed(store, settings), state(store, folder)
    forget(store, folder)
    before()
    slow = pushed(store, settings, general), state(store, folder)
    return fast, slow


@pytest.mark.parametrize("chunk", [50, 1000])
@pytest.mark.parametrize("extra", [{}, {"cancelled_action": "mark_cancelled", "invite_patient": True}])
def test_a_first_push_leaves_what_the_general_path_leaves(store: Store, tmp_path: Path, chunk: int,
                                                          extra: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_module, "CHUNK", chunk)  # 50: rounds that span pages and files
    settings = calendar_settings(tmp_path, **extra)
    a_practice(store)
    (fast_counts, fast), (slow_counts, slow) = both_ways(store, settings, tmp_path / "calendars")
    assert fast_counts == slow_counts and fast_counts["inserted"] > 100
    assert fast == slow
    assert len(fast["texts"]) == 3 and all(state_ == "present" for *_, state_, _, _, _, _, _ in fast["links"])
    assert pushed(store, settings)["unchanged"] == fast_counts["inserted"]  # and the next run sends nothing


def test_a_file_that_holds_one_of_the_events_goes_the_general_way(store: Store, tmp_path: Path) -> None:
    settings = calendar_settings(tmp_path)
    folder = tmp_path / "calendars"
    apply(store, *(appointment(f"A{i}", start=base_time() + timedelta(hours=i)) for i in range(4)))
    assert pushed(store, settings)["inserted"] == 4
    kept = (folder / "amelia.hart@clinic.example.org.ics").read_bytes()  # a file from before the table, say

    def restore() -> None:
        folder.mkdir(exist_ok=True)
        (folder / "amelia.hart@clinic.example.org.ics").write_bytes(kept)

    forget(store, folder)
    (fast_counts, fast), (slow_counts, slow) = both_ways(store, settings, folder, restore)
    assert fast_counts == slow_counts == {**fast_counts, "inserted": 4, "failed": 0}
    assert fast == slow
    assert [event[2] for event in fast["events"]] == [1, 1, 1, 1]  # adopted, then replaced: a new SEQUENCE


def test_a_file_that_fails_records_its_links_as_failing_then_is_written(store: Store, tmp_path: Path) -> None:
    settings = calendar_settings(tmp_path)
    folder = tmp_path / "calendars"
    apply(store, appointment("A1"), appointment("B1", doctor="D02"))

    def unreadable() -> None:  # a directory where Dr. Hart's file should be: reading it fails
        (folder / "amelia.hart@clinic.example.org.ics").mkdir(parents=True, exist_ok=True)

    def first_push(on_outcomes: Hook) -> tuple[dict[str, int], Any]:
        provider = IcsCalendar(settings.ics, store.engine)
        counts = push(settings, store.engine, provider, on_outcomes=on_outcomes).as_dict()
        return counts, state(store, folder)  # before flush's retry at close, which fails too

    unreadable()
    fast_counts, fast = first_push(None)
    forget(store, folder)
    (folder / "amelia.hart@clinic.example.org.ics").rmdir()
    unreadable()
    slow_counts, slow = first_push(general)
    assert fast_counts == slow_counts and fast_counts["failed"] == 1 and fast_counts["inserted"] == 1
    assert fast == slow
    assert [(row[5], row[9], row[10]) for row in fast["links"]] == [
        ("present", 0, None), ("pending", 1, "ics file: IsADirectoryError")]
    (folder / "amelia.hart@clinic.example.org.ics").rmdir()
    assert pushed(store, settings)["inserted"] == 1  # the next run writes it
    assert len([p for p in folder.glob("*.ics") if p.is_file()]) == 2


def test_event_ids_and_hashes_that_need_escaping_or_folding_are_written_as_the_general_path_writes_them(
        store: Store, tmp_path: Path) -> None:
    """insert_new checks a round's uids and hashes at once and, when each is a short plain run
    (always, for our ids and hex digests), writes them without matching each; one that is not
    (a caller's own ids) is escaped and folded as _vevent_text writes it for an Op."""
    from datetime import UTC, datetime

    from clinicsync.sync.calendar import ics

    settings = calendar_settings(tmp_path)
    provider = IcsCalendar(settings.ics, store.engine)
    start = datetime(2027, 1, 4, 13, tzinfo=UTC)
    content = ics.EventContent(connector="c", external_id="A1", summary="Visit", description="", location=None,
                               start=start, end=start + timedelta(minutes=30), timezone="America/New_York")
    plain = [("0123456789abcdefghijklmnopqrstuv", content, "0123456789abcdef0123456789abcdef")]
    odd = [("x" * 60, content, "0123456789abcdef0123456789abcdef"), ("a,b;c", content, "not; a hash")]
    for calendar, events in (("plain", plain), ("odd", odd), ("mixed", plain + odd)):
        assert provider.insert_new(ics.Target("ics", "", calendar), events, lambda _connection: None)
    with store.engine.connect() as connection:
        stored = {(row.calendar_id, row.uid): _STAMP.sub(r"\1:-", row.vevent) for row in connection.execute(
            select(ICS_EVENTS.c.calendar_id, ICS_EVENTS.c.uid, ICS_EVENTS.c.vevent))}
    expected = {(calendar, ics.uid_for(event_id)): _STAMP.sub(r"\1:-", ics._vevent_text(
        content_, digest, ics.uid_for(event_id), 0, "20270101T000000Z"))
        for calendar, events in (("plain", plain), ("odd", odd), ("mixed", plain + odd))
        for event_id, content_, digest in events}
    assert stored == expected
    assert "\r\n " in stored[("odd", ics.uid_for("x" * 60))]  # folded: the check was not skipped
    assert "UID:a\\,b\\;c@clinicsync" in stored[("odd", ics.uid_for("a,b;c"))]
    provider.close()


def test_a_files_zones_and_events_read_in_table_order_are_those_read_through_the_index(
        store: Store, tmp_path: Path) -> None:
    """flush reads a practice's file (a third of the table each here) in table order on SQLite
    (IcsState.scan, worked out once per file with min and max looked up, not scanned): the same
    zones and the same events in the same order as through the ``(calendar_id, uid)`` index."""
    settings = calendar_settings(tmp_path)
    a_practice(store)
    provider = IcsCalendar(settings.ics, store.engine)
    pushed(store, settings)
    calendars = sorted(provider.state.dirty() or [p.stem for p in (tmp_path / "calendars").glob("*.ics")])
    assert len(calendars) == 3
    for calendar_id in calendars:
        assert provider.state.scan(calendar_id) is (store.engine.dialect.name == "sqlite")
        zones = provider.state.tzids(calendar_id, True)
        assert zones == provider.state.tzids(calendar_id, False) == provider.state.tzids(calendar_id)
        assert zones == ["America/New_York", "Europe/Berlin"]
        events = [row[0] for rows in provider.state.vevents(calendar_id, scan=True) for row in rows]
        assert events == [row[0] for rows in provider.state.vevents(calendar_id, scan=False) for row in rows]
        assert len(events) > 30
    provider.close()


def _shared_rows_stored_as_bound_rows(engine: Any) -> None:
    """links.insert_shared stores what bulk.insert_ignoring stores for the same rows, whether
    a shared value is written into the statement (None, an int, a plain text) or bound (a text
    with a quote or a backslash, a bool, a time); a row already there is skipped, as there."""
    from datetime import UTC, datetime

    from clinicsync.sync.calendar.links import insert_shared
    from clinicsync.sync.store import bulk

    now = datetime(2027, 1, 4, 13, tzinfo=UTC)
    with engine.begin() as connection:
        at = bulk.bind_value(connection, ICS_EVENTS.c.updated_at, now)
        for calendar_id in ("dr.hart@clinic.example.org", "it's a \\ file", "x" * 300):
            for tzid in (None, "America/New_York", True):
                for way, uid in (("shared", "u1"), ("bound", "u2")):
                    own = [(f"{uid}@{tzid}", "BEGIN:VEVENT\r\nEND:VEVENT\r\n", at), (f"{uid}b@{tzid}", "", at)]
                    shared = {"calendar_id": calendar_id[:255], "sequence": 7, "tzid": tzid, "cancelled": False}
                    if way == "shared":
                        insert_shared(connection, ICS_EVENTS, ("uid", "vevent", "updated_at"), shared, own)
                        insert_shared(connection, ICS_EVENTS, ("uid", "vevent", "updated_at"), shared, own[:1])
                    else:
                        names = ("uid", "vevent", "updated_at", *shared)
                        bulk.insert_ignoring(connection, ICS_EVENTS, names, [(*row, *shared.values()) for row in own])
    with engine.connect() as connection:
        rows = [tuple(r) for r in connection.execute(select(
            ICS_EVENTS.c.calendar_id, ICS_EVENTS.c.uid, ICS_EVENTS.c.sequence, ICS_EVENTS.c.cancelled,
            ICS_EVENTS.c.tzid, ICS_EVENTS.c.vevent, ICS_EVENTS.c.updated_at).order_by(ICS_EVENTS.c.id))]
    assert len(rows) == 3 * 3 * 2 * 2
    firsts = [row for row in rows if row[1].startswith("u1")]
    seconds = [row for row in rows if row[1].startswith("u2")]
    assert [(r[0], r[1][2:], *r[2:]) for r in firsts] == [(r[0], r[1][2:], *r[2:]) for r in seconds]
    assert {r[0] for r in firsts} == {"dr.hart@clinic.example.org", "it's a \\ file", "x" * 255}


def test_shared_values_are_stored_as_bound_ones(store: Store) -> None:
    _shared_rows_stored_as_bound_rows(store.engine)


def test_a_shared_flag_and_time_stamp_are_stored_as_bound_ones(store: Store) -> None:
    """A first push's file round writes its events' shared ``cancelled`` flag (TRUE/FALSE) and
    time stamp (SQLite's date-time text, with its space and colons) into the statement: the
    stored values, their storage classes included, are those binding them per row stores."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from clinicsync.sync.calendar.links import insert_shared
    from clinicsync.sync.store import bulk

    now = datetime(2027, 1, 4, 13, 5, 7, 123456, tzinfo=UTC)
    with store.engine.begin() as connection:
        at = bulk.bind_value(connection, ICS_EVENTS.c.updated_at, now)
        for flag in (False, True):
            own = [(f"s{flag}1", "America/New_York", "BEGIN:VEVENT\r\nEND:VEVENT\r\n"), (f"s{flag}2", None, "")]
            shared = {"calendar_id": "dr.a@clinic.example", "sequence": 0, "updated_at": at, "cancelled": flag}
            insert_shared(connection, ICS_EVENTS, ("uid", "tzid", "vevent"), shared, own)
            bulk.insert_ignoring(connection, ICS_EVENTS, ("uid", "tzid", "vevent", *shared),
                                 [(f"b{row[0][1:]}", *row[1:], *shared.values()) for row in own])
    columns = ("calendar_id", "sequence", "cancelled", "tzid", "vevent", "updated_at")
    probe = ", ".join(f"{c}, typeof({c})" if store.engine.dialect.name == "sqlite" else c for c in columns)
    with store.engine.connect() as connection:
        rows = {r[0]: r[1:] for r in connection.execute(text(f"SELECT uid, {probe} FROM icsevent"))}
    assert len(rows) == 8
    for uid, values in rows.items():
        if uid.startswith("s"):
            assert values == rows["b" + uid[1:]]
    sqlite = store.engine.dialect.name == "sqlite"
    assert {values[4 if sqlite else 2] for values in rows.values()} == ({1, 0} if sqlite else {True, False})
