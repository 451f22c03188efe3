"""``series:`` on a sql connector, on SQLite: a recurring series kept as ONE row, its first start
and end as Unix seconds, its rule as RRULE text, the sessions taken out gathered by the query
from an exceptions table, and a row of its own replacing a moved session. Each series row is
read as one record per session inside the window (id: the row's id and the session's original
start in UTC), each at its wall time in the series' zone across a DST change; COUNT and UNTIL
hold, a rule without end stops at the window, a series begun before the window gives its
sessions inside it; a rule that does not parse is set aside once with a reason naming the column.
Dates are relative to today, so the window always holds them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.mappings.engine import load_mapping

BERLIN = ZoneInfo("Europe/Berlin")
MAPPING = """\
name: rule_series
description: a series kept as one row
fields:
  external_id: {from: id, required: true}
  start: {from: start_time, type: unix_seconds}
  end: {from: end_time, type: unix_seconds}
  status: {from: status}
  patient.external_id: {from: client}
status_map: {CONFIRMED: booked, CANCELLED: cancelled}
"""
QUERY = """SELECT e.id, e.start_time, e.end_time, e.status, e.client, e.rrule, e.tz,
  (SELECT group_concat(x.time, ',') FROM exceptions AS x WHERE x.event_id = e.id) AS skipped,
  (SELECT group_concat(r.recurrence_id, ',') FROM events AS r WHERE r.exception_for = e.id) AS replaced
FROM events AS e
WHERE e.start_time BETWEEN CAST(strftime('%s', :window_start) AS INTEGER)
    AND CAST(strftime('%s', :window_end) AS INTEGER)
   OR e.rrule <> ''"""
SERIES = {"rule": "rrule", "id": "id", "start": "start_time", "end": "end_time", "exdates": ["skipped", "replaced"],
          "timezone_column": "tz", "timezone": "Europe/Berlin"}


def next_change(after: date) -> date:
    """The first day after ``after`` on which Berlin's offset differs from the day before."""
    day = after
    while True:
        nxt = day + timedelta(days=1)
        if datetime(nxt.year, nxt.month, nxt.day, 12, tzinfo=BERLIN).utcoffset() != \
                datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN).utcoffset():
            return nxt
        day = nxt


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def weeks(start: datetime, n: int) -> datetime:
    """The wall clock of ``start`` ``n`` weeks on (a DST change between keeps it)."""
    return (start.replace(tzinfo=None) + timedelta(weeks=n)).replace(tzinfo=BERLIN)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def build(path: Path) -> tuple[str, dict[str, datetime], dict[str, Any]]:
    """The database, the visits it means (id -> start) and facts the test checks."""
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE events (id INTEGER PRIMARY KEY, start_time INTEGER NOT NULL, end_time INTEGER NOT NULL,
          status TEXT NOT NULL, client TEXT, rrule TEXT NOT NULL DEFAULT '', tz TEXT NOT NULL DEFAULT '',
          exception_for INTEGER NOT NULL DEFAULT 0, recurrence_id TEXT NOT NULL DEFAULT '');
        CREATE TABLE exceptions (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, time INTEGER NOT NULL);""")
    today = datetime.now(BERLIN).date()
    want: dict[str, datetime] = {}

    def event(eid: int, start: datetime, minutes: int, rule: str = "", status: str = "CONFIRMED",
              parent: int = 0, original: str = "") -> None:
        connection.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (eid, int(start.timestamp()), int((start + timedelta(minutes=minutes)).timestamp()),
                            status, f"client-{eid}", rule, "Europe/Berlin" if rule else "", parent, original))

    single = at(today + timedelta(days=5), 8, 30)
    event(1, single, 20)
    want["1"] = single
    # weekly at 09:00 across the next DST change, COUNT=6; week 2 taken out (an exceptions row)
    change = next_change(today + timedelta(days=20))
    dst = at(change - timedelta(days=14), 9)
    event(2, dst, 45, "FREQ=WEEKLY;COUNT=6")
    connection.execute("INSERT INTO exceptions VALUES (1, 2, ?)", (int(weeks(dst, 2).timestamp()),))
    for n in (0, 1, 3, 4, 5):
        want[f"2/{stamp(weeks(dst, n))}"] = weeks(dst, n)
    # weekly at 10:30 until four weeks on (UNTIL as a database writes it: ISO, in the source's clock), with
    # its week 1 moved to the next day at 15:00 by a row of its own naming its original start
    until_from = at(today + timedelta(days=3), 10, 30)
    until = weeks(until_from, 4).replace(tzinfo=None)
    event(3, until_from, 30, f"RRULE:FREQ=WEEKLY;UNTIL={until:%Y-%m-%d %H:%M:%S}")
    moved_to = weeks(until_from, 1).replace(hour=15) + timedelta(days=1)
    event(4, moved_to, 30, parent=3, original=weeks(until_from, 1).strftime("%Y%m%dT%H%M%S"))
    want["4"] = moved_to
    for n in (0, 2, 3, 4):
        want[f"3/{stamp(weeks(until_from, n))}"] = weeks(until_from, n)
    # weekly at 16:00 without end, begun twelve weeks before the window
    begun = at(today + timedelta(days=2) - timedelta(weeks=12), 16)
    event(5, begun, 60, "FREQ=WEEKLY;INTERVAL=1")
    horizon = datetime.now(UTC) + timedelta(days=180)
    for n in range(12, 60):
        if weeks(begun, n) < horizon:
            want[f"5/{stamp(weeks(begun, n))}"] = weeks(begun, n)
    # a cancelled series: its sessions come as cancelled (a live one before is cancelled by them)
    cancelled = at(today + timedelta(days=6), 11)
    event(6, cancelled, 30, "FREQ=WEEKLY;COUNT=3", status="CANCELLED")
    # a rule that does not parse, and one repeating every minute: set aside
    event(7, at(today + timedelta(days=8), 12), 30, "every tuesday")
    event(8, at(today + timedelta(days=8), 13), 30, "FREQ=MINUTELY")
    connection.commit()
    connection.close()
    return f"sqlite:///{path}", want, {"cancelled": {f"6/{stamp(weeks(cancelled, n))}" for n in range(3)}}


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "series.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def test_a_series_row_is_read_as_its_sessions_inside_the_window(tmp_path: Path, mapping: Path) -> None:
    url, want, facts = build(tmp_path / "cal.db")
    connector = SqlConnector(SqlSettings(name="src", mapping=str(mapping), url=url, query=QUERY, mode="snapshot",
                                         timezone="Europe/Berlin", series=SERIES))
    compiled = load_mapping(str(mapping), "Europe/Berlin", "DE")
    try:
        batches = list(connector.fetch(None))
    finally:
        connector.close()
    visits = [compiled.apply(r.data) for b in batches for r in b.records]
    live = {v.external_id: v for v in visits if v.status != "cancelled"}
    assert {k: v.start for k, v in live.items()} == want
    assert all(v.start.astimezone(BERLIN).strftime("%H:%M") == want[k].strftime("%H:%M") for k, v in live.items())
    assert {v.external_id for v in visits if v.status == "cancelled"} == facts["cancelled"]
    lengths = {k: v.end - v.start for k, v in live.items() if k.startswith("2/")}
    assert set(lengths.values()) == {timedelta(minutes=45)}
    reasons = sorted(r.reason for b in batches for r in b.rejected)
    assert len(reasons) == 2 and all(r.startswith("rrule: ") for r in reasons), reasons
    assert not any("tuesday" in r or "MINUTELY" in r for r in reasons)


def test_the_setting_goes_with_a_snapshot(tmp_path: Path, mapping: Path) -> None:
    with pytest.raises(ValueError, match="series goes with mode snapshot"):
        SqlSettings(name="src", mapping=str(mapping), url="sqlite:///x.db", query=QUERY, mode="incremental",
                    cursor_column="id", series=SERIES)
