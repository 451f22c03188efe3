"""A groupware diary whose events sit in calendar folders, on a SQLite file built here (not any
product's tables): the event row (``grp_entries``: iCalendar's ``dtstart``/``dtend`` as its
columns' names, its own status word, the folder it is in), the folder (``grp_folders``: a title
and the login that owns it, no key declared), the participants (``grp_entry_members``: a kind, an
id as text, the participant's reply, a version), one address book for everyone (``grp_people``:
the practice's staff, whose logins point at their own person row, beside the patients), the
logins (``grp_logins``). Each class:

* a column named for iCalendar's DTSTART or DTEND is the visit's start or end (vocab.py);
* a participant who is a login's own person is staff: never the patient, though the doctor is
  listed first on every event as a person of the patients' kind, and a meeting of staff alone is
  no visit (staffpersons.py);
* the doctor is the login that owns the folder the event is in, named by that login's person,
  with the honorific the person row fills (a salutation column beside it left empty)
  (sharedowner.py);
* the patient's reply on that row is the visit's answer, beside the event's own status
  (linkstatus.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from clinicsync.sync.discover.proposal import Proposal
from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE grp_people (person_id TEXT PRIMARY KEY, salutation TEXT, honorific TEXT, given_name TEXT,
  family_name TEXT, mobile TEXT, email TEXT);
CREATE TABLE grp_logins (login_id TEXT PRIMARY KEY, login_name TEXT NOT NULL, pwd TEXT,
  person_id TEXT REFERENCES grp_people (person_id));
CREATE TABLE grp_teams (team_id TEXT PRIMARY KEY, team_title TEXT NOT NULL);
CREATE TABLE grp_folders (folder_id TEXT PRIMARY KEY, title TEXT NOT NULL, owner_id TEXT);
CREATE TABLE grp_entries (entry_id TEXT PRIMARY KEY, folder_id TEXT NOT NULL REFERENCES grp_folders (folder_id),
  dtend DATETIME NOT NULL, summary TEXT, place TEXT, status TEXT NOT NULL, dtstart DATETIME NOT NULL);
CREATE TABLE grp_entry_members (member_row TEXT PRIMARY KEY, entry_id TEXT NOT NULL REFERENCES grp_entries (entry_id),
  member_type TEXT NOT NULL, member_id TEXT NOT NULL, reply VARCHAR(32) NOT NULL, version INTEGER NOT NULL);
"""
DOCTORS = {"L1": ("a1", "Anna", "Weber"), "L2": ("a2", "Ben", "Kraus")}
REPLIES = ("ACCEPTED", "DECLINED", "NEEDS-ACTION")


