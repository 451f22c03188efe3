"""Visits kept as iCalendar text in a DAV store that is an address book too, in generic names: one
text column holds a whole object a row, calendars and vCards alike, the cards first (the probe's
first rows are all cards); the calendar a row of a folders table, its owner a user's key (no
principal path anywhere), the user a row with a name and an email; the events' own reference to
a user names who wrote the event (the front desk), not whose diary it is; the table keyed by its
owner and path, with a one-column unique id beside; a colleague's inbox of invitations
(METHOD:REQUEST) in the same column, among the first rows. Schemas built here, in SQLite files; the
product trial is test_real_davical.py. Then ``sync`` and every field of every visit compared."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import ical_support as cal
from tests.discover.files_support import write_proposal

DESK = 9


def _card(n: int) -> str:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{cal.GIVEN[n % 12]} {cal.FAMILY[n % 9]}\r\n"
            f"TEL;TYPE=CELL:0151 {2345600 + n}\r\nUID:card-{n}\r\nEND:VCARD\r\n")


def _database(folder: Path, kind: str | None, inbox: int = 0) -> tuple[str, dict[str, dict[str, Any]]]:
    path = folder / "store.db"
    rows, truth = cal.build()
    kind_column = f", {kind} TEXT" if kind else ""
    connection = sqlite3.connect(path)
    connection.executescript(f"""
        CREATE TABLE members (id INTEGER PRIMARY KEY, login VARCHAR(40), display_name VARCHAR(80), mail VARCHAR(80));
        CREATE TABLE shelf_kinds (id INTEGER PRIMARY KEY, kind_name VARCHAR(40));
        CREATE TABLE shelves (id INTEGER PRIMARY KEY, shelf_kind INTEGER REFERENCES shelf_kinds(id),
                              member_id INTEGER REFERENCES members(id), path VARCHAR(200), label VARCHAR(80));
        CREATE TABLE items (member_id INTEGER NOT NULL, path VARCHAR(200) NOT NULL, item_no INTEGER UNIQUE,
                            written_by INTEGER REFERENCES members(id), shelf_id INTEGER REFERENCES shelves(id),
                            body TEXT, stamp VARCHAR(40){kind_column}, PRIMARY KEY (member_id, path));
        """)
    members = [(n, uri.rsplit("/", 1)[1], name, mail) for n, (uri, name, mail) in enumerate(cal.DOCTORS, start=1)]
    connection.executemany("INSERT INTO members VALUES (?, ?, ?, ?)",
                           [*members, (DESK, "empfang", "Empfang", "empfang@praxis-mitte.example")])
    connection.executemany("INSERT INTO shelf_kinds VALUES (?, ?)", [(1, "calendar"), (2, "addressbook")])
    shelves = [(n, 1, n, f"/{login}/calendar/", "Sprechstunde") for n, login, _, _ in members]
    shelves += [(10 + n, 2, n, f"/{login}/contacts/", "Kontakte") for n, login, _, _ in members]
    connection.executemany("INSERT INTO shelves VALUES (?, ?, ?, ?, ?)", shelves)
    extra = ", ?" if kind else ""
    cards = [(1 + n % 3, f"/card-{n}.vcf", 5000 + n, 1 + n % 3, 11 + n % 3, _card(n), cal.etag(_card(n)),
              *(("VCARD",) if kind else ())) for n in range(40)]  # the address books, stored first
    events = [(r.calendar, f"/{r.uid}.ics", r.id, DESK if r.id % 2 else r.calendar, r.calendar, r.text,
               cal.etag(r.text), *((r.kind,) if kind else ())) for r in rows]
    invitations = [(2, f"/.in/{r.uid}.ics", 7000 + n, 1, 2, r.text.replace(
        "CALSCALE:GREGORIAN", "CALSCALE:GREGORIAN\r\nMETHOD:REQUEST"), "x", *(("VEVENT",) if kind else ()))
        for n, r in enumerate(rows[:inbox])]  # a colleague's inbox: invitations, stored before the events
    connection.executemany(f"INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?{extra})", cards + invitations + events)
    connection.commit()
    connection.close()
    doctors = {uri: str(n) for n, (uri, _, _) in enumerate(cal.DOCTORS, start=1)}
    return f"sqlite:///{path}", {k: {**t, "doctor": doctors[t["doctor"]]} for k, t in truth.items()}


@pytest.mark.parametrize("kind", [None, "component"])
def test_calendars_beside_cards_are_read_and_the_doctor_is_the_calendars_user(
        kind: str | None, tmp_path: Path, cli: Any) -> None:
    url, truth = _database(tmp_path, kind)
    proposal = discover_sql(url, name="dav", clinic_zone=cal.ZONE, region=cal.REGION)
    connector, fields = proposal.connector, (proposal.mapping or {})["fields"]
    print(connector["query"], json.dumps(fields, indent=1))
    assert connector["ical_columns"] == ["body"], connector
    # the calendar rows only: the component column where there is one (a TEXT column), else the text's opening
    only = "a.component = 'VEVENT'" if kind else "substr(a.body, 1, 15) = 'BEGIN:VCALENDAR'"
    assert only in connector["query"], connector["query"]
    assert fields["external_id"] == {"from": ["body.occurrence_id", "item_no"]}, fields
    assert fields["practitioner.external_id"]["from"][0] == "owner_principal", fields
    assert "JOIN shelves AS o ON o.id = a.shelf_id" in connector["query"], connector["query"]
    settings = write_proposal(proposal, tmp_path, cal.ZONE, cal.REGION)
    run = cli(settings)
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["dav"]["error"] is None, out
    _, out, _ = run("appointments", "list", "--all", "--json")
    found = {a["external_id"]: a for a in json.loads(out)["items"]}
    right, total, wrong = cal.scores(found, truth)
    print("fields right:", right, "of", total, wrong[:10])
    assert set(truth) <= set(found), sorted(set(truth) - set(found))
    assert right == total, wrong[:10]
    _, out, _ = run("quarantine", "list", "--json")
    reasons = sorted(i["reason"] for i in json.loads(out)["items"])
    assert not any("VCARD" in r or "vCard" in r for r in reasons), reasons


def test_an_inboxs_messages_beside_the_events_are_left_out(tmp_path: Path, cli: Any) -> None:
    """A server that keeps its inboxes' invitations (METHOD:REQUEST, RFC 5546) as rows of the same
    column as the calendars' events, some among the first rows: the column is still the diary,
    those rows are never visits."""
    url, truth = _database(tmp_path, "component", inbox=12)
    proposal = discover_sql(url, name="dav", clinic_zone=cal.ZONE, region=cal.REGION)
    assert proposal.connector["ical_columns"] == ["body"], proposal.connector
    assert "a.body NOT LIKE '%\nMETHOD:%'" in proposal.connector["query"], proposal.connector["query"]
    settings = write_proposal(proposal, tmp_path, cal.ZONE, cal.REGION)
    run = cli(settings)
    run("sync", "--once", "--json")
    _, out, _ = run("appointments", "list", "--all", "--json")
    found = {a["external_id"]: a for a in json.loads(out)["items"]}
    assert set(truth) <= set(found) and not {str(7000 + n) for n in range(12)} & set(found), sorted(found)
    right, total, wrong = cal.scores(found, truth)
    assert right == total, wrong[:10]
