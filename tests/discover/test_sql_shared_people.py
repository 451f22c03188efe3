"""The classes the Laravel hospital and CRM calendar shapes brought to `discover`, each on a small
MariaDB schema built here (not the products'), with the look-alike that must not be taken for it:
a patient's role row with no name pointing at one users table the doctor's row points at too (a
users row shared by every client, the clerk's, is not followed); a 0/1 done flag with no status
column read as fulfilled/booked (a 0..2 code is no flag; a real status column stands); a visit's
attendees in a link table with a soft-delete flag (a removed attendee is never the patient), the
attendee's phone its filled column, not the first by name; the visit's ``assigned_user_id`` found
by its uuid values as the doctor."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60


_load, _proposal = data.load_tables, data.berlin_proposal


def _at(n: int) -> datetime:
    return datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1 + n % 20,
                                                                                         minutes=30 * (n % 8))


ROLES_DDL = """CREATE TABLE user_accounts (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40),
  phone VARCHAR(20), mail VARCHAR(80));
CREATE TABLE clients (id INT PRIMARY KEY, account_id INT NOT NULL,
  FOREIGN KEY (account_id) REFERENCES user_accounts (id));
CREATE TABLE therapists (id INT PRIMARY KEY, account_id INT NOT NULL,
  FOREIGN KEY (account_id) REFERENCES user_accounts (id));
CREATE TABLE sessions (id INT PRIMARY KEY, client_id INT, therapist_id INT, begins DATETIME, done TINYINT(1),
  FOREIGN KEY (client_id) REFERENCES clients (id), FOREIGN KEY (therapist_id) REFERENCES therapists (id))"""


def _roles(shared_clerk: bool, done: Any = lambda n: int(n % 7 == 0)) -> list[tuple[str, list[tuple[Any, ...]]]]:
    accounts = [(i, f"Given{i}", f"Family{i}", f"+49 151 {20000000 + i}", f"p{i}@example.de") for i in range(1, 33)]
    clients = [(c, 1 if shared_clerk else 2 + c) for c in range(1, 31)]  # accounts 3..32 are the clients
    return [("INSERT INTO user_accounts VALUES (%s, %s, %s, %s, %s)", accounts),
            ("INSERT INTO clients VALUES (%s, %s)", clients),
            ("INSERT INTO therapists VALUES (%s, %s)", [(1, 1), (2, 2)]),
            ("INSERT INTO sessions VALUES (%s, %s, %s, %s, %s)",
             [(v, 1 + v % 30, 1 + v % 2, _at(v), done(v)) for v in range(1, VISITS + 1)])]


@pytest.mark.mariadb
def test_role_rows_reach_one_shared_users_table_under_two_aliases(mariadb_database: dict[str, Any]) -> None:
    _load(mariadb_database, ROLES_DDL, _roles(shared_clerk=False))
    fields, query, _ = _proposal(mariadb_database)
    assert fields["patient.name"] == {"concat": ["patient_given_name", "patient_family_name"]}
    assert fields["patient.phone"] == {"from": "patient_phone"}
    assert fields["practitioner.name"] == {"concat": ["doctor_given_name", "doctor_family_name"]}
    patient = query.split(" AS patient_given_name")[0].rsplit(" ", 1)[-1].split(".")[0]
    doctor = query.split(" AS doctor_given_name")[0].rsplit(" ", 1)[-1].split(".")[0]
    assert patient != doctor and query.count("LEFT JOIN user_accounts AS") == 2


@pytest.mark.mariadb
def test_role_rows_all_naming_one_clerk_are_not_followed(mariadb_database: dict[str, Any]) -> None:
    """Every client row points at the same account (the clerk who keyed them in): that name is
    nobody's to remind, so the patient's name stays unplaced."""
    _load(mariadb_database, ROLES_DDL, _roles(shared_clerk=True))
    fields, _, _ = _proposal(mariadb_database)
    assert "patient.name" not in fields and "patient.phone" not in fields


@pytest.mark.mariadb
def test_done_flag_without_status_column_reads_fulfilled_or_booked(mariadb_database: dict[str, Any]) -> None:
    _load(mariadb_database, ROLES_DDL, _roles(shared_clerk=False))
    fields, query, proposal = _proposal(mariadb_database)
    assert fields["status"] == {"from": "status"}
    assert "CASE WHEN a.done = 1 THEN 'fulfilled' ELSE 'booked' END AS status" in query
    assert proposal.mapping["status_map"] == {"booked": "booked", "fulfilled": "fulfilled"}


@pytest.mark.mariadb
def test_a_done_code_of_three_values_is_no_flag(mariadb_database: dict[str, Any]) -> None:
    _load(mariadb_database, ROLES_DDL, _roles(shared_clerk=False, done=lambda n: n % 3))
    fields, query, _ = _proposal(mariadb_database)
    assert "'fulfilled'" not in query and fields.get("status") != {"from": "status"}


ATTENDEES_DDL = """CREATE TABLE crm_users (id CHAR(36) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40));
CREATE TABLE guests (id CHAR(36) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), phone_home VARCHAR(30),
  phone_mobile VARCHAR(30), phone_work VARCHAR(30));
