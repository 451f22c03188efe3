"""A hospital system's appointment book, built here from the class (no product's tables): no
foreign key; the day and the time of day in two columns named just ``date`` and ``time`` beside
the row's ``modify_time`` and ``create_time``; the patient a person row the visit names by its
key (``pid``), whose own columns hold a street number (small whole numbers, as a sequence key
holds), a mobile, a relative's phone and a record status; the department picked from a list
(``to_dept_nr``: an abbreviation of its table's word, a few small numbers); the doctor only a typed
name, its number column never written (0 on every row); the appointment's progress in
``appt_status`` and its record's life in ``status`` (blank, or ``void`` for a record taken away).

Each test is one rule: a change stamp is never the start; a number of an address refers to no
table, and a table the visit names is no child row of it; a relative's phone is never the
patient's; one value on every row is no doctor's id; a record-status column leaves its removed
rows out; a department the visit names is where it is when the doctor is typed on the visit, and
owns the calendar when nobody is."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE departments (nr INTEGER PRIMARY KEY, code VARCHAR(25) NOT NULL, name_formal VARCHAR(60) NOT NULL);
CREATE TABLE persons (pid INTEGER PRIMARY KEY, name_first VARCHAR(60), name_last VARCHAR(60),
    addr_street VARCHAR(60), addr_street_nr VARCHAR(10), cellphone VARCHAR(35), relative_name VARCHAR(60),
    relative_phone VARCHAR(35), email VARCHAR(60), modify_time DATETIME NOT NULL, create_time DATETIME NOT NULL);
CREATE TABLE appointments (nr INTEGER PRIMARY KEY, pid INTEGER NOT NULL, date DATE NOT NULL, time TIME NOT NULL,
    to_dept_nr INTEGER NOT NULL, to_staff_nr INTEGER NOT NULL DEFAULT 0, {staff_name}
    remind_phone INTEGER NOT NULL DEFAULT 0, appt_status VARCHAR(35) NOT NULL, status VARCHAR(25) NOT NULL,
    modify_time DATETIME NOT NULL, create_time DATETIME NOT NULL);
"""
DOCTORS = ["Dr. Wanjiru Kamau", "Dr. Otieno Ochieng", "Dr. Amina Hassan", "Dr. Peter Mwangi"]
DEPARTMENTS = [(1, "medicine", "General Medicine"), (2, "paeds", "Paediatrics"), (3, "cardio", "Cardiology")]
ZONE = "Africa/Nairobi"


