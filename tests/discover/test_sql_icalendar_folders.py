"""Visits kept as iCalendar text one calendar a table, in generic names, on a SQLite file built here
(not any product's tables): each doctor's calendar a table of its own (``box_`` + letters of the
login + a random suffix), the same shape as each doctor's address book table (vCards), an empty
calendar beside them, and a ``folders`` index whose rows name each table by URL with the login
that owns it, a key of the ``members`` table (full name, mail). The class (icalfolders.py):
every calendar's table is read, not only the one with the most events; each visit's doctor is
the owner of the table it is in; an object's file name, unique only within its calendar, makes
the visit's id with the table's name. Then ``sync`` and the doctor of every visit compared."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import ical_support as cal
from tests.discover.files_support import write_proposal

SHAPE = "(obj_name VARCHAR(255) PRIMARY KEY, body TEXT NOT NULL, changed INTEGER NOT NULL, deleted INTEGER)"
BASE = "db://diary@localhost/diary"


def _database(folder: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    path = folder / "folders.db"
    rows, truth = cal.build()
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE members (login VARCHAR(64) PRIMARY KEY, full_name VARCHAR(80), mail VARCHAR(80));
        CREATE TABLE folders (folder_path VARCHAR(255) PRIMARY KEY, owner_login VARCHAR(64) NOT NULL,
                              table_url VARCHAR(255), folder_kind VARCHAR(20) NOT NULL);
        """)
    tables = {}
    for number, (uri, name, mail) in enumerate(cal.DOCTORS, start=1):
        login = uri.rsplit("/", 1)[1]
        db.execute("INSERT INTO members VALUES (?, ?, ?)", (login, name, mail))
        for kind, suffix in (("calendar", "a1"), ("contacts", "b2")):
            table = f"box_{login.replace('.', '')[:6]}{number}{suffix}"
            db.execute(f"CREATE TABLE {table} {SHAPE}")
            db.execute("INSERT INTO folders VALUES (?, ?, ?, ?)", (f"/{login}/{kind}", login, f"{BASE}/{table}", kind))
            if kind == "calendar":
                tables[number] = table
            else:
                for n in range(4):
                    db.execute(
                        f"INSERT INTO {table} VALUES (?, ?, 0, NULL)",
                        (
                            f"card-{n}.vcf",
                            (
                                f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Patient {n}\r\n"
                                f"TEL:0151 {2345600 + n}\r\nEND:VCARD\r\n"
                            ),
                        ),
                    )
    db.execute("INSERT INTO members VALUES ('desk', 'Front Desk', 'desk@praxis.example')")
    db.execute(f"CREATE TABLE box_desk9c3 {SHAPE}")  # a calendar made and never used
    db.execute("INSERT INTO folders VALUES ('/desk/calendar', 'desk', ?, 'calendar')", (f"{BASE}/box_desk9c3",))
    for row in rows:
        db.execute(
            f"INSERT INTO {tables[row.calendar]} VALUES (?, ?, ?, NULL)", (f"{row.uid}.ics", row.text, row.modified)
        )
    first = next(r for r in rows if r.calendar == 1)  # the same file name in another calendar: another event
    db.execute(f"INSERT INTO {tables[2]} VALUES (?, ?, ?, 1)", (f"{first.uid}.ics", first.text, first.modified))
    db.commit()
    db.close()
    return f"sqlite:///{path}", truth


def test_every_calendar_table_is_read_and_its_owner_is_the_doctor(tmp_path: Path, cli: Any) -> None:
    url, truth = _database(tmp_path)
    proposal = discover_sql(url, name="diary", clinic_zone=cal.ZONE, region=cal.REGION)
    query = proposal.connector["query"]
    assert query.count("UNION ALL") == 2 and "contacts" not in query and "box_desk9c3" not in query, query
    fields = proposal.mapping["fields"]
    assert fields["practitioner.external_id"]["from"][0] == "owner_principal", fields
    assert fields["external_id"]["from"][1] == "cs_key", fields
    settings = write_proposal(proposal, tmp_path, cal.ZONE, cal.REGION)
    run = cli(settings)
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["diary"]["error"] is None, out
    _, out, _ = run("appointments", "list", "--all", "--json")
    by_start = {a["start"]: a for a in json.loads(out)["items"]}
    logins = {uri: uri.rsplit("/", 1)[1] for uri, _, _ in cal.DOCTORS}
    doctors = {k: (by_start.get(t["start"]) or {}).get("practitioner") or {} for k, t in truth.items()}
    assert {k: (d.get("id"), d.get("name")) for k, d in doctors.items()} == {
        k: (logins[t["doctor"]], t["doctor_name"]) for k, t in truth.items()
    }


