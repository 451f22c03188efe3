"""A groupware calendar's event kept with its parts as rows of their own, no key declared, on a
SQLite file built here (not any product's tables): the event row (``org_diary``: a summary, a place,
an owner, the first start and the last end as Unix seconds, a zone), a row extending some events
keyed by the same id (``org_diary_repeats``: a series' rule), one row an occurrence (``org_diary_dates``,
keyed by the event and the start), one row a participant (``org_diary_people``: a kind, an id as
text, a reply, the occurrence a reply is for). Each class:

* ``diary_id`` elsewhere names the event, not its extension row that shares the key's name: of
  tables keyed alike, the one whose name starts the others' (graph.py);
* the event is the visit: its occurrences and participants score as it does by shape, and give
  way to the row they all name (eventparts.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from clinicsync.sync.discover.graph import read_schema
from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE org_accounts (account_id INTEGER PRIMARY KEY, login TEXT NOT NULL, pwd TEXT);
CREATE TABLE org_contacts (contact_id INTEGER PRIMARY KEY AUTOINCREMENT, given_name TEXT, family_name TEXT,
  mobile TEXT, account_id INTEGER UNIQUE);
CREATE TABLE org_zones (zone_id INTEGER PRIMARY KEY, zone_name TEXT NOT NULL);
CREATE TABLE org_diary (diary_id INTEGER PRIMARY KEY AUTOINCREMENT, summary TEXT NOT NULL, place TEXT,
  owner INTEGER NOT NULL, first_start BIGINT NOT NULL, last_end BIGINT, zone_id INTEGER);
CREATE TABLE org_diary_repeats (diary_id INTEGER PRIMARY KEY, repeat_kind INTEGER NOT NULL, every INTEGER);
CREATE TABLE org_diary_dates (diary_id INTEGER NOT NULL, date_start BIGINT NOT NULL, date_end BIGINT NOT NULL,
  taken_out INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (diary_id, date_start));
CREATE TABLE org_diary_people (row_id INTEGER PRIMARY KEY AUTOINCREMENT, diary_id INTEGER NOT NULL,
  reply_date BIGINT NOT NULL DEFAULT 0, person_kind TEXT NOT NULL, person_ref TEXT NOT NULL, reply TEXT);
"""


def _build(path: Path) -> dict[str, str]:
    """The file; each event's patient (its contact's key) by the event's id."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    patients = {}
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
        for n in range(40):  # the accounts' own contacts first: their keys overlap the accounts'
            db.execute("INSERT INTO org_contacts (given_name, family_name, mobile, account_id) VALUES (?, ?, ?, ?)",
                       (f"Given{n}", f"Family{n % 7}", f"+43 660 {1000000 + n}", n + 3 if n < 2 else None))
        db.execute("INSERT INTO org_accounts VALUES (3, 'anna', 'x'), (4, 'ben', 'x')")
        db.execute("INSERT INTO org_zones VALUES (1, 'Europe/Vienna')")
        for n in range(30):
            start = int((now + timedelta(days=1 + n // 4, hours=n % 4)).timestamp())
            db.execute("INSERT INTO org_diary (summary, place, owner, first_start, last_end, zone_id) "
                       "VALUES (?, ?, ?, ?, ?, 1)", (f"Check-up {n}", f"Room {n % 3}", 3 + n % 2, start, start + 1800))
            db.execute("INSERT INTO org_diary_dates VALUES (?, ?, ?, 0)", (n + 1, start, start + 1800))
            patients[str(n + 1)] = str(3 + (n * 7) % 37)
            for kind, who in (("u", 3 + n % 2), ("c", 3 + (n * 7) % 37)):
                db.execute("INSERT INTO org_diary_people (diary_id, person_kind, person_ref, reply) "
                           "VALUES (?, ?, ?, 'A')", (n + 1, kind, str(who)))
        db.execute("INSERT INTO org_diary_repeats VALUES (1, 2, 1)")
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