def _build(path: Path, typed_doctor: bool = True) -> str:
    connection = sqlite3.connect(path)
    connection.executescript(DDL.format(staff_name="to_staff_name VARCHAR(60)," if typed_doctor else ""))
    stamp = (datetime.now() - timedelta(days=3)).replace(microsecond=0)
    connection.executemany("INSERT INTO departments VALUES (?, ?, ?)", DEPARTMENTS)
    persons = [(10000001 + p, f"Given{p}", f"Family{p}", "Ngong Road", str(1 + p),
                f"07{22 + p % 7}{100000 + p * 97:06d}" if p % 4 else None, f"Kin{p}",
                f"07{11 + p % 5}{200000 + p * 31:06d}", f"given{p}@mail.example" if p % 3 == 0 else None,
                stamp, stamp) for p in range(40)]
    connection.executemany(f"INSERT INTO persons VALUES ({', '.join('?' * 11)})", persons)
    today = datetime.now().date()
    rows = []
    for n in range(1, 121):
        day = today + timedelta(days=1 + n // 7)
        status = "void" if n % 17 == 5 else ""
        progress = "cancelled" if n % 11 == 3 else "pending"
        row: list[Any] = [n, 10000001 + (n * 7) % 40, day.isoformat(), f"{8 + n % 6:02d}:{(0, 20, 40)[n % 3]:02d}:00",
                          DEPARTMENTS[n % 3][0], 0]
        if typed_doctor:
            row.append(DOCTORS[n % 4])
        rows.append((*row, n % 2, progress, status, stamp, stamp))
    connection.executemany(f"INSERT INTO appointments VALUES ({', '.join('?' * len(rows[0]))})", rows)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _proposal(url: str) -> Any:
    return discover_sql(url, name="hospital", clinic_zone=ZONE, stored_times="local", region="KE")


def test_a_change_stamp_is_never_the_start(tmp_path: Path) -> None:
    """``modify_time`` is the row's change stamp (its verb, as PHP systems name it beside
    ``create_time``): the start is the day and the time of day read together."""
    fields = _proposal(_build(tmp_path / "h.db")).mapping["fields"]
    assert fields["start"] == {"date": "date", "time": "time"}, fields["start"]
    assert fields["source_updated_at"]["from"] == "modify_time", fields.get("source_updated_at")


def test_an_address_number_refers_to_nothing_and_the_named_person_is_the_patient(tmp_path: Path) -> None:
    """The persons' street numbers (1 … 40) are all keys of the appointments (1 … 120), yet they
    are no reference, and the person table the visit names is never read as its attendees."""
    proposal = _proposal(_build(tmp_path / "h.db"))
    fields = proposal.mapping["fields"]
    assert fields["patient.external_id"] == {"from": "pid"}, fields["patient.external_id"]
    assert not any("attendee" in n for n in proposal.notes), proposal.notes
    assert "addr_street_nr" not in proposal.connector["query"].split("WHERE")[-1], proposal.connector["query"]


def test_a_relatives_phone_is_never_the_patients(tmp_path: Path) -> None:
    """The mobile is empty for a quarter of the patients; the relative's phone beside it, filled
    on every row, is not taken in its place (nor offered by `check`)."""
    fields = _proposal(_build(tmp_path / "h.db")).mapping["fields"]
    assert fields["patient.phone"] == {"from": "persons_cellphone"}, fields["patient.phone"]


def test_one_number_on_every_row_is_no_doctors_id(tmp_path: Path) -> None:
    """``to_staff_nr`` is 0 on every row while four doctors are typed: the name is the id (every
    visit one doctor was the old reading), and the note says why."""
    proposal = _proposal(_build(tmp_path / "h.db"))
    fields = proposal.mapping["fields"]
    assert fields["practitioner.external_id"] == {"from": "to_staff_name"}, fields["practitioner.external_id"]
    assert fields["practitioner.name"] == {"from": "to_staff_name"}, fields["practitioner.name"]
    assert any("'to_staff_nr' holds '0' on all" in n for n in proposal.notes), proposal.notes


def test_a_record_taken_away_is_left_out(tmp_path: Path) -> None:
    """``status`` holds only blank and ``void``: the record's life, not the visit's progress (which
    ``appt_status`` holds). Its removed rows are left out of the query, every removal word listed."""
    url = _build(tmp_path / "h.db")
    proposal = _proposal(url)
    query = proposal.connector["query"]
    assert "NOT IN ('archived', 'deleted'" in query and "'void'" in query, query
    assert proposal.mapping["fields"]["status"] == {"from": "appt_status"}
    connection = sqlite3.connect(tmp_path / "h.db")
    connection.execute("UPDATE appointments SET status = 'cancelled' WHERE nr = 1")  # a progress word: no record life
    connection.commit()
    connection.close()
    assert "'void'" not in _proposal(url).connector["query"]


def test_the_department_is_where_the_visit_is_when_the_doctor_is_typed(tmp_path: Path) -> None:
    """``to_dept_nr`` (``dept``: the department's short word; three small numbers) is followed to
    the departments; with the doctor typed on the visit, its name is the visit's location."""
    fields = _proposal(_build(tmp_path / "h.db")).mapping["fields"]
    assert "location" in fields and fields["practitioner.name"] == {"from": "to_staff_name"}, fields
    assert "name_formal" in str(fields["location"]) or fields["location"] == {"from": "place_name"}, fields["location"]


def test_the_department_owns_the_calendar_when_nobody_is_typed(tmp_path: Path) -> None:
    fields = _proposal(_build(tmp_path / "h.db", typed_doctor=False)).mapping["fields"]
    assert fields["practitioner.external_id"] == {"from": "to_dept_nr"}, fields["practitioner.external_id"]
