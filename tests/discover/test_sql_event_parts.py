"""A groupware calendar's event kept with its parts as rows of their own, no key declared, on a
SQLite file built here (not any product's tables): the event row (``org_diary``: a summary, a place,
an owner, the first start and the last end as Unix seconds, a zone), a row extending some events
keyed by the same id (``org_diary_repeats``: a series' rule), one row an occurrence (``org_diary_dates``,
keyed by the event and the start), one row a participant (``org_diary_people``: a kind, an id as
text, a reply, the occurrence a reply is for). Each class:

* ``diary_id`` elsewhere names the event, not its extension row that shares the key's name: of
  tables keyed alike, the one whose name starts the others' (graph.py);
* the event is the visit: its occurrences and participants score as it does by shape, and give
  way to the row they all name (eventparts.py);
* the patient is the participant of the type whose ids are a person table's keys, many persons on
  a row or two each; the accounts' type (two owners on every event) is staff, and its ids, which
  are contacts' keys too, are never read as a patient's (typedrefs.py); the contact's name is
  vCard's structured ``n_given``/``n_family`` (kinds.py);
* the patient's one-letter reply on that row (A, T, R: iCalendar's PARTSTAT initials) is the
  visit's status (linkstatus.py);
* the doctor is the event's owner, an account whose own contact row carries its id in a unique
  ``account_id``, named with the honorific the row keeps apart (sharedowner.py); an event only
  staff take part in is no patient's visit;
* each occurrence is a visit: the event's row joined to each of its date rows, the id the event's
  key with the start, a date row flagged as an exception left out, a participant's reply for one
  occurrence (its ``reply_date`` that start, 0 for the whole series) read on that one only
  (occurrences.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from clinicsync.sync.discover.graph import read_schema
from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE org_accounts (account_id INTEGER PRIMARY KEY, login TEXT NOT NULL, pwd TEXT);
CREATE TABLE org_contacts (contact_id INTEGER PRIMARY KEY AUTOINCREMENT, n_prefix TEXT, n_given TEXT, n_family TEXT,
  mobile TEXT, account_id INTEGER UNIQUE);
CREATE TABLE org_zones (zone_id INTEGER PRIMARY KEY, zone_name TEXT NOT NULL);
CREATE TABLE org_diary (diary_id INTEGER PRIMARY KEY AUTOINCREMENT, summary TEXT NOT NULL, place TEXT,
  owner INTEGER NOT NULL, first_start BIGINT NOT NULL, last_end BIGINT, zone_id INTEGER);
CREATE TABLE org_diary_repeats (diary_id INTEGER PRIMARY KEY, repeat_kind INTEGER NOT NULL, every INTEGER);
CREATE TABLE org_diary_dates (diary_id INTEGER NOT NULL, date_start BIGINT NOT NULL, date_end BIGINT NOT NULL,
  excluded INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (diary_id, date_start));
CREATE TABLE org_diary_people (row_id INTEGER PRIMARY KEY AUTOINCREMENT, diary_id INTEGER NOT NULL,
  reply_date BIGINT NOT NULL DEFAULT 0, person_kind TEXT NOT NULL, person_ref VARCHAR(32) NOT NULL, status VARCHAR(1));
"""


REPLIES = ("A", "T", "R")
WEEK = 7 * 86_400


