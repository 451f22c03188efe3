"""A recurring series in an ``ical_columns`` column is read as its occurrences inside the
connector's window, each its own record whose ``occurrence_id`` is the UID and the occurrence's
original start in UTC: RRULE with COUNT, UNTIL and none (bounded by the window), EXDATE, a moved
and a cancelled override, a TZID's wall clock kept across a DST change; an occurrence taken out
of the series vanishes as a deleted row does (a snapshot's next read, the delete sweep's
listing). Dates are relative to today, so the window always holds them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.mappings.engine import load_mapping
from tests.connectors.test_sql_ical_columns import event

BERLIN = ZoneInfo("Europe/Berlin")
MAPPING = """\
name: ical_series
description: events kept as iCalendar text, series among them
fields:
  external_id: {from: [calendardata.occurrence_id, id], required: true}
  start: {from: calendardata.dtstart}
  end: {from: calendardata.dtend}
  timezone: {from: calendardata.timezone}
  status: {from: calendardata.status}
  patient.external_id: {from: calendardata.attendee_email}
  patient.email: {from: calendardata.attendee_email}
status_map: {CONFIRMED: booked, TENTATIVE: pending, CANCELLED: cancelled}
"""
PATIENT = "ATTENDEE;CN=Karl Braun:mailto:karl.braun@mail.example"


def _wall(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _first(days: int = 7) -> datetime:
    """10:00 in Berlin ``days`` from today."""
    day = datetime.now(BERLIN).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=BERLIN)


def _weeks(start: datetime, n: int) -> datetime:
    """The wall clock of ``start`` ``n`` weeks on (a DST change between keeps it)."""
    return (start.replace(tzinfo=None) + timedelta(weeks=n)).replace(tzinfo=BERLIN)


def _physio(start: datetime, rule: str = "RRULE:FREQ=WEEKLY;COUNT=6", exdates: tuple[int, ...] = (2,)) -> str:
    """A weekly series with an EXDATE (week 2), week 3 moved to the next day at 12:00 and week 4
    cancelled (overrides by RECURRENCE-ID), as a calendar client stores them in one object."""
    master = ["UID:physio-1", f"DTSTART;TZID=Europe/Berlin:{_wall(start)}",
              f"DTEND;TZID=Europe/Berlin:{_wall(start + timedelta(minutes=30))}", rule,
              *(f"EXDATE;TZID=Europe/Berlin:{_wall(_weeks(start, n))}" for n in exdates),
              "SUMMARY:Physiotherapie", "STATUS:CONFIRMED", PATIENT]
    moved_from, moved_to = _weeks(start, 3), _weeks(start, 3).replace(hour=12) + timedelta(days=1)
    cancelled = _weeks(start, 4)
    overrides = [
        ["UID:physio-1", f"RECURRENCE-ID;TZID=Europe/Berlin:{_wall(moved_from)}",
         f"DTSTART;TZID=Europe/Berlin:{_wall(moved_to)}",
         f"DTEND;TZID=Europe/Berlin:{_wall(moved_to + timedelta(minutes=30))}", "STATUS:CONFIRMED", "SEQUENCE:1",
         PATIENT],
        ["UID:physio-1", f"RECURRENCE-ID;TZID=Europe/Berlin:{_wall(cancelled)}",
         f"DTSTART;TZID=Europe/Berlin:{_wall(cancelled)}",
         f"DTEND;TZID=Europe/Berlin:{_wall(cancelled + timedelta(minutes=30))}", "STATUS:CANCELLED", PATIENT]]
    text = event("\n".join(master))
    tail = "".join("BEGIN:VEVENT\r\n" + "\r\n".join(o) + "\r\nEND:VEVENT\r\n" for o in overrides)
    return text.replace("END:VCALENDAR\r\n", tail + "END:VCALENDAR\r\n")


def _database(path: Path, rows: dict[int, str]) -> str:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, calendardata BLOB, "
                       "lastmodified INTEGER)")
    connection.execute("DELETE FROM events")
    stamp = int(datetime.now(UTC).timestamp()) - 600
    connection.executemany("INSERT INTO events VALUES (?, ?, ?)",
                           [(k, v.encode(), stamp + k + len(v)) for k, v in rows.items()])
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "series.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def _read(url: str, mapping: Path, **options: Any) -> list[dict[str, Any]]:
    options = {"table": "events", "mode": "snapshot", **options}
    connector = SqlConnector(SqlSettings(name="src", mapping=str(mapping), url=url, ical_columns=["calendardata"],
                                         **options))
    try:
        batches = list(connector.fetch(None))
    finally:
        connector.close()
    assert not [r for b in batches for r in b.rejected], [r.reason for b in batches for r in b.rejected]
    return [r.data for b in batches for r in b.records]


def test_a_weekly_series_is_one_record_an_occurrence_with_its_exdate_moved_and_cancelled_ones(
        tmp_path: Path, mapping: Path) -> None:
    start = _first()
    records = _read(_database(tmp_path / "cal.db", {1: _physio(start)}), mapping)
    events = {r["calendardata"]["occurrence_id"]: r["calendardata"] for r in records}
    assert all(r["id"] == 1 for r in records)
    weeks = [0, 1, 3, 4, 5]  # week 2 taken out by EXDATE
    assert sorted(events) == sorted(f"physio-1/{_utc(_weeks(start, n))}" for n in weeks)
    for n in (0, 1, 5):
        one = events[f"physio-1/{_utc(_weeks(start, n))}"]
        assert one["dtstart"] == _weeks(start, n).isoformat() and one["status"] == "CONFIRMED"
        assert one["dtend"] == (_weeks(start, n) + timedelta(minutes=30)).isoformat()
        assert (one["timezone"], one["attendee_email"], one["uid"]) == ("Europe/Berlin", "karl.braun@mail.example",
                                                                        "physio-1")
        assert one["recurrence_id"] == _weeks(start, n).astimezone(UTC).isoformat()
    moved = events[f"physio-1/{_utc(_weeks(start, 3))}"]  # its id is the original start's: a reschedule
    moved_to = _weeks(start, 3).replace(hour=12) + timedelta(days=1)
    assert (moved["dtstart"], moved["status"]) == (moved_to.isoformat(), "CONFIRMED")
    assert events[f"physio-1/{_utc(_weeks(start, 4))}"]["status"] == "CANCELLED"
    again = _read(f"sqlite:///{tmp_path / 'cal.db'}", mapping)
    assert [r["calendardata"]["occurrence_id"] for r in again] == [r["calendardata"]["occurrence_id"]
                                                                   for r in records]


def _next_dst_change(after: date) -> date:
    day = after
    while (datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN).utcoffset()
           == datetime(after.year, after.month, after.day, 12, tzinfo=BERLIN).utcoffset()):
        day += timedelta(days=1)
    return day


def test_a_weekly_visit_stays_at_its_wall_clock_across_a_dst_change(tmp_path: Path, mapping: Path) -> None:
    change = _next_dst_change(datetime.now(BERLIN).date() + timedelta(days=2))
    start = _first((change - datetime.now(BERLIN).date()).days - 14)
    text = event(f"UID:talk-1\nDTSTART;TZID=Europe/Berlin:{_wall(start)}\nDURATION:PT50M\n"
                 f"RRULE:FREQ=WEEKLY;COUNT=5\n{PATIENT}")
    records = _read(_database(tmp_path / "cal.db", {1: text}), mapping, window={"ahead": "400d"})
    starts = [datetime.fromisoformat(r["calendardata"]["dtstart"]) for r in records]
    assert len(starts) == 5
    assert {s.astimezone(BERLIN).strftime("%H:%M") for s in starts} == {"10:00"}
    assert len({s.utcoffset() for s in starts}) == 2  # summer and winter time among them
    ends = [datetime.fromisoformat(r["calendardata"]["dtend"]) for r in records]
    assert all(e - s == timedelta(minutes=50) for s, e in zip(starts, ends, strict=True))


@pytest.mark.parametrize(("rule", "count"), [("COUNT=3", 3), ("UNTIL={until}", 4), ("", None)])
def test_count_until_and_an_infinite_series_bounded_by_the_window(
        tmp_path: Path, mapping: Path, rule: str, count: int | None) -> None:
    start = _first(2)
    until = _utc(_weeks(start, 3))
    text = event(f"UID:weekly\nDTSTART;TZID=Europe/Berlin:{_wall(start)}\nDURATION:PT30M\n"
                 f"RRULE:FREQ=WEEKLY{';' + rule.format(until=until) if rule else ''}\n{PATIENT}")
    records = _read(_database(tmp_path / "cal.db", {1: text}), mapping)
    starts = sorted(datetime.fromisoformat(r["calendardata"]["dtstart"]) for r in records)
    if count is None:  # infinite: every week up to the window's end (180 days ahead), none past it
        end = datetime.now(UTC) + timedelta(days=180)
        count = len([n for n in range(60) if _weeks(start, n) < end])
        assert starts[-1] < end <= starts[-1] + timedelta(weeks=1)
    assert len(starts) == count
    assert starts == [_weeks(start, n) for n in range(count)]


def test_an_all_day_series_stays_set_aside(tmp_path: Path, mapping: Path) -> None:
    day = datetime.now(BERLIN).date() + timedelta(days=3)
    text = event(f"UID:off\nDTSTART;VALUE=DATE:{day:%Y%m%d}\nRRULE:FREQ=WEEKLY;COUNT=3\nSUMMARY:Urlaub")
    connector = SqlConnector(SqlSettings(name="src", mapping=str(mapping), url=_database(tmp_path / "c.db", {1: text}),
                                         table="events", mode="snapshot", ical_columns=["calendardata"]))
    try:
        batches = list(connector.fetch(None))
    finally:
        connector.close()
    assert not [r for b in batches for r in b.records]
    assert [r.reason.split(":")[0] + ": " + ("all-day" if "all-day" in r.reason else r.reason)
            for b in batches for r in b.rejected] == ["calendardata: all-day"]


def test_a_snapshot_sync_stores_each_occurrence_and_deletes_one_taken_out_of_the_series(
        tmp_path: Path, mapping: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    start = _first()
    url = _database(tmp_path / "cal.db", {1: _physio(start)})
    connectors = (f"- name: src\n  kind: sql\n  url: {json.dumps(url)}\n  table: events\n  mode: snapshot\n"
                  f"  mapping: {json.dumps(str(mapping))}\n  ical_columns: [calendardata]\n")
    run = cli(write_settings(connectors, timezone="Europe/Berlin"))
    run("sync", "--once", "--json")
    stored = _stored(run)
    assert sorted(stored) == sorted(f"physio-1/{_utc(_weeks(start, n))}" for n in (0, 1, 3, 4, 5))
    assert stored[f"physio-1/{_utc(_weeks(start, 4))}"]["status"] == "cancelled"
    moved = stored[f"physio-1/{_utc(_weeks(start, 3))}"]
    assert moved["start"] == (_weeks(start, 3).replace(hour=12) + timedelta(days=1)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert stored[f"physio-1/{_utc(start)}"]["start"] == start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The doctor takes week 1 out (EXDATE) and ends the series a week early (COUNT=5).
    _database(tmp_path / "cal.db", {1: _physio(start, "RRULE:FREQ=WEEKLY;COUNT=5", exdates=(1, 2))})
    run("sync", "--once", "--json")
    assert sorted(_stored(run)) == sorted(f"physio-1/{_utc(_weeks(start, n))}" for n in (0, 3, 4))


def _stored(run: Any) -> dict[str, dict[str, Any]]:
    _, out, _ = run("appointments", "list", "--all", "--json")
    return {a["external_id"]: a for a in json.loads(out)["items"]}


def test_the_delete_sweep_lists_each_occurrence_and_not_one_taken_out(tmp_path: Path, mapping: Path) -> None:
    """Incremental mode: the changed row is read again (its cursor column moved) and the delete
    sweep's listing, read through the mapping as the sweep does, lacks the occurrence taken out."""
    start = _first()
    url = _database(tmp_path / "cal.db", {1: _physio(start)})
    compiled = load_mapping(str(mapping), "Europe/Berlin", "DE")
    connector = SqlConnector(SqlSettings(name="src", mapping=str(mapping), url=url, table="events",
                                         cursor_column="lastmodified", ical_columns=["calendardata"]))
    connector.id_columns = compiled.id_columns()
    try:
        first = [r.data["calendardata"]["occurrence_id"] for b in connector.fetch(None) for r in b.records]
        listed = {compiled.peek_id(r) for r in connector.list_ids().records}
        assert listed == set(first) == {f"physio-1/{_utc(_weeks(start, n))}" for n in (0, 1, 3, 4, 5)}
        _database(tmp_path / "cal.db", {1: _physio(start, exdates=(1, 2))})
        listed = {compiled.peek_id(r) for r in connector.list_ids().records}
        assert listed == {f"physio-1/{_utc(_weeks(start, n))}" for n in (0, 3, 4, 5)}
    finally:
        connector.close()