CREATE TABLE events (id CHAR(36) PRIMARY KEY, title VARCHAR(50), starts_at DATETIME, ends_at DATETIME,
  assigned_user_id CHAR(36), deleted TINYINT(1) DEFAULT 0);
CREATE TABLE event_guests (id CHAR(36) PRIMARY KEY, event_id CHAR(36), guest_id CHAR(36),
  deleted TINYINT(1) DEFAULT 0)"""


def _uuids(n: int, seed: int) -> list[str]:
    return [str(uuid.UUID(int=seed * 10_000 + i + 1, version=4)) for i in range(n)]


@pytest.mark.mariadb
def test_removed_attendee_rows_and_empty_phone_columns_are_passed_over(mariadb_database: dict[str, Any]) -> None:
    staff, guests, events, links = _uuids(3, 1), _uuids(30, 2), _uuids(VISITS, 3), iter(_uuids(2 * VISITS, 4))
    rows = []
    for v, event in enumerate(events):
        guest = guests[1 + v % 29]
        rows.append((next(links), event, guest, 0))
        if v % 5 == 0:  # guests[0], removed from the meeting: the lowest guest id, its row deleted
            rows.append((next(links), event, guests[0], 1))
    _load(mariadb_database, ATTENDEES_DDL, [
        ("INSERT INTO crm_users VALUES (%s, %s, %s)", [(s, f"Doc{i}", "Weber") for i, s in enumerate(staff)]),
        ("INSERT INTO guests VALUES (%s, %s, %s, NULL, %s, %s)",
         [(g, f"Gast{i}", "Kurz", f"+49 160 {20000000 + i}" if i % 6 else None, "+49 30 1234567" if i % 9 == 0
           else None) for i, g in enumerate(guests)]),
        ("INSERT INTO events VALUES (%s, 'Termin', %s, %s, %s, 0)",
         [(e, _at(v), _at(v) + timedelta(minutes=30), staff[v % 3]) for v, e in enumerate(events)]),
        ("INSERT INTO event_guests VALUES (%s, %s, %s, %s)", rows)])
    fields, query, _ = _proposal(mariadb_database)
    assert "COALESCE(cs_l.deleted, 0) = 0 AND cs_l." in query  # the removed guest is never the patient
    assert fields["patient.phone"] == {"from": "patient_phone"} and ".phone_mobile AS patient_phone" in query
    assert "phone_home" not in query.split("AS patient_phone")[0].rsplit("\n", 1)[-1]
    # the meeting's assigned user, found by its uuid values: the doctor
    assert "assigned_user_id" in query and fields["practitioner.name"] == {"concat": ["doctor_first_name",
                                                                                       "doctor_last_name"]}


SPLIT_DDL = """CREATE TABLE people (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  phone VARCHAR(30));
CREATE TABLE calls (id INT PRIMARY KEY, person_id INT, starts DATETIME, duration_hours INT, duration_minutes INT,
  FOREIGN KEY (person_id) REFERENCES people (id))"""


@pytest.mark.mariadb
def test_length_split_over_hours_and_minutes_with_no_end(mariadb_database: dict[str, Any]) -> None:
    _load(mariadb_database, SPLIT_DDL, [
        ("INSERT INTO people VALUES (%s, 'Eva', 'Lang', %s)", [(p, f"+49 151 {20000000 + p}") for p in range(1, 31)]),
        ("INSERT INTO calls VALUES (%s, %s, %s, %s, %s)",
         [(v, 1 + v % 30, _at(v), int(v % 4 == 0), 0 if v % 4 == 0 else (15, 30, 45)[v % 3])
          for v in range(1, VISITS + 1)])])
    fields, query, proposal = _proposal(mariadb_database)
    # an hour-long call keeps minutes 0: the minutes column alone would make it zero minutes long
    assert fields["duration_minutes"] == {"from": "length_minutes"}
    assert "COALESCE(a.duration_hours, 0) * 60 + COALESCE(a.duration_minutes, 0) AS length_minutes" in query
    # the hours column is a part of the length, no clock time waiting for a date
    assert not [n for n in proposal.notes if n.startswith("duration_hours:")], proposal.notes
