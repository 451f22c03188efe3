"""A person kept in a contacts row with its own phone and email columns, who also owns typed
rows (one 'mobile' or 'email' value a row): the people part read the typed rows first, always.
Where only some persons have a typed 'email' row most visits got no email, and where the doctors
have none every doctor's email was empty, though each doctor's own row held one. Of the two, the
one that reaches more sampled visits is now read first and the other where it is empty; the
typed 'mobile' rows, which reach more visits than the row's copy, stay first for the phone. A
schema built here, in SQLite, discover run on it and its proposal checked."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

ZONE = "America/Chicago"
PERSONS, VISITS = 40, 90
DDL = """
CREATE TABLE contacts (contact_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT NOT NULL,
  phone_number TEXT, email TEXT);
CREATE TABLE contact_details (contact_detail_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL
  REFERENCES contacts(contact_id), type TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(contact_id),
  gender TEXT);
CREATE TABLE doctor (doctor_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(contact_id),
  degree TEXT);
CREATE TABLE visit_booking (booking_id INTEGER PRIMARY KEY, starts_at TEXT NOT NULL, minutes INTEGER NOT NULL,
  patient_id INTEGER NOT NULL REFERENCES patient(patient_id), doctor_id INTEGER NOT NULL REFERENCES doctor(doctor_id),
  status TEXT NOT NULL);
"""


def _database(path: Path) -> None:
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL)
        for d in range(1, 4):  # the doctors: an email on their own row, no typed row
            connection.execute("INSERT INTO contacts VALUES (?, ?, ?, NULL, ?)",
                               (d, f"Doc{d}", "Hart", f"doc{d}@clinic.example"))
            connection.execute("INSERT INTO doctor VALUES (?, ?, 'MD')", (d, d))
        for p in range(1, PERSONS + 1):
            contact, mobile = 100 + p, f"312-555-{1000 + p}"
            quick = p % 4 == 0  # added by a short form: the number only in a typed row
            connection.execute("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)",
                               (contact, f"Ana{p}", "Lopez", None if quick else mobile, f"ana{p}@mail.example"))
            connection.execute("INSERT INTO contact_details (contact_id, type, detail) VALUES (?, 'mobile', ?)",
                               (contact, mobile))
            if p % 3 == 0:  # an email typed again in the details of a few
                connection.execute("INSERT INTO contact_details (contact_id, type, detail) VALUES (?, 'email', ?)",
                                   (contact, f"ana{p}@mail.example"))
            connection.execute("INSERT INTO patient VALUES (?, ?, 'F')", (p, contact))
        connection.executemany(
            "INSERT INTO visit_booking (starts_at, minutes, patient_id, doctor_id, status) VALUES (?, 20, ?, ?, ?)",
            [(f"{start + timedelta(days=n // 8, hours=n % 8):%Y-%m-%d %H:%M}", 1 + n % PERSONS, 1 + n % 3, "booked")
             for n in range(VISITS)])


def test_the_column_that_reaches_more_visits_is_read_first(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _database(path)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, stored_times="local", region="US")
    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    doctor_email, patient_email, phone = (fields["practitioner.email"]["from"], fields["patient.email"]["from"],
                                          fields["patient.phone"]["from"])
    # the row's own email first (every visit), the typed rows where it is empty
    assert isinstance(doctor_email, list) and len(doctor_email) == 2, doctor_email
    assert isinstance(patient_email, list) and len(patient_email) == 2, patient_email
    query = proposal.connector["query"]
    for own, typed in (doctor_email, patient_email):  # the row's email column, then the typed row's value
        assert f".email AS {own}" in query and f".detail AS {typed}" in query, (own, typed, query)
    guesses = {g.field: g for g in proposal.guesses}
    assert "read first" in guesses["practitioner.email"].why and "read first" in guesses["patient.email"].why
    # the typed mobile rows reach every patient, the row's copy three in four: they stay first, alone
    assert isinstance(phone, str) and "read first" not in guesses["patient.phone"].why, phone
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined
