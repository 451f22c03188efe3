"""``ical_columns``: a column whose text (or blob) is a whole iCalendar object, as a CalDAV server
keeps each event, read into plain fields the mapping names (``calendardata.dtstart``). The times
by their form (a TZID's wall clock in that zone, a trailing Z, a floating time in the clinic's
zone), the patient among the attendees, and what is set aside: text that does not parse, an
all-day event, each quarantined once with a reason that names the column. A recurring series is
read as its occurrences (test_sql_ical_series.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings

MAPPING = """\
name: ical_test
description: events kept as iCalendar text
fields:
  external_id: {from: [calendardata.occurrence_id, id], required: true}
  start: {from: calendardata.dtstart}
  end: {from: calendardata.dtend}
  timezone: {from: calendardata.timezone}
  status: {from: calendardata.status}
  location: {from: calendardata.location}
  patient.external_id: {from: [calendardata.attendee_email, calendardata.attendee_phone]}
  patient.name: {from: calendardata.attendee_name}
  patient.email: {from: calendardata.attendee_email}
  patient.phone: {from: calendardata.attendee_phone}
  practitioner.external_id: {from: calendardata.organizer_email}
  practitioner.name: {from: calendardata.organizer_name}
  practitioner.email: {from: calendardata.organizer_email}
status_map: {CONFIRMED: booked, TENTATIVE: pending, CANCELLED: cancelled}
"""


def event(lines: str, extra: str = "") -> str:
    """A calendar object as a CalDAV client writes it (CRLF line ends)."""
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Clinic//EN", extra, "BEGIN:VEVENT",
            *lines.strip().splitlines(), "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(line for line in body if line) + "\r\n"


DOCTOR = "ORGANIZER;CN=Dr Ines Vidal:mailto:ines.vidal@clinic.example"
CHAIR = "ATTENDEE;CN=Dr Ines Vidal;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:ines.vidal@clinic.example"
ROWS: dict[int, str] = {
    1: event(f"UID:one\nDTSTART;TZID=Europe/Madrid:20261203T093000\nDTEND;TZID=Europe/Madrid:20261203T100000\n"
             f"SUMMARY:Revision\nLOCATION:Consulta 2\nSTATUS:CONFIRMED\n{DOCTOR}\n{CHAIR}\n"
             "ATTENDEE;CN=Lucia Serrano;PARTSTAT=NEEDS-ACTION:mailto:lucia.serrano@mail.example"),
    2: event(f"UID:two\nDTSTART:20261203T150000Z\nDURATION:PT45M\nSTATUS:CANCELLED\n{DOCTOR}\n"
             "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:pablo@mail.example"),
    3: event("UID:three\nDTSTART:20261204T110000\nDTEND:20261204T112000\nSUMMARY:Control\n"
             "ATTENDEE;CN=Marta Gil:tel:+34612345678"),
    4: "this is no calendar: Lucia Serrano 612345678",
    5: event("UID:five\nDTSTART;VALUE=DATE:20261205\nDTEND;VALUE=DATE:20261206\nSUMMARY:Vacaciones"),
    6: event("UID:six\nDTSTART;TZID=Europe/Madrid:20261207T090000\nDURATION:PT30M\nRRULE:FREQ=WEEKLY;COUNT=4\n"
             "ATTENDEE;CN=Rosa Prieto:mailto:rosa@mail.example"),
    7: event("UID:seven\nDTSTART;TZID=Europe/Madrid:20261025T023000\nDTEND;TZID=Europe/Madrid:20261025T030000\n"
             "ATTENDEE;CN=Ana Ruiz:mailto:ana@mail.example"),
}


def database(path: Path, rows: dict[int, str], blob: bool = True) -> str:
    """A SQLite file with a CalDAV server's shape: the object's text in a blob column."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, calendardata BLOB, lastmodified INTEGER)")
    connection.executemany("INSERT INTO events VALUES (?, ?, ?)",
                           [(k, v.encode() if blob else v, 1_780_000_000 + k) for k, v in rows.items()])
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def settings(url: str, mapping: Path, **options: Any) -> SqlSettings:
    return SqlSettings(name="src", mapping=str(mapping), url=url, table="events", mode="snapshot",
                       ical_columns=["calendardata"], **options)


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "ical.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def test_each_time_form_is_read_as_it_says_and_the_patient_is_the_attendee_who_is_not_the_doctor(
        tmp_path: Path, mapping: Path) -> None:
    connector = SqlConnector(settings(database(tmp_path / "cal.db", ROWS), mapping))
    try:
        batches = list(connector.fetch(None))
    finally:
        connector.close()
    records = {r.data["id"]: r.data["calendardata"] for b in batches for r in b.records}
    assert sorted(records) == [1, 2, 3, 6, 7]
    series = [r.data["calendardata"]["occurrence_id"] for b in batches for r in b.records if r.data["id"] == 6]
    assert series == [f"six/202612{d}T080000Z" for d in ("07", "14", "21", "28")]
    one = records[1]
    assert (one["dtstart"], one["dtend"], one["timezone"]) == ("2026-12-03T09:30:00+01:00",
                                                               "2026-12-03T10:00:00+01:00", "Europe/Madrid")
    assert (one["attendee_email"], one["attendee_name"]) == ("lucia.serrano@mail.example", "Lucia Serrano")
    assert (one["organizer_email"], one["organizer_name"]) == ("ines.vidal@clinic.example", "Dr Ines Vidal")
    assert (one["status"], one["location"], one["summary"], one["uid"]) == ("CONFIRMED", "Consulta 2", "Revision",
                                                                            "one")
    two = records[2]
    assert (two["dtstart"], two["dtend"], two["duration"], two["timezone"]) == (
        "2026-12-03T15:00:00+00:00", "2026-12-03T15:45:00+00:00", 45, None)
    assert (two["attendee_email"], two["attendee_name"], two["status"]) == ("pablo@mail.example", None, "CANCELLED")
    three = records[3]  # floating: the clinic's wall clock, no offset
    assert (three["dtstart"], three["timezone"], three["attendee_phone"]) == ("2026-12-04T11:00:00", None,
                                                                              "+34612345678")
    seven = records[7]  # 02:30 happens twice in Madrid that night: the wall time and its zone, for the mapping
    assert (seven["dtstart"], seven["timezone"]) == ("2026-10-25T02:30:00", "Europe/Madrid")
    aside = [r for b in batches for r in b.rejected]
    reasons = sorted(r.reason for r in aside)
    assert len(reasons) == 2 and all(r.startswith("calendardata: ") for r in reasons), reasons
    assert any("not iCalendar text" in r for r in reasons)
    assert any("all-day event" in r for r in reasons)
    assert not any(word in r for r in reasons for word in ("Lucia", "Serrano", "612345678", "Vacaciones", "Rosa"))


