"""A research site's study visits, on a schema built here from the class (no product's tables),
in SQLite:

* the participant has no name or contact (trial data are de-identified): the row the visit
  names is a person by its demographics, a birth date and a sex on the person row it refers to;
  the visit's participant id is read, never left out;
* a form filled at the visit names its interviewer (``interviewer_name``): staff, never the
  participant's name;
* the visit's record status is a code into a small status table whose word for some codes is
  "removed": those visits are left out of the query, as a soft delete is; a NULL code stays.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE record_status (record_status_id INTEGER PRIMARY KEY, name VARCHAR(40));
CREATE TABLE progress (progress_id INTEGER PRIMARY KEY, name VARCHAR(40));
CREATE TABLE staff_account (account_id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40));
CREATE TABLE person (person_id INTEGER PRIMARY KEY, person_code VARCHAR(20), date_of_birth DATE, sex CHAR(1));
CREATE TABLE enrolment (enrolment_id INTEGER PRIMARY KEY, label VARCHAR(20),
  person_id INTEGER REFERENCES person(person_id), enrolled_on DATE);
CREATE TABLE study_visit (study_visit_id INTEGER PRIMARY KEY, enrolment_id INTEGER REFERENCES enrolment(enrolment_id),
  visit_start DATETIME, visit_end DATETIME, progress_id INTEGER REFERENCES progress(progress_id),
  record_status_id INTEGER REFERENCES record_status(record_status_id),
  owner_id INTEGER REFERENCES staff_account(account_id), date_created DATE);
CREATE TABLE visit_form (visit_form_id INTEGER PRIMARY KEY,
  study_visit_id INTEGER REFERENCES study_visit(study_visit_id),
  enrolment_id INTEGER REFERENCES enrolment(enrolment_id), interviewer_name VARCHAR(80), interviewed_on DATE)
"""


def build(path: Path) -> set[str]:
    """Forty participants, 100 visits ahead (every 9th removed, every 10th with no record
    status), a form per visit; the visits that must be read."""
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    connection.executemany("INSERT INTO record_status VALUES (?, ?)", [(1, "available"), (5, "removed")])
    connection.executemany("INSERT INTO progress VALUES (?, ?)", [(1, "scheduled"), (4, "completed")])
    connection.execute("INSERT INTO staff_account VALUES (1, 'Sanne', 'de Vries')")
    for p in range(1, 41):
        connection.execute("INSERT INTO person VALUES (?, ?, ?, ?)",
                           (p, f"P{p:04d}", date(1960 + p, 3, 1), "fm"[p % 2]))
        connection.execute("INSERT INTO enrolment VALUES (?, ?, ?, ?)", (p, f"ST-{p:03d}", p, date(2025, 1, 1)))
    kept = set()
    today = datetime.now().replace(minute=0, second=0, microsecond=0)
    for v in range(1, 101):
        start = today + timedelta(days=1 + v % 20, hours=v % 6)
        status = None if v % 10 == 0 else 5 if v % 9 == 0 else 1
        connection.execute("INSERT INTO study_visit VALUES (?, ?, ?, ?, 1, ?, 1, ?)",
                           (v, 1 + v % 40, start.isoformat(" "), (start + timedelta(minutes=40)).isoformat(" "),
                            status, date.today().isoformat()))
        connection.execute("INSERT INTO visit_form VALUES (?, ?, ?, 'Sanne de Vries', ?)",
                           (v, v, 1 + v % 40, date.today().isoformat()))
        if status != 5:
            kept.add(str(v))
    connection.commit()
    connection.close()
    return kept


def test_participants_by_demographics_removed_records_and_interviewers(tmp_path: Path) -> None:
    build(tmp_path / "site.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'site.db'}", name="site", clinic_zone="Europe/Amsterdam",
                            stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert fields["patient.external_id"] == {"from": "enrolment_id"}, fields
    assert "patient.name" not in fields, fields  # the interviewer is nobody's name here
    assert "(a.record_status_id IS NULL OR a.record_status_id NOT IN (5))" in query, query
    assert "calls that record status removed" in proposal.connector_notes["query"]


DEFINED = """
CREATE TABLE event_definition (event_definition_id INTEGER PRIMARY KEY, name VARCHAR(60), type VARCHAR(20),
  ordinal INTEGER);
CREATE TABLE study_event (study_event_id INTEGER PRIMARY KEY, participant_code VARCHAR(20),
  event_definition_id INTEGER REFERENCES event_definition(event_definition_id), event_start DATETIME,
  event_end DATETIME, state VARCHAR(20))
"""


def test_the_visits_kind_is_its_definitions_name_not_a_constant_state(tmp_path: Path) -> None:
    """A visit of a defined kind ("Screening", "Month 3 visit") whose definition also holds a
    constant ``type`` saying a state ("scheduled" on every row): the definition's name is the
    visit's kind; the constant state word is no kind (the patient would read "scheduled" as what
    they come for)."""
    connection = sqlite3.connect(tmp_path / "defined.db")
    connection.executescript(DEFINED)
    kinds = ["Screening", "Baseline", "Month 3 visit", "Month 6 visit"]
    connection.executemany("INSERT INTO event_definition VALUES (?, ?, 'scheduled', ?)",
                           [(n, kind, n) for n, kind in enumerate(kinds, 1)])
    today = datetime.now().replace(minute=0, second=0, microsecond=0)
    for v in range(1, 81):
        start = today + timedelta(days=1 + v % 20, hours=v % 6)
        connection.execute("INSERT INTO study_event VALUES (?, ?, ?, ?, ?, 'booked')",
                           (v, f"ST-{1 + v % 30:03d}", 1 + v % 4, start.isoformat(" "),
                            (start + timedelta(minutes=40)).isoformat(" ")))
    connection.commit()
    connection.close()
    proposal = discover_sql(f"sqlite:///{tmp_path / 'defined.db'}", name="site", clinic_zone="Europe/Amsterdam",
                            stored_times="local")
    fields = (proposal.mapping or {})["fields"]
    assert "name" in str(fields.get("type")) and "event_definition" in str(fields.get("type")), fields.get("type")
