"""A visit kept as a day and two times of day in three columns (``visit_date`` DATE,
``start_time`` / ``end_time`` TIME), naming its patient by a number and its doctor by a text
column holding the doctor's number key, neither reference declared (``patient_no``,
``doctor_no``: the ``…_no`` spelling of many older products). Built here in both servers; what
the proposal must get right: start and end from the day and the times, the window on the day
column (the read never takes the whole table), both references followed by their values (on
PostgreSQL the text column is compared with the number key as text) to the patient's and the
doctor's names, which a joined column named after a ``…_no`` reference must still be read as."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

server = ehr.server

DDL = """
CREATE TABLE patient (patient_no INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  cell_phone VARCHAR(30), email VARCHAR(80));
CREATE TABLE doctor (doctor_no INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(80));
CREATE TABLE visit (visit_no INTEGER PRIMARY KEY, visit_date DATE, start_time TIME, end_time TIME,
  patient_no INTEGER, doctor_no VARCHAR(10), status VARCHAR(12))
"""
DOCTORS = {7: ("Ana", "Ruiz", "a.ruiz@clinic.example.org"), 8: ("Ben", "Okoro", "b.okoro@clinic.example.org")}


def _fill(cursor: Any, dialect: str) -> tuple[follow.Want, dict[str, str]]:
    follow.create(cursor, dialect, DDL)
    for number, (first, last, email) in DOCTORS.items():
        cursor.execute("INSERT INTO doctor VALUES (%s, %s, %s, %s)", (number, first, last, email))
    for p in range(1, 31):
        cursor.execute("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)",
                       (p, f"Given{p}", f"Family{p}", f"+1 917 555 {p:04d}", f"given{p}@mail.example.org"))
    want: follow.Want = {}
    ends: dict[str, str] = {}
    for n, start in enumerate(follow.slots(60, seed=66), 1):
        patient, doctor = 1 + (n * 7) % 30, 7 + n % 2
        end = start + timedelta(minutes=20)
        status = "cancelled" if n % 9 == 0 else "booked"
        cursor.execute("INSERT INTO visit VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (n, start.date(), start.time(), end.time(), patient, str(doctor), status))
        first, last, email = DOCTORS[doctor]
        want[str(n)] = {"status": status, "patient": str(patient), "name": f"Given{patient} Family{patient}",
                        "phone": f"+1917555{patient:04d}", "email": f"given{patient}@mail.example.org",
                        "doctor": str(doctor), "doctor_name": f"{first} {last}", "doctor_email": email}
        ends[str(n)] = data.utc(end, follow.ZONE)
    return want, ends


def test_day_and_times_apart_and_references_by_value(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    (want, ends), fields, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    assert "a.visit_date BETWEEN CAST(:window_start AS DATE) AND CAST(:window_end AS DATE)" in connector["query"]
    assert fields["start"] == {"date": "visit_date", "time": "start_time"}
    assert fields["end"] == {"date": "visit_date", "time": "end_time"}
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}
    assert [k for k, end in ends.items() if found[k]["end"] != end] == []