def _meeting(uid: str, organizer: tuple[str, str, str], invited: list[tuple[str, str, str]], start: str) -> str:
    """A team meeting as a calendar client writes it: the attendees' lines folded at 75 octets."""
    lines = [
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID={cal.ZONE}:{start}",
        f"DTEND;TZID={cal.ZONE}:{start[:9]}235900",
        "SUMMARY:Team",
        f"ORGANIZER;CN={organizer[1]}:mailto:{organizer[2]}",
    ]
    for _, name, mail in invited:
        line = f"ATTENDEE;CN={name};PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:{mail}"
        lines.append("\r\n ".join(line[i : i + 74] for i in range(0, len(line), 74)))
    return cal._object(lines)


@pytest.mark.postgres
def test_a_meeting_of_users_alone_copied_into_each_calendar_is_no_visit(postgres_url: str) -> None:
    """A meeting the server copies into each invited colleague's calendar: every attendee a user
    (by email, the lines folded), so no copy is a visit; an event whose attendee is reached by
    phone only, or is a patient's email, is one."""
    anna, jonas, mira = cal.DOCTORS
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE members (login VARCHAR(64) PRIMARY KEY, full_name VARCHAR(80), mail VARCHAR(80))")
        db.execute(
            "CREATE TABLE folders (folder_path VARCHAR(255) PRIMARY KEY, owner_login VARCHAR(64) NOT NULL, "
            "table_url VARCHAR(255))"
        )
        for number, (uri, name, mail) in enumerate(cal.DOCTORS, start=1):
            login = uri.rsplit("/", 1)[1]
            table = f"box_{login.replace('.', '')[:6]}{number}a1"
            db.execute("INSERT INTO members VALUES (%s, %s, %s)", (login, name, mail))
            db.execute(f"CREATE TABLE {table} {SHAPE}")
            db.execute("INSERT INTO folders VALUES (%s, %s, %s)", (f"/{login}/calendar", login, f"{BASE}/{table}"))
            db.execute(
                f"INSERT INTO {table} VALUES ('team.ics', %s, 0, NULL)",
                (_meeting("team-1", anna, [jonas, mira], "20300107T170000"),),
            )
            for n, who in enumerate((f"mailto:p{number}@mail.example", f"tel:+4915112345{number:02d}")):
                text = cal._object(
                    [
                        f"UID:v{number}{n}",
                        "DTSTAMP:20260101T000000Z",
                        f"DTSTART;TZID={cal.ZONE}:2030010{number}T0{8 + n}0000",
                        f"DTEND;TZID={cal.ZONE}:2030010{number}T0{8 + n}3000",
                        "SUMMARY:Kontrolle",
                        f"ORGANIZER;CN={name}:mailto:{mail}",
                        f"ATTENDEE;CN=Patient {n}:{who}",
                    ]
                )
                db.execute(f"INSERT INTO {table} VALUES (%s, %s, 0, NULL)", (f"v{n}.ics", text))
    proposal = discover_sql(postgres_url, name="diary", clinic_zone=cal.ZONE, region=cal.REGION)
    with psycopg.connect(postgres_url) as db:
        read = db.execute(
            proposal.connector["query"].replace(":window_start", "'2000-01-01'").replace(":window_end", "'2200-01-01'")
        ).fetchall()
    assert sorted(r[0].rsplit("/", 1)[1] for r in read) == ["v0.ics"] * 3 + ["v1.ics"] * 3, read