def _build(path: Path) -> dict[str, tuple[str, str, str]]:
    """The file; per event of a patient: (its patient's person id, its owner's person id, the reply)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    truth = {}
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
        for login, (person, given, family) in DOCTORS.items():
            db.execute(
                "INSERT INTO grp_people VALUES (?, NULL, 'Dr.', ?, ?, '+43 1 5550100', ?)",
                (person, given, family, f"{given.lower()}@praxis.example"),
            )
            db.execute("INSERT INTO grp_logins VALUES (?, ?, 'x', ?)", (login, given.lower(), person))
            db.execute("INSERT INTO grp_folders VALUES (?, ?, ?)", (f"F{login}", f"{given}s Kalender", login))
        db.execute("INSERT INTO grp_people VALUES ('a3', NULL, NULL, 'Desk', 'Front', NULL, 'desk@praxis.example')")
        db.execute("INSERT INTO grp_logins VALUES ('L3', 'desk', 'x', 'a3')")
        db.execute("INSERT INTO grp_folders VALUES ('Fshared', 'Praxis', NULL)")
        db.execute("INSERT INTO grp_teams VALUES ('T1', 'Everyone')")
        for n in range(30):
            db.execute(
                "INSERT INTO grp_people VALUES (?, NULL, NULL, ?, ?, ?, ?)",
                (f"p{n:02d}", f"Given{n}", f"Family{n % 7}", f"+43 660 {1000000 + n}", f"p{n}@mail.example"),
            )
        rows = 0
        for n in range(36):
            login = ("L1", "L2")[n % 2]
            start = now + timedelta(days=1 + n // 4, hours=n % 4)
            entry = f"e{n:03d}"
            db.execute(
                "INSERT INTO grp_entries VALUES (?, ?, ?, 'Check-up', ?, ?, ?)",
                (
                    entry,
                    f"F{login}",
                    f"{start + timedelta(minutes=30):%Y-%m-%d %H:%M:%S}",
                    f"Room {n % 3}",
                    "CANCELLED" if n % 9 == 4 else "CONFIRMED",
                    f"{start:%Y-%m-%d %H:%M:%S}",
                ),
            )
            patient, reply = f"p{(n * 7) % 30:02d}", REPLIES[n % 3]
            for kind, who, said in (("person", DOCTORS[login][0], "ACCEPTED"), ("person", patient, reply)):
                rows += 1
                db.execute(
                    "INSERT INTO grp_entry_members VALUES (?, ?, ?, ?, ?, 1)", (f"m{rows:04d}", entry, kind, who, said)
                )
            truth[entry] = (patient, DOCTORS[login][0], reply)
        for n in range(4):  # the staff's own meetings in the shared folder: the team and the doctors
            start = now + timedelta(days=2 + n, hours=9)
            entry = f"t{n:03d}"
            db.execute(
                "INSERT INTO grp_entries VALUES (?, 'Fshared', ?, 'Team', 'Office', 'CONFIRMED', ?)",
                (entry, f"{start + timedelta(hours=1):%Y-%m-%d %H:%M:%S}", f"{start:%Y-%m-%d %H:%M:%S}"),
            )
            for kind, who in (("team", "T1"), ("person", "a1"), ("person", "a2"), ("person", "a3")):
                rows += 1
                db.execute(
                    "INSERT INTO grp_entry_members VALUES (?, ?, ?, ?, 'ACCEPTED', 1)",
                    (f"m{rows:04d}", entry, kind, who),
                )
    return truth


def _proposed(tmp_path: Path) -> tuple[Proposal, list[Any], dict[str, tuple[str, str, str]]]:
    path = tmp_path / "diary.db"
    truth = _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT", stored_times="utc")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = (
            connection.execute(
                sa.text(proposal.connector["query"]),
                {
                    "window_start": datetime(2000, 1, 1),
                    "window_end": datetime(2200, 1, 1),
                    "cursor": datetime(2000, 1, 1),
                },
            )
            .mappings()
            .all()
        )
    return proposal, list(rows), truth


def test_icalendar_property_names_are_the_start_and_the_end(tmp_path: Path) -> None:
    proposal, _, _ = _proposed(tmp_path)
    assert proposal.mapping["fields"]["start"] == {"from": "dtstart"}
    assert proposal.mapping["fields"]["end"] == {"from": "dtend"}


def test_a_logins_own_person_is_never_the_patient(tmp_path: Path) -> None:
    proposal, rows, truth = _proposed(tmp_path)
    patient = proposal.mapping["fields"]["patient.external_id"]["from"]
    got = {r["entry_id"]: r[patient] for r in rows}
    assert got == {entry: want[0] for entry, want in truth.items()}  # the staff's meetings are no visits


def test_the_doctor_is_the_owner_of_the_folder_the_event_is_in(tmp_path: Path) -> None:
    proposal, rows, truth = _proposed(tmp_path)
    fields = proposal.mapping["fields"]
    doctor, names = fields["practitioner.external_id"]["from"], fields["practitioner.name"]["concat"]
    assert {r["entry_id"]: r[doctor] for r in rows} == {entry: want[1] for entry, want in truth.items()}
    assert {" ".join(r[c] for c in names) for r in rows} == {"Dr. Anna Weber", "Dr. Ben Kraus"}
    assert rows[0][fields["practitioner.email"]["from"]].endswith("@praxis.example")


def test_the_patients_reply_is_the_answer_beside_the_events_own_status(tmp_path: Path) -> None:
    proposal, rows, truth = _proposed(tmp_path)
    fields = proposal.mapping["fields"]
    assert fields["status"] == {"from": "status"}
    assert fields["answer"]["map"] == {"ACCEPTED": "confirmed", "DECLINED": "declined", "NEEDS-ACTION": None}
    assert {r["entry_id"]: r[fields["answer"]["from"]] for r in rows} == {e: w[2] for e, w in truth.items()}
