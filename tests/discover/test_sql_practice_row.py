"""The practice's own row is never the patient's contact: a visit refers to its clinic's row (one
row: the clinic's name, mobile and email) and keeps the patient's phone and email on its own row.
The scorer took the clinic's mobile (a mobile word outranks 'phone') and email as the patient's,
the visit's own columns became their fallbacks, and the step that drops a patient field read from
a stranger's table then dropped both: no patient could be reminded. A table whose name says the
practice (the clinic, the practice's settings, the company's details) is no source of the
patient's phone nor email; its name still names the visit's place."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.sql import discover_sql

ZONE = "America/New_York"
VISITS = 48


@pytest.mark.parametrize("practice", ["clinic", "practice_settings", "company_info"])
def test_the_practice_s_own_mobile_and_email_are_no_patient_s(tmp_path: Path, practice: str) -> None:
    path = tmp_path / "diary.db"
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript(f"""
            CREATE TABLE {practice} (id INTEGER PRIMARY KEY, clinic_name TEXT, mobile TEXT, email TEXT);
            CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT);
            CREATE TABLE doctors (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
                                       doctor_id INTEGER REFERENCES doctors(id),
                                       {practice}_id INTEGER REFERENCES {practice}(id), start_at TEXT,
                                       phone TEXT, email TEXT, end_at TEXT, status TEXT);
        """)
        connection.execute(f"INSERT INTO {practice} (clinic_name, mobile, email) VALUES (?, ?, ?)",
                           ("Riverside Family Clinic", "617-253-0199", "desk@riverside.example"))
        connection.executemany("INSERT INTO patients (first_name, last_name) VALUES (?, ?)",
                               [(f"Ana{n}", "Lopez") for n in range(30)])
        connection.executemany("INSERT INTO doctors (name) VALUES (?)", [(f"Dr. Doc{n} Hart",) for n in range(3)])
        connection.executemany(
            f"INSERT INTO appointments (patient_id, doctor_id, {practice}_id, start_at, end_at, status, phone, "
            "email) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
            [(1 + n % 30, 1 + n % 3, f"{start + timedelta(days=n // 8, hours=n % 8):%Y-%m-%d %H:%M}",
              f"{start + timedelta(days=n // 8, hours=n % 8, minutes=30):%Y-%m-%d %H:%M}", "booked",
              f"617-253-{1000 + n % 30}", f"ana{n % 30}@mail.example")
             for n in range(VISITS)])

    proposal = discover_sql(f"sqlite:///{path}", name="diary", timezone=ZONE, stored_times="local")

    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    assert fields["patient.phone"] == {"from": "phone"}, fields.get("patient.phone")
    assert fields["patient.email"] == {"from": "email"}, fields.get("patient.email")
    assert fields["location"] == {"from": f"{practice}_clinic_name"}, fields.get("location")
