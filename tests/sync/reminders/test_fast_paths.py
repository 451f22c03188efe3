"""Differential properties of the planner's shortcuts (issue 19): offsets and quiet hours
worked out without per-moment caches, and reads and writes converted a column at a time,
give what the routines they replaced give."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from clinicsync.common.timeutil import TimeError, zone
from clinicsync.sync.config.settings.reminders import Offset, QuietHours
from clinicsync.sync.reminders import planned_rows, planner, rows
from clinicsync.sync.reminders.planned_rows import COLUMNS, PlanReport, insert_new
from clinicsync.sync.reminders.timing import (
    Placer,
    Slot,
    due_for_offset,
    dues,
    dues_at,
    place,
    quiet_window,
    steps,
    wall_clock,
)
from clinicsync.sync.store import bulk
from clinicsync.sync.store.bulk import sqlite_time_text, utc_time_table
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.outbox import read_events as outbox_events
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import appointment, put

ZONES = st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
                         "America/St_Johns", "Asia/Kolkata", "Pacific/Chatham", "UTC"])
MOMENTS = st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)).map(lambda d: d.replace(tzinfo=UTC))
CLOCKS = st.times().map(lambda t: t.replace(microsecond=0))


def plain_due_for_offset(start: datetime, zone_name: str, offset: Offset) -> datetime:
    """timing.due_for_offset before issue 19 (through wall_clock)."""
    elapsed = offset.elapsed
    if elapsed is not None:
        return start - elapsed
    local = start.astimezone(zone(zone_name))
    return wall_clock(local.date() - timedelta(days=offset.amount), local.time().replace(tzinfo=None), zone_name)


def plain_quiet_window(moment: datetime, zone_name: str, quiet: QuietHours | None) -> tuple[datetime, datetime] | None:
    """timing.quiet_window before issue 19 (then behind a per-moment cache)."""
    if quiet is None or quiet.start == quiet.end:
        return None
    start, end = quiet.start, quiet.end
    local = moment.astimezone(zone(zone_name))
    day, now = local.date(), local.time()
    if start < end:
        if not start <= now < end:
            return None
        first, last = day, day
    elif now >= start:
        first, last = day, day + timedelta(days=1)
    elif now < end:
        first, last = day - timedelta(days=1), day
    else:
        return None
    return wall_clock(first, start, zone_name), wall_clock(last, end, zone_name)


@settings(max_examples=500, deadline=None)
@given(MOMENTS, ZONES, st.integers(0, 30), st.sampled_from("dhm"))
def test_offsets_fall_where_they_fell(start: datetime, zone_name: str, amount: int, unit: str) -> None:
    offset = Offset(amount, unit)
    assert due_for_offset(start, zone_name, offset) == plain_due_for_offset(start, zone_name, offset)


@settings(max_examples=500, deadline=None)
@given(MOMENTS, ZONES, CLOCKS, CLOCKS, st.booleans())
def test_quiet_windows_are_where_they_were(moment: datetime, zone_name: str, start: time, end: time,
                                          none: bool) -> None:
    quiet = None if none else QuietHours(start=start, end=end)
    assert quiet_window(moment, zone_name, quiet) == plain_quiet_window(moment, zone_name, quiet)


def test_a_moment_inside_the_quiet_hours_near_a_dst_change() -> None:
    quiet = QuietHours(start=time(1, 30), end=time(3, 30))
    moment = datetime(2026, 3, 8, 7, 45, tzinfo=UTC)  # 03:45 EDT, just after New York sprang forward
    for delta in range(-180, 180, 15):
        instant = moment + timedelta(minutes=delta)
        assert quiet_window(instant, "America/New_York", quiet) == plain_quiet_window(instant, "America/New_York",
                                                                                      quiet)


def test_planning_reads_the_appointments_and_events_sqlalchemy_reads(store: Store) -> None:
    start = datetime(2027, 1, 4, 13, 0, tzinfo=UTC)
    put(store, *[appointment(f"A{i}", start + timedelta(hours=i % 3)) for i in range(7)])
    with store.engine.begin() as connection:
        ids = [r.id for r in connection.execute(select(rows.APPOINTMENTS.c.id))]
        expected = {r.id: tuple(r) for r in connection.execute(select(*rows.PLANNED_FROM))}
        found = rows.read_appointments(connection, [*ids, 10_000], chunk=3)
        assert {i: tuple(r) for i, r in found.items()} == expected
        assert found[ids[0]].start_utc == start and found[ids[0]].start_utc.tzinfo is not None
        assert rows.read_appointments(connection, []) == {}
        events = outbox_events(connection, 0, 5)
        read = rows.read_events(connection, 0, 5)
        assert [(*e[:4], rows.event_time(connection, e.stored_at)) for e in read] == [
            (e.id, e.appointment_id, e.kind, e.payload, e.created_at) for e in events]
        assert all(e.created_at.tzinfo is not None for e in events)
        assert rows.read_events(connection, events[-1].id, 100)[0].id > events[-1].id


def test_planned_rows_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    put(store, appointment("A1", datetime(2027, 1, 4, 13, 0, tzinfo=UTC)))
    now = datetime(2026, 12, 1, 15, 30, 12, 345678, tzinfo=UTC)
    starts = datetime(2027, 1, 4, 13, 0, tzinfo=UTC)
    with store.engine.begin() as connection:
        appointment_id = connection.execute(select(rows.APPOINTMENTS.c.id)).scalar_one()

    def planned(prefix: str) -> dict[str, tuple[object, ...]]:
        out = {}
        plans = [(starts - timedelta(days=3), "pending"), (starts - timedelta(minutes=5), "skipped"),
                 (starts - timedelta(hours=1, microseconds=7), "pending")]
        for i, (due, status) in enumerate(plans):
            key = f"{prefix}{i}"
            out[key] = (key, appointment_id, "csv", "patient", "P1", "reminder", f"{i}d", 1, starts, due, status,
                        None if status == "pending" else "too late", None, None, "", 0, now, now)
        return out

    report = PlanReport()
    with store.engine.begin() as connection:
        insert_new(connection, planned("fast:"), report)
        connection.execute(insert(REMINDERS), [dict(zip(COLUMNS, row, strict=True))
                                               for row in planned("orm:").values()])
        insert_new(connection, planned("fast:"), report)  # stored already: nothing more
    assert (report.planned, report.skipped) == (2, 1)
    with store.engine.connect() as connection:
        stored = {r.key: tuple(r)[2:] for r in connection.execute(select(REMINDERS))}
    for i in range(3):
        assert stored[f"fast:{i}"] == stored[f"orm:{i}"]
    assert orjson.dumps(sorted(stored)).decode().count("fast:") == 3


def insert_both_ways(store: Store, shapes: dict[str, Any],
                     planned: Callable[[str, Any], dict[str, tuple[object, ...]]]) -> None:
    """Each shape's rows planned twice: keyed ``fast-<shape>:`` through insert_new, keyed
    ``orm-<shape>:`` through the ORM's insert, for a test to compare what each stored."""
    with store.engine.begin() as connection:
        for name, shape in shapes.items():
            insert_new(connection, planned(f"fast-{name}:", shape), PlanReport())
            connection.execute(insert(REMINDERS), [dict(zip(COLUMNS, row, strict=True))
                                                   for row in planned(f"orm-{name}:", shape).values()])


