"""`discover` on the real shape of the kishan0725 PHP "Hospital Management System" in MariaDB
(tests/fixtures/ehr/kishanhms, with its SOURCE note), one of the PHP/MySQL hospital apps copied
everywhere. What it has that nothing else here had: the visit row repeats the patient's name,
email and 10-digit phone beside the patient's id; it names the doctor by the text of
`doctb.username` (no key or index anywhere on `doctb`), whose row holds the doctor's email; the
day and the hour are a DATE and a TIME; no end, no change stamp; and two 0/1 flags cancel it,
`userStatus` (the patient) and `doctorStatus` (the doctor). Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Asia/Kolkata"
DOCTORS = [("Mehta", "General"), ("Iyer", "Cardiologist"), ("Rao", "Pediatrician"), ("Banerjee", "Neurologist"),
           ("Kapoor", "General"), ("Nair", "Dermatologist")]
FIRST = ["Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul"]
LAST = ["Sharma", "Verma", "Patel", "Reddy", "Singh", "Gupta", "Das"]
PATIENTS, VISITS = 40, 130


def build(cursor: Any, phones: bool = True) -> dict[str, real.Want]:
    """The rows; ``phones`` False: no patient ever gave a phone (the product's NOT NULL columns
    hold '')."""
    real.load_schema(cursor, "kishanhms")
    rng = random.Random(725)
    real.insert_rows(cursor, "INSERT INTO doctb (username, password, email, spec, docFees) VALUES (%s, %s, %s, %s, %s)",
                     [(name, f"{name.lower()}123", f"{name.lower()}@cityhospital.in", spec, 500 + 100 * i)
                      for i, (name, spec) in enumerate(DOCTORS)])
    patients: dict[int, tuple[str, str, str, str]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        contact = f"98{45000000 + 137 * p:08d}" if phones and p % 8 else ""  # some never gave one
        patients[p] = (first, last, contact, f"{first.lower()}.{last.lower()}{p}@gmail.com")
    real.insert_rows(cursor, "INSERT INTO patreg (pid, fname, lname, gender, email, contact, password, cpassword) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     [(p, f, last, "Female" if p % 2 else "Male", email, contact, "pw", "pw")
                      for p, (f, last, contact, email) in patients.items()])
    today = datetime.now(ZoneInfo(ZONE)).date()
    rows, expected = [], {}
    for v in range(1, VISITS + 1):
        p = 1 + rng.randrange(PATIENTS)
        first, last, contact, email = patients[p]
        doctor = DOCTORS[v % len(DOCTORS)][0]
        day = today + timedelta(days=1 + v % 28)
        hour, minute = 9 + v % 9, 30 * (v % 2)
        by_patient, by_doctor = v % 11 == 0, v % 13 == 0
        on_row = "" if v % 7 == 0 else contact  # booked before the patient gave a phone: only patreg has it
        rows.append((p, v, first, last, "Female" if p % 2 else "Male", email, on_row, doctor, 600, day,
                     f"{hour:02d}:{minute:02d}:00", 0 if by_patient else 1, 0 if by_doctor else 1))
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        expected[str(v)] = (start.isoformat().replace("+00:00", "Z"),
                            "cancelled" if by_patient or by_doctor else "booked", str(p), f"{first} {last}",
                            "+91" + contact if contact else None, doctor)
    real.insert_rows(cursor, "INSERT INTO appointmenttb (pid, ID, fname, lname, gender, email, contact, doctor, "
                             "docFees, appdate, apptime, userStatus, doctorStatus) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    real.insert_rows(cursor, "INSERT INTO prestb (doctor, pid, ID, fname, lname, appdate, apptime, disease, allergy, "
                             "prescription) VALUES (%s, %s, %s, %s, %s, %s, %s, 'Fever', 'None', 'Rest')",
                     [(r[7], r[0], r[1], r[2], r[3], r[9] - timedelta(days=60), r[10]) for r in rows[:20]])
    return expected


@pytest.mark.mariadb
def test_kishan_hms_flags_doctor_by_name_and_visit_row_phones(mariadb_database: dict[str, Any], tmp_path: Path,
                                                              cli: Any) -> None:
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "IN", cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    mapping = real.written_mapping(tmp_path)
    fields = mapping["fields"]
    # the two flags are read as one status: cancelled when either is 0; never a phone or a name
    assert fields["status"] == {"from": "status"} and "`userStatus`, 1) = 0 OR" in connector["query"]
    assert not any("Status" in str(spec) for field, spec in fields.items() if field != "status")
    # the doctor named by the text of doctb.username (no key there): followed, its email reached
    assert fields["practitioner.external_id"] == {"from": "doctor"}
    assert fields["practitioner.email"] == {"from": "doctor_email"} and "doctb" in connector["query"]
    # the patient's table by its columns (a name, a phone, an email), its phone where the visit has none
    assert fields["patient.external_id"] == {"from": "pid"}
    assert fields["patient.phone"] == {"from": ["contact", "patreg_contact"]}
    assert fields["duration_minutes"] == {"value": 30}  # no end: said in a note, nothing quarantined
    found = real.sync_and_compare(run, connector, expected, ZONE)
    cancelled = [k for k, want in expected.items() if want[1] == "cancelled"]
    assert len(cancelled) >= 15 and all(found[k]["status"] == "cancelled" for k in cancelled)
    assert {found[k]["practitioner"].get("email") for k in found} == {f"{d.lower()}@cityhospital.in"
                                                                      for d, _ in DOCTORS}


@pytest.mark.mariadb
def test_kishan_hms_visits_take_the_clinics_own_length(mariadb_database: dict[str, Any], tmp_path: Path,
                                                       cli: Any) -> None:
    """No end and no length in the source: where the admin set clinic.default_visit_minutes, the
    mapping carries no 30-minute constant, and each visit takes the clinic's length (noted on it,
    nothing quarantined)."""
    expected = real.built(mariadb_database, build)
    settings = real.settings_file(tmp_path, ZONE, "IN")
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("  default_region: IN\n", "  default_region: IN\n  default_visit_minutes: 20\n"),
                        encoding="utf-8")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    mapping = real.written_mapping(tmp_path)
    assert "duration_minutes" not in mapping["fields"]
    assert "clinic.default_visit_minutes (20 min)" in settings.read_text(encoding="utf-8")
    found = real.sync_and_compare(run, connector, expected, ZONE)
    lengths = {datetime.fromisoformat(v["end"]) - datetime.fromisoformat(v["start"]) for v in found.values()}
    assert lengths == {timedelta(minutes=20)}
