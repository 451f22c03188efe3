"""Visits kept as iCalendar text (a CalDAV server's database), in generic names: a table whose
blob column holds a whole calendar object a row, found by its values (``BEGIN:VCALENDAR``), not
by the column's name; the calendar it names followed to its owner's principal (a path
``principals/…`` matched in a table of people) for the doctor; the window on the whole-number
columns that hold each event's first and last instant (told by the events themselves), the
change stamp read as each visit's source_updated_at. Schemas built here, in SQLite files; the
product trials are test_real_caldav.py. Then ``sync`` and every field of every visit compared."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import ical_support as cal
from tests.discover.files_support import write_proposal


def _database(folder: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    path = folder / "agenda.db"
    rows, truth = cal.build()
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE members (id INTEGER PRIMARY KEY, path VARCHAR(200) NOT NULL, full_name VARCHAR(80),
                              mail VARCHAR(80));
        CREATE TABLE agendas (id INTEGER PRIMARY KEY, holder VARCHAR(100), title VARCHAR(100), tint VARCHAR(10));
        CREATE TABLE agenda_items (item_no INTEGER PRIMARY KEY, agenda_id INTEGER NOT NULL, payload BLOB,
                                   item_name VARCHAR(200), changed_epoch INTEGER, tag VARCHAR(32),
                                   item_kind VARCHAR(8), opens INTEGER, closes INTEGER, bytes INTEGER);
        """)
    connection.executemany("INSERT INTO members VALUES (?, ?, ?, ?)",
                           [(n, uri, name, mail) for n, (uri, name, mail) in enumerate(cal.DOCTORS, start=1)]
                           + [(9, "principals/users/reception", "Empfang", None)])
    connection.executemany("INSERT INTO agendas VALUES (?, ?, ?, ?)",
                           [(n, uri, "Sprechstunde", "#0082c9") for n, (uri, _, _) in enumerate(cal.DOCTORS, start=1)])
    connection.executemany("INSERT INTO agenda_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(r.id, r.calendar, r.text.encode(), f"{r.uid}.ics", r.modified, cal.etag(r.text), r.kind,
                             r.first, r.last, len(r.text)) for r in rows])
    connection.commit()
    connection.close()
    return f"sqlite:///{path}", truth


def test_events_kept_as_icalendar_text_are_found_by_their_values_and_every_field_is_right(
        tmp_path: Path, cli: Any) -> None:
    url, truth = _database(tmp_path)
    proposal = discover_sql(url, name="diary", clinic_zone=cal.ZONE, region=cal.REGION)
    connector = proposal.connector
    assert connector["ical_columns"] == ["payload"], connector
    query = connector["query"]
    assert "a.item_kind = 'VEVENT'" in query, query
    assert "opens" in query and "closes" in query and ":window_start" in query, query
    fields = (proposal.mapping or {})["fields"]
    assert fields["start"] == {"from": "payload.dtstart"}, fields
    assert fields["practitioner.external_id"]["from"][0] == "owner_principal", fields
    assert fields["source_updated_at"] == {"from": "changed_epoch", "type": "unix_seconds"}, fields
    assert "stored_times" not in connector
    settings = write_proposal(proposal, tmp_path, cal.ZONE, cal.REGION)
    run = cli(settings)
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["diary"]["error"] is None, out
    _, out, _ = run("appointments", "list", "--all", "--json")
    found = {a["external_id"]: a for a in json.loads(out)["items"]}
    right, total, wrong = cal.scores(found, truth)
    print("fields right:", right, "of", total, wrong[:10])
    assert set(found) == set(truth), sorted(set(found) ^ set(truth))
    assert right == total, wrong[:10]
    _, out, _ = run("quarantine", "list", "--json")
    reasons = sorted(i["reason"] for i in json.loads(out)["items"])
    assert len(reasons) == 1 and reasons[0].startswith("payload: an all-day event"), reasons  # the day off
    assert fields["external_id"] == {"from": ["payload.occurrence_id", "item_no"]}, fields
    series = sorted(k for k in found if k.startswith("series-"))
    assert len(series) == 5 and all(found[k]["patient"]["name"] == "Karl Braun" for k in series), series
    mapping = yaml.safe_load((tmp_path / "mappings" / "diary.yaml").read_text(encoding="utf-8"))
    assert mapping["status_map"] == {"CONFIRMED": "booked", "TENTATIVE": "pending", "CANCELLED": "cancelled"}


def test_a_column_of_scheduling_messages_is_no_diary(tmp_path: Path) -> None:
    """An inbox of invitations (each object with METHOD:REQUEST, RFC 5546) holds no stored
    events: RFC 4791 forbids METHOD in a calendar's own objects. Not taken for the visits."""
    path = tmp_path / "inbox.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE inbox (id INTEGER PRIMARY KEY, owner VARCHAR(100), message BLOB)")
    rows, _ = cal.build()
    connection.executemany("INSERT INTO inbox VALUES (?, ?, ?)",
                           [(r.id, "principals/users/anna.weber",
                             r.text.replace("CALSCALE:GREGORIAN", "METHOD:REQUEST").encode()) for r in rows])
    connection.commit()
    connection.close()
    from clinicsync.sync.discover import icalfind
    from clinicsync.sync.discover.graph import Schema, Table

    table = Table("inbox", {"id": "INTEGER", "owner": "VARCHAR(100)", "message": "BLOB"}, ["id"], [])
    raw = sqlite3.connect(path)
    try:
        def rows_of(sql: str) -> list[tuple[Any, ...]]:
            return list(raw.execute(sql).fetchall())
        assert icalfind.find(Schema({"inbox": table}), rows_of, lambda n: f'"{n}"', None, "sqlite") is None
        plain = [(r.id, "x", r.text.encode()) for r in rows]
        raw.execute("DELETE FROM inbox")
        raw.executemany("INSERT INTO inbox VALUES (?, ?, ?)", plain)
        found = icalfind.find(Schema({"inbox": table}), rows_of, lambda n: f'"{n}"', None, "sqlite")
        assert found is not None and found.column == "message"
    finally:
        raw.close()