def test_nulls_written_as_literals_or_blanks_are_stored_as_bound_nulls(store: Store) -> None:
    """insert_new writes a column NULL in every row as the literal NULL and binds the None of
    a column NULL only in some rows (on SQLite through bulk.bind_none_directly's adapter): a ''
    among its values, a NULL elsewhere and the ORM's insert of the same rows must all store
    what they stored before."""
    put(store, appointment("A1", datetime(2027, 1, 4, 13, 0, tzinfo=UTC)))
    now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    with store.engine.begin() as connection:
        appointment_id = connection.execute(select(rows.APPOINTMENTS.c.id)).scalar_one()
    shapes = {"mixed": [(None, None, "moved"), ("3d", "", None), (None, None, None)],  # reason holds ''
              "blank": [(None, None, "moved"), ("3d", None, None)],
              "none": [(None, None, None), (None, None, None)]}

    def planned(prefix: str, shape: list[tuple[str | None, str | None, str | None]]) -> dict[str, tuple[object, ...]]:
        out = {}
        for i, (offset, reason, note) in enumerate(shape):
            key = f"{prefix}{i}"
            out[key] = (key, appointment_id, "csv", "patient", None if i else "P1", "reminder", offset, 1, None,
                        now, "pending", reason, note, None, "", 0, now, now)
        return out

    insert_both_ways(store, shapes, planned)
    with store.engine.connect() as connection:
        stored = {r.key: tuple(r)[2:] for r in connection.execute(select(REMINDERS))}
    for name, shape in shapes.items():
        for i in range(len(shape)):
            assert stored[f"fast-{name}:{i}"] == stored[f"orm-{name}:{i}"]
    assert stored["fast-mixed:1"][COLUMNS.index("reason") - 1] == "" and stored["fast-blank:1"][5] == "3d"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_stored_date_time_texts_are_read_as_the_column_reads_them(store: Store) -> None:
    """read_appointments converts SQLite's date-time texts itself (fromisoformat with "+00:00"):
    each text must come out as the column's result processor makes it, the ordinary ones and
    those another writer could have left (no microseconds, a 'T', an offset, a date alone)."""
    texts = ["2027-01-04 13:00:00.000000", "2027-01-04 13:00:00.123456", "2027-01-04 13:00:00", "2027-01-04T13:00",
             "2027-01-04 13:00:00.123", "2027-01-04 15:00:00+02:00", "2027-01-04", "2027-03-14 02:30:00.000000", None]
    start = rows.PlannedFrom._fields.index("start_utc")
    with store.engine.connect() as connection:
        [process] = bulk.result_processors(connection, [rows.PLANNED_FROM[start]])
        for sample in (texts, texts[:3], texts[5:6]):
            found = [tuple(text if at == start else None for at in range(len(rows.PLANNED_FROM))) for text in sample]
            texts: dict[datetime, str] = {}
            converted = list(map(rows._utc_from_text(connection, start, found, texts), sample))
            assert converted == [None if t is None else process(t) for t in sample]
            assert all(value is None or value.tzinfo is UTC for value in converted)
            # only the texts that planning would write as they are: SQLAlchemy's own format
            assert texts == {process(t): t for t in sample if t is not None and len(t) == 26 and t[10] == " "}
            assert all(sqlite_time_text(value) == text for value, text in texts.items())


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("per", [1, 3, 200])
def test_rows_in_multi_row_statements_with_literals_are_stored_and_numbered_as_bound_ones(
        store: Store, per: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's insert writes a column with one value in every row as a literal and puts
    ROWS_PER_STATEMENT rows in a statement (the rest one a statement): every value stored,
    and the order of the ids, must be what the ORM's insert of the same rows stores. The
    values include what a literal could get wrong: quotes, a NUL, text that looks like a
    number, True beside 1, a date-time with and without microseconds."""
    monkeypatch.setattr(planned_rows, "ROWS_PER_STATEMENT", per)
    put(store, appointment("A1", datetime(2027, 1, 4, 13, 0, tzinfo=UTC)))
    now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    with store.engine.begin() as connection:
        appointment_id = connection.execute(select(rows.APPOINTMENTS.c.id)).scalar_one()
    shapes: dict[str, list[tuple[object, ...]]] = {  # (connector, recipient_ref, offset, version, due)
        "constant": [("o'brien", "P'1", "3d", 1, now)] * 7,
        "nul": [("csv", "P\x001", "1e3", 1, now)] * 4,
        "numeric": [("csv", "0012", "1.50", True, now), ("csv", "0012", "1.50", 1, now)],
        "varied": [("csv", f"P{i}", None if i % 2 else "1h", i, now + timedelta(microseconds=i)) for i in range(8)],
        "one": [("csv", None, None, 0, now)]}

    def planned(prefix: str, shape: list[tuple[object, ...]]) -> dict[str, tuple[object, ...]]:
        out = {}
        for i, (connector, ref, offset, version, due) in enumerate(shape):
            key = f"{prefix}{i}"
            out[key] = (key, appointment_id, connector, "patient", ref, "reminder", offset, version, now, due,
                        "pending", None, "moved" if i == 2 else None, None, "", 0, now, now)
        return out

    insert_both_ways(store, shapes, planned)
    with store.engine.connect() as connection:
        stored = {r.key: (r.id, tuple(r)[2:]) for r in connection.execute(select(REMINDERS))}
        typed = dict(connection.exec_driver_sql(
            "SELECT key, typeof(connector) || typeof(recipient_ref) || typeof(\"offset\") || typeof(version) "
            "|| typeof(due_at) FROM reminder").fetchall())
    for name, shape in shapes.items():
        fast = [stored[f"fast-{name}:{i}"] for i in range(len(shape))]
        assert [values for _, values in fast] == [stored[f"orm-{name}:{i}"][1] for i in range(len(shape))]
        assert [typed[f"fast-{name}:{i}"] for i in range(len(shape))] == [
            typed[f"orm-{name}:{i}"] for i in range(len(shape))]
        assert [i for i, _ in fast] == sorted(i for i, _ in fast)  # inserted in the rows' order
    assert stored["fast-nul:0"][1][3] == "P\x001" and stored["fast-constant:0"][1][1] == "o'brien"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_column_of_repeated_values_is_converted_once_per_value(store: Store) -> None:
    calls: list[object] = []

    def process(value: object) -> object:
        calls.append(value)
        return f"<{value}>"

    assert list(bulk.converted(process, ["a", None, "a", "b", None])) == ["<a>", None, "<a>", "<b>", None]
    assert sorted(calls) == ["a", "b"]  # type: ignore[type-var]
    assert bulk.converted(None, ("x",)) == ("x",)


@settings(max_examples=300, deadline=None)
@given(MOMENTS, ZONES, st.lists(st.builds(Offset, st.integers(0, 30), st.sampled_from("dhm")), max_size=5))
def test_all_offsets_of_an_appointment_at_once_fall_where_each_falls(start: datetime, zone_name: str,
                                                                      offsets: list[Offset]) -> None:
    assert dues(start, zone_name, offsets) == [plain_due_for_offset(start, zone_name, o) for o in offsets]


QUIETS = st.one_of(st.none(), st.builds(lambda s, e: QuietHours(start=s, end=e), CLOCKS, CLOCKS),
                   st.just(QuietHours()), st.just(QuietHours(start=time(1, 30), end=time(3, 30))))
SPANS = st.integers(-3 * 24 * 60, 40 * 24 * 60).map(lambda m: timedelta(minutes=m))


def _slot_fields(slot: Slot) -> tuple[object, ...]:
    return slot.due, slot.reason, slot.note


@settings(max_examples=1500, deadline=None)
@given(MOMENTS, ZONES, QUIETS, SPANS, SPANS)
def test_the_placer_places_where_place_places(now: datetime, zone_name: str, quiet: QuietHours | None,
                                             ahead: timedelta, until: timedelta) -> None:
    placer = Placer(now, quiet)
    due, latest = now + ahead, now + ahead + until
    assert placer.fields(due, latest, zone_name) == _slot_fields(
        place(due, now=now, latest=latest, zone_name=zone_name, quiet=quiet))
    for _ in range(2):  # the second time from its per-zone memo of ``now``
        assert placer.notice(latest, zone_name) == _slot_fields(
            place(now, now=now, latest=latest, zone_name=zone_name, quiet=quiet))


def test_the_placer_near_dst_changes_and_quiet_edges() -> None:
    """Every 5 minutes across New York's and Berlin's spring and autumn changes, with quiet
    hours that start or end inside the skipped or repeated hour."""
    for quiet in (QuietHours(), QuietHours(start=time(2, 30), end=time(8, 0)),
                  QuietHours(start=time(22, 0), end=time(2, 30)), QuietHours(start=time(1, 0), end=time(3, 0))):
        for zone_name, change in (("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),
                                  ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
                                  ("Europe/Berlin", datetime(2026, 3, 29, 1, tzinfo=UTC)),
                                  ("Europe/Berlin", datetime(2026, 10, 25, 1, tzinfo=UTC))):
            for step in range(-12 * 12, 12 * 12):
                now = change + timedelta(minutes=5 * step)
                placer = Placer(now, quiet)
                for due, latest in ((now + timedelta(minutes=m), now + timedelta(hours=h))
                                    for m in (0, 30, 95) for h in (1, 9, 30)):
                    assert placer.fields(due, latest, zone_name) == _slot_fields(
                        place(due, now=now, latest=latest, zone_name=zone_name, quiet=quiet))
                    assert placer.notice(latest, zone_name) == _slot_fields(
                        place(now, now=now, latest=latest, zone_name=zone_name, quiet=quiet))


def _each_step(placer: Placer, start: datetime, zone_name: str, offsets: list[Offset],
               latest: datetime) -> list[tuple[datetime, tuple[object, ...]]]:
    """What Placer.at_steps stands for: dues_at, then fields of each due."""
    return [(due, placer.fields(due, latest, zone_name)) for due in dues_at(start, zone_name, steps(offsets))]


@settings(max_examples=1000, deadline=None)
@given(MOMENTS, ZONES, QUIETS, SPANS, st.integers(0, 180).map(lambda m: timedelta(minutes=m)),
       st.lists(st.builds(Offset, st.integers(0, 30), st.sampled_from("dhm")), max_size=5))
def test_all_steps_at_once_place_where_each_is_placed(now: datetime, zone_name: str, quiet: QuietHours | None,
                                                      ahead: timedelta, lead: timedelta,
                                                      offsets: list[Offset]) -> None:
    placer, start = Placer(now, quiet), now + ahead
    assert placer.at_steps(start, zone_name, steps(offsets), start - lead) == _each_step(
        placer, start, zone_name, offsets, start - lead)


def test_all_steps_at_once_across_dst_changes() -> None:
    """Starts every 5 minutes around New York's and Lord Howe's changes, offsets landing in
    the skipped or repeated hour, quiet hours ending inside it."""
    offsets = [Offset(a, u) for a in (1, 2, 3) for u in "dh"] + [Offset(90, "m")]
    for quiet in (None, QuietHours(), QuietHours(start=time(1, 0), end=time(2, 30)),
                  QuietHours(start=time(2, 30), end=time(1, 45))):
        for zone_name, change in (("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),
                                  ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
                                  ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC))):
            placer = Placer(change - timedelta(days=4), quiet)
            for step in range(-12 * 12, 4 * 24 * 12):
                start = change + timedelta(minutes=5 * step)
                latest = start - timedelta(minutes=15)
                assert placer.at_steps(start, zone_name, steps(offsets), latest) == _each_step(
                    placer, start, zone_name, offsets, latest)


def test_an_unknown_zone_fails_the_placer_where_it_fails_place() -> None:
    now = datetime(2026, 3, 1, 15, tzinfo=UTC)
    placer = Placer(now, QuietHours())
    with pytest.raises(TimeError):
        place(now, now=now, latest=now + timedelta(days=1), zone_name="Mars/Olympus", quiet=QuietHours())
    with pytest.raises(TimeError):
        placer.fields(now, now + timedelta(days=1), "Mars/Olympus")
    with pytest.raises(TimeError):
        placer.notice(now + timedelta(days=1), "Mars/Olympus")
    with pytest.raises(TimeError):
        Placer(now, None).at_steps(now + timedelta(days=3), "Mars/Olympus", steps([Offset(1, "d")]), now)
    assert Placer(now, None).fields(now, now + timedelta(days=1), "Mars/Olympus") == (now, None, None)
    assert placer.fields(now, now - timedelta(days=1), "Mars/Olympus") == (None, "too late", None)


@settings(max_examples=500, deadline=None)
@given(MOMENTS, ZONES, st.lists(st.builds(Offset, st.integers(0, 400), st.sampled_from("dhm")), max_size=5))
def test_dues_from_steps_fall_where_dues_fall(start: datetime, zone_name: str, offsets: list[Offset]) -> None:
    assert dues_at(start, zone_name, steps(offsets)) == dues(start, zone_name, offsets)


def test_dues_from_steps_across_dst_changes() -> None:
    """Every 5 minutes around a spring and an autumn change (starts in the repeated hour,
    days-back landing in the skipped one), in zones with whole, half and odd offsets."""
    offsets = [Offset(a, u) for a in (0, 1, 2, 3, 7) for u in "dhm"]
    for zone_name, change in (("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),
                              ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
                              ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC)),
                              ("America/St_Johns", datetime(2026, 11, 1, 4, 30, tzinfo=UTC))):
        for step in range(-12 * 12 * 9, 12 * 12 * 9, 7):
            start = change + timedelta(minutes=5 * step)
            assert dues_at(start, zone_name, steps(offsets)) == dues(start, zone_name, offsets), start


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_date_times_are_bound_as_the_column_binds_them(store: Store) -> None:
    berlin = zone("Europe/Berlin")
    values = [datetime(2027, 1, 4, 13, 0, tzinfo=UTC), datetime(2027, 1, 4, 13, 0, 0, 7, tzinfo=UTC),
              datetime(5, 3, 1, 0, 0, 59, 999999, tzinfo=UTC), None, datetime(2026, 10, 25, 2, 30, tzinfo=berlin),
              datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin), datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
              datetime(2027, 1, 4, 13, 0, tzinfo=UTC)]
    with store.engine.connect() as connection:
        for name in ("starts_at", "due_at"):
            column = REMINDERS.c[name]
            table = utc_time_table(connection, column, values)
            assert list(map(table.__getitem__, values)) == list(bulk.bind_column(connection, column, values))
        assert utc_time_table(connection, REMINDERS.c.due_at, [None]) == {None: None}


def test_a_lone_baseline_event_is_planned_as_the_general_way_plans_it() -> None:
    """_Chunk._baseline (one go-live baseline event: a first import) collects the rows and
    cancellations _Chunk._told collects, for every status, deletion, patient, event kind,
    stored rows (none, pending or not, same start or moved, notices) and the settings that
    make _told announce (same-day changes, follow-ups, confirmations)."""
    from itertools import product

    from clinicsync.sync.config.settings.reminders import RemindersSettings
    from clinicsync.sync.reminders.rows import PlanEvent, PlannedFrom
    from clinicsync.sync.reminders.rows import Planned as Stored

    now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    start = now + timedelta(hours=5)
    stored = [
        [],
        [Stored(1, "k1", 7, "patient", "reminder", "1d", "pending", start, "P1", 1)],
        [Stored(1, "k1", 7, "patient", "reminder", "1d", "pending", start - timedelta(hours=1), "P1", 1),
         Stored(2, "k2", 7, "patient", "confirmation", None, "pending", start, "P1", 1)],
        [Stored(3, "k3", 7, "patient", "reminder", "1h", "sent", start, "P1", 1),
         Stored(4, "k4", 7, "practitioner", "agenda", None, "pending", start, "D1", 1)],
        [Stored(5, "k5", 7, "patient", "cancelled", None, "pending", start, "P1", 1)],  # booked again before it went
    ]
    configs = [RemindersSettings.model_validate({
        "agenda": {"same_day_changes": same_day},
        "notices": {"confirmed": confirmed, "followup": {"enabled": follow}}})
        for same_day, confirmed, follow in product([False, True], repeat=3)]
    cases = 0
    for config, status, deleted, patient, kind, existing in product(
            configs, ["booked", "proposed", "cancelled", "noshow", "fulfilled", "waitlist"], [None, now],
            [None, "P1"], ["created", "updated", "cancelled", "deleted", "noshow", "rescheduled"], stored):
        a = PlannedFrom(7, "csv", status, start, start + timedelta(minutes=30), "America/New_York", "checkup",
                        patient, "D1", 2, deleted)
        event = PlanEvent(11, 7, kind, {"baseline": True})
        rules = planner.Rules(config)
        fast, slow = planner._Chunk(None, rules, now), planner._Chunk(None, rules, now)  # type: ignore[arg-type]
        fast._appointment(a, [event], existing)
        slow._told(a, [event], existing)
        assert (fast.rows, fast.cancel) == (slow.rows, slow.cancel), (status, deleted, patient, kind, existing)
        cases += 1
    assert cases == 8 * 6 * 2 * 2 * 6 * 5
