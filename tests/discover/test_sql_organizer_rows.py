"""A calendar whose events name no doctor of their own: the participant rows pointing at the event
flag the organizer (a 0/1 ``is_organizer``), whose row names the staff member who is the doctor;
the patient is another participant row naming a person. On a MariaDB schema built here (not a
product's), with a removed organizer row (``deleted = 1``) and a colleague's staff row added after
the organizer's, both passed over (the newest staff row of the event is not the doctor)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60
DDL = """CREATE TABLE staff (id INT PRIMARY KEY, full_name VARCHAR(80), email VARCHAR(80));
CREATE TABLE clients (id INT PRIMARY KEY, full_name VARCHAR(80), mobile VARCHAR(30));
CREATE TABLE events (id INT PRIMARY KEY, title VARCHAR(80), starts_at DATETIME, ends_at DATETIME);
CREATE TABLE event_people (id INT PRIMARY KEY, event_id INT NOT NULL, is_organizer TINYINT NOT NULL DEFAULT 0,
  staff_id INT NULL, client_id INT NULL, deleted TINYINT NOT NULL DEFAULT 0,
  FOREIGN KEY (event_id) REFERENCES events (id), FOREIGN KEY (staff_id) REFERENCES staff (id),
  FOREIGN KEY (client_id) REFERENCES clients (id))"""


@pytest.mark.mariadb
def test_the_organizers_participant_row_names_the_doctor(mariadb_database: dict[str, Any]) -> None:
    rows, row, truth = [], 0, {}
    for e in range(1, VISITS + 1):
        doctor, client = 1 + e % 3, 1 + e % 30
        if e % 7 == 0:  # an organizer removed from the event: never the doctor
            row += 1
            rows.append((row, e, 1, 1 + (e + 1) % 3, None, 1))
        row += 1
        rows.append((row, e, 1, doctor, None, 0))
        row += 1
        rows.append((row, e, 0, None, client, 0))
        if e % 5 == 0:  # a colleague invited after the organizer: a staff row, not the doctor
            row += 1
            rows.append((row, e, 0, 1 + (e + 2) % 3, None, 0))
        truth[e] = (doctor, client)
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO staff VALUES (%s, %s, %s)", [(s, f"Dr. S{s} Keller", f"s{s}@praxis.example.de")
                                                   for s in range(1, 4)]),
        ("INSERT INTO clients VALUES (%s, %s, %s)", [(c, f"Given{c} Family{c}", f"+49 151 {20000000 + c}")
                                                     for c in range(1, 31)]),
        ("INSERT INTO events VALUES (%s, 'Termin', %s, %s)",
         [(e, data.visit_at(e), data.visit_at(e) + timedelta(minutes=30)) for e in range(1, VISITS + 1)]),
        ("INSERT INTO event_people VALUES (%s, %s, %s, %s, %s, %s)", rows)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}, fields
    assert fields["practitioner.name"] == {"from": "doctor_full_name"}, fields
    why = next(g.why for g in proposal.guesses if g.field == "practitioner.external_id")
    assert "flag the organizer ('is_organizer')" in why, why
    found = {int(r["id"]): (int(r["doctor_id"]), int(r["patient_id"])) for r in data.proposed_rows(mariadb_database,
                                                                                                 query)}
    assert found == truth, [e for e in truth if found.get(e) != truth[e]][:5]