def _build(path: Path) -> dict[str, str]:
    """The file; each event's patient (its contact's key) by the event's id."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    patients = {}
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
        for n in range(40):  # the accounts' own contacts first: their keys overlap the accounts'
            db.execute("INSERT INTO org_contacts (n_prefix, n_given, n_family, mobile, account_id) "
                       "VALUES (?, ?, ?, ?, ?)", ("Dr." if n < 2 else None, f"Given{n}", f"Family{n % 7}",
                                                  f"+43 660 {1000000 + n}", n + 3 if n < 2 else None))
        db.execute("INSERT INTO org_accounts VALUES (3, 'anna', 'x'), (4, 'ben', 'x')")
        db.execute("INSERT INTO org_zones VALUES (1, 'Europe/Vienna')")
        for n in range(30):
            start = int((now + timedelta(days=1 + n // 4, hours=n % 4)).timestamp())
            db.execute("INSERT INTO org_diary (summary, place, owner, first_start, last_end, zone_id) "
                       "VALUES (?, ?, ?, ?, ?, 1)", (f"Check-up {n}", f"Room {n % 3}", 3 + n % 2, start, start + 1800))
            db.execute("INSERT INTO org_diary_dates VALUES (?, ?, ?, 0)", (n + 1, start, start + 1800))
            patients[str(n + 1)] = str(3 + (n * 7) % 37)
            for kind, who in (("u", 3 + n % 2), ("c", 3 + (n * 7) % 37)):
                reply = "A" if kind == "u" else REPLIES[n % 3]
                db.execute("INSERT INTO org_diary_people (diary_id, person_kind, person_ref, status) "
                           "VALUES (?, ?, ?, ?)", (n + 1, kind, str(who), reply))
        for n in range(4):  # the staff's own meetings: no contact takes part
            start = int((now + timedelta(days=2 + n, hours=9)).timestamp())
            db.execute("INSERT INTO org_diary (summary, place, owner, first_start, last_end, zone_id) "
                       "VALUES ('Team', 'Office', 3, ?, ?, 1)", (start, start + 3600))
            db.execute("INSERT INTO org_diary_dates VALUES (?, ?, ?, 0)", (31 + n, start, start + 3600))
            for account in (3, 4):
                db.execute("INSERT INTO org_diary_people (diary_id, person_kind, person_ref, status) "
                           "VALUES (?, 'u', ?, 'A')", (31 + n, str(account)))
        db.execute("INSERT INTO org_diary_repeats VALUES (1, 2, 1)")
        first = int((now + timedelta(days=1)).timestamp())  # event 1 weekly: three more, the second taken out
        for week in (1, 2, 3):
            db.execute("INSERT INTO org_diary_dates VALUES (1, ?, ?, ?)",
                       (first + week * WEEK, first + week * WEEK + 1800, int(week == 2)))
        db.execute("INSERT INTO org_diary_people (diary_id, reply_date, person_kind, person_ref, status) "
                   "VALUES (1, ?, 'c', '3', 'R')", (first + 3 * WEEK,))  # the patient declines the last session
    return patients


def test_a_key_shared_with_an_extension_row_names_the_row_it_extends(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    _build(path)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        schema = read_schema(inspector, inspector.get_table_names())
    for part in ("org_diary_dates", "org_diary_people"):
        assert [(r.column, r.target) for r in schema.refs(part)] == [("diary_id", "org_diary")], part


def test_the_event_is_picked_over_its_occurrences_and_participants(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT")
    assert "FROM org_diary AS a" in proposal.connector["query"], proposal.connector["query"]



def test_the_patient_is_the_participant_of_the_type_many_persons_have(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    patients = _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT")
    fields = proposal.mapping["fields"]
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text(proposal.connector["query"]),
                                  {"window_start": 0, "window_end": 2**40}).mappings().all()
    got = {str(r["diary_id"]): str(r[fields["patient.external_id"]["from"]]) for r in rows}
    assert got == patients  # the staff's meetings (31-34) are no patient's visits: left out


def test_the_doctor_is_the_owner_accounts_own_contact(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT")
    fields = proposal.mapping["fields"]
    assert fields["practitioner.external_id"] == {"from": "owner"}
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text(proposal.connector["query"]),
                                  {"window_start": 0, "window_end": 2**40}).mappings().all()
    names = {(r["owner"], " ".join(r[c] for c in fields["practitioner.name"]["concat"])) for r in rows}
    assert names == {(3, "Dr. Given0 Family0"), (4, "Dr. Given1 Family1")}  # the honorific kept apart, read


def test_the_participants_one_letter_reply_is_the_visits_status(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT")
    assert proposal.mapping["status_map"] == {"A": "booked", "T": "pending", "R": "cancelled"}
    assert proposal.mapping["fields"]["patient.name"] == {"concat": ["patient_n_given", "patient_n_family"]}


def test_each_occurrence_is_a_visit(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT")
    fields = proposal.mapping["fields"]
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text(proposal.connector["query"]),
                                  {"window_start": 0, "window_end": 2**40}).mappings().all()
        dates = connection.execute(sa.text("SELECT diary_id, date_start, date_end FROM org_diary_dates "
                                           "WHERE excluded = 0 AND diary_id <= 30")).all()
    assert fields["external_id"] == {"concat": ["diary_id", "date_start"]}
    got = sorted((r["diary_id"], r[fields["start"]["from"]], r[fields["end"]["from"]]) for r in rows)
    assert got == sorted(tuple(d) for d in dates)  # the series' three sessions, not the one taken out
    assert len(got) == 30 + 2


def test_a_reply_for_one_occurrence_is_that_occurrences_status(tmp_path: Path) -> None:
    path = tmp_path / "diary.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", clinic_zone="Europe/Vienna", region="AT")
    fields = proposal.mapping["fields"]
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text(proposal.connector["query"]),
                                  {"window_start": 0, "window_end": 2**40}).mappings().all()
    series = sorted((r[fields["start"]["from"]], r[fields["status"]["from"]]) for r in rows if r["diary_id"] == 1)
    assert [status for _, status in series] == ["A", "A", "R"]
