"""`discover` on the real shape of PHPGurukul's PHP "Hospital Management System" in MariaDB
(tests/fixtures/ehr/phpgurukulhms, with its SOURCE note), the PHP/MySQL hospital app copied into
hundreds of repositories. What it has that nothing else here had: the day and the hour are
VARCHAR text ('2026-03-09', '9:15 AM': a 12-hour clock, no leading zero); two 0/1 flags cancel
a visit, `userStatus` (the patient) and `doctorStatus` (the doctor); the patient's table
(`users`) has an email and no phone, while `tblpatient`, which the visit does not name, has
phones that are not the visit's patient's; the doctor and patient by whole numbers with no
foreign key. Driven as the admin would: ``discover --write`` (which runs ``check``), then
``sync --once``, every visit compared; and the same database with no patient email, which
`check` must fail: nobody could be reminded."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Asia/Kolkata"
SPECS = ["General Physician", "Dentist", "Homeopath", "Dermatologist", "Ayurveda", "Gynecologist/Obstetrician"]
DOCTORS = ["Anil Mehta", "Sarita Pandey", "Nitesh Kumar", "Vijay Verma", "Amrita Rao", "Kavita Joshi"]
FIRST = ["Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul"]
LAST = ["Sharma", "Verma", "Patel", "Reddy", "Singh", "Gupta", "Das"]
PATIENTS, VISITS = 40, 120


def build(cursor: Any, emails: bool = True) -> dict[str, real.Want]:
    """The rows; ``emails`` False: no patient gave an email (the only way `users` reaches one)."""
    real.load_schema(cursor, "phpgurukulhms")
    rng = random.Random(2019)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    real.insert_rows(cursor, "INSERT INTO doctorspecilization (id, specilization, creationDate) VALUES (%s, %s, %s)",
                     [(i + 1, spec, now - timedelta(days=900)) for i, spec in enumerate(SPECS)])
    real.insert_rows(cursor, "INSERT INTO doctors (id, specilization, doctorName, address, docFees, contactno, "
                             "docEmail, password, creationDate, updationDate) "
                             "VALUES (%s, %s, %s, 'New Delhi', %s, %s, %s, 'f925916e', %s, NULL)",
                     [(d + 1, SPECS[d], name, str(500 + 100 * d), 9810000000 + d,
                       f"{name.split()[0].lower()}@hospital.in", now - timedelta(days=800))
                      for d, name in enumerate(DOCTORS)])
    names = {}
    for p in range(1, PATIENTS + 1):
        names[p] = f"{FIRST[p % len(FIRST)]} {LAST[p % len(LAST)]}"
    real.insert_rows(cursor, "INSERT INTO users (id, fullName, address, city, gender, email, password, regDate, "
                             "updationDate) VALUES (%s, %s, 'Sector 12', 'Noida', %s, %s, 'f925916e', %s, %s)",
                     [(p, name, "female" if p % 2 else "male",
                       f"{name.split()[0].lower()}{p}@gmail.com" if emails and p % 9 else None,
                       now - timedelta(days=400 - p), None if p % 3 else now - timedelta(days=p))
                      for p, name in names.items()])
    real.insert_rows(cursor, "INSERT INTO tblpatient (ID, Docid, PatientName, PatientContno, PatientEmail, "
                             "PatientGender, PatientAdd, PatientAge, PatientMedhis, CreationDate) "
                             "VALUES (%s, %s, %s, %s, %s, 'Male', 'Delhi', 40, 'No', %s)",
                     [(i, 1 + i % 6, f"Walk-in {i}", 9797970000 + i, f"walkin{i}@example.in", now - timedelta(days=i))
                      for i in range(1, 16)])
    real.insert_rows(cursor, "INSERT INTO userlog (id, uid, username, loginTime, status) VALUES (%s, %s, %s, %s, 1)",
                     [(i, 1 + i % PATIENTS, f"user{i}@gmail.com", now - timedelta(hours=i)) for i in range(1, 31)])
    rows, expected = [], {}
    for v in range(1, VISITS + 1):
        p, d = 1 + rng.randrange(PATIENTS), v % len(DOCTORS)
        day = now.date() + timedelta(days=1 + v % 27)
        hour, minute = 9 + v % 10, 15 * (v % 4)  # 9:00 AM to 6:45 PM
        clock = f"{(hour - 1) % 12 + 1}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
        by_patient, by_doctor = v % 10 == 0, v % 14 == 0
        cancelled = by_patient or by_doctor
        rows.append((v, SPECS[d], d + 1, p, 500 + 100 * d, day.isoformat(), clock, now - timedelta(days=30, minutes=v),
                     0 if by_patient else 1, 0 if by_doctor else 1,
                     now - timedelta(days=2, minutes=v) if cancelled else None))
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        expected[str(v)] = (start.isoformat().replace("+00:00", "Z"), "cancelled" if cancelled else "booked", str(p),
                            names[p], None, str(d + 1))
    real.insert_rows(cursor, "INSERT INTO appointment (id, doctorSpecialization, doctorId, userId, consultancyFees, "
                             "appointmentDate, appointmentTime, postingDate, userStatus, doctorStatus, updationDate) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


@pytest.mark.mariadb
def test_phpgurukul_hms_text_times_flags_and_email_only_patients(mariadb_database: dict[str, Any], tmp_path: Path,
                                                                 cli: Any) -> None:
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "IN", cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    mapping = real.written_mapping(tmp_path)
    fields = mapping["fields"]
    assert fields["start"] == {"concat": ["appointmentDate", "appointmentTime"]}
    assert mapping["datetime_formats"] == ["%Y-%m-%d %I:%M %p"]  # '9:15 AM', a 12-hour clock
    assert fields["status"] == {"from": "status"} and "`doctorStatus`, 1) = 0" in connector["query"]
    # users has no phone: none placed; tblpatient's phones are not this visit's patient's
    assert "patient.phone" not in fields and "tblpatient" not in connector["query"]
    assert fields["patient.email"] == {"from": "user_email"}
    # the visit's one change stamp is empty until a row is edited: no cursor can see a new row
    assert connector["mode"] == "snapshot"
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert sum(v["status"] == "cancelled" for v in found.values()) == sum(w[1] == "cancelled"
                                                                           for w in expected.values())


@pytest.mark.mariadb
def test_phpgurukul_hms_without_patient_emails_fails_check(mariadb_database: dict[str, Any], tmp_path: Path,
                                                           cli: Any) -> None:
    """No patient gave an email and `users` keeps no phone: nobody can be reminded. Discover
    places no empty column, and `check` (run by ``--write``) fails, saying why: not by offering
    the doctor's `doctor_contactno` and `doctor_docEmail` as the patient's phone and email."""
    real.built(mariadb_database, lambda cursor: build(cursor, emails=False))
    settings = real.settings_file(tmp_path, ZONE, "IN")
    _, out, _ = cli(settings)("discover", str(mariadb_database["url"]), "--write", expect=1)
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "error: patient.phone, patient.email: only 0 of" in errors[0], out
    # the doctor's phone and email are on every row the query joins: never offered as the patient's
    assert "doctor_" not in errors[0] and "join the patient's contact table" in errors[0], out
    mapping = real.written_mapping(tmp_path)
    assert "patient.phone" not in mapping["fields"] and "patient.email" not in mapping["fields"]
