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