def test_text_columns_are_read_as_blobs_are(tmp_path: Path, mapping: Path) -> None:
    connector = SqlConnector(settings(database(tmp_path / "cal.db", {1: ROWS[1]}, blob=False), mapping))
    try:
        records = [r.data for b in connector.fetch(None) for r in b.records]
    finally:
        connector.close()
    assert records[0]["calendardata"]["dtstart"] == "2026-12-03T09:30:00+01:00"


def test_the_setting_is_checked_and_its_errors_name_it(tmp_path: Path, mapping: Path) -> None:
    url = database(tmp_path / "cal.db", {1: ROWS[1]})
    with pytest.raises(ValidationError, match="ical_columns: calendardata also in json_columns"):
        settings(url, mapping, json_columns=["calendardata"])
    with pytest.raises(ValidationError, match="ical_columns: calendardata not among columns"):
        settings(url, mapping, columns=["id", "lastmodified"])
    with pytest.raises(ValidationError, match="ical_columns: an empty column name"):
        SqlSettings(name="src", mapping=str(mapping), url=url, table="events", mode="snapshot", ical_columns=[" "])
    connector = SqlConnector(SqlSettings(name="src", mapping=str(mapping), url=url, mode="snapshot",
                                         query="SELECT id, lastmodified FROM events", ical_columns=["calendardata"]))
    try:
        assert not connector.check().ok
        assert "ical_columns names ['calendardata']" in connector.check().detail
    finally:
        connector.close()


def test_a_sync_stores_each_visit_by_its_zone_and_quarantines_what_is_set_aside_once(
        tmp_path: Path, mapping: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    url = database(tmp_path / "cal.db", ROWS)
    connectors = (f"- name: src\n  kind: sql\n  url: {json.dumps(url)}\n  table: events\n  mode: snapshot\n"
                  f"  mapping: {json.dumps(str(mapping))}\n  ical_columns: [calendardata]\n")
    run = cli(write_settings(connectors, timezone="Europe/Madrid"))
    for _ in range(2):
        run("sync", "--once", "--json")
    _, out, _ = run("appointments", "list", "--all", "--json")
    stored = {a["external_id"]: a for a in json.loads(out)["items"]}
    assert sorted(stored) == ["1", "2", "3", *(f"six/202612{d}T080000Z" for d in ("07", "14", "21", "28"))]
    assert (stored["1"]["start"], stored["1"]["timezone"], stored["1"]["status"]) == (
        "2026-12-03T08:30:00Z", "Europe/Madrid", "booked")
    assert stored["1"]["patient"]["id"] == "lucia.serrano@mail.example"
    assert stored["1"]["practitioner"]["id"] == "ines.vidal@clinic.example"
    assert (stored["2"]["start"], stored["2"]["end"], stored["2"]["status"]) == (
        "2026-12-03T15:00:00Z", "2026-12-03T15:45:00Z", "cancelled")
    assert (stored["3"]["start"], stored["3"]["timezone"]) == ("2026-12-04T10:00:00Z", "Europe/Madrid")
    assert stored["3"]["patient"]["phone"] == "+34612345678"
    _, out, _ = run("quarantine", "list", "--json")
    items = json.loads(out)["items"]
    reasons = sorted(i["reason"] for i in items)
    assert len(items) == 3, reasons  # two set aside by the connector, the repeated 02:30 by the mapping
    assert all(i["count"] == 2 for i in items), items  # seen at both syncs: one item each
    assert sum(r.startswith("calendardata: ") for r in reasons) == 2, reasons


def test_an_incremental_read_sets_a_row_aside_once_and_moves_past_it(tmp_path: Path, mapping: Path) -> None:
    """The cursor moves past a set-aside row as past a record: the next read does not take it
    again (its item in the quarantine is not counted up at every poll)."""
    url = database(tmp_path / "cal.db", ROWS)
    connector = SqlConnector(SqlSettings(name="src", mapping=str(mapping), url=url, table="events",
                                         cursor_column="lastmodified", ical_columns=["calendardata"]))
    try:
        first = list(connector.fetch(None))
        assert sorted(r.data["id"] for b in first for r in b.records) == [1, 2, 3, 6, 6, 6, 6, 7]
        assert len([r for b in first for r in b.rejected]) == 2
        cursor = next(b.cursor for b in reversed(first) if b.cursor is not None)
        again = list(connector.fetch(cursor))
        assert not [r for b in again for r in b.rejected] and not [r for b in again for r in b.records]
    finally:
        connector.close()
