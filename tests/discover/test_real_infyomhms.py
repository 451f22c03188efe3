"""`discover` on the real shape of InfyOm's Laravel HMS in MariaDB (tests/fixtures/ehr/infyomhms,
with its SOURCE note). What it has that nothing else here had: the patient and the doctor are each
a role row with no name (`patients.user_id`, `doctors.user_id`) pointing at ONE shared `users`
table that holds every person's name, phone and email (and the staff's: admins, nurses); the visit
has only `opd_date`, no end; a 0/1 `is_completed` flag and no status column. Driven as the admin
would: ``discover --write`` (which runs ``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real

ZONE = "Asia/Kolkata"
ROLES = ["Admin", "Doctor", "Patient", "Nurse", "Receptionist"]
SPECIALITIES = ["Cardiology", "Dermatology", "Paediatrics", "General Medicine"]
DOCTORS = [("Anil", "Mehta"), ("Sarita", "Pandey"), ("Nitesh", "Kumar"), ("Amrita", "Rao")]
FIRST = ["Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul"]
LAST = ["Sharma", "Verma", "Patel", "Reddy", "Singh", "Gupta", "Das"]
PATIENTS, VISITS = 50, 140


def phone_cell(n: int) -> tuple[str | None, str | None]:
    """How the users' form keeps a number, and the E.164 number it is; some left empty."""
    digits = f"98{10000000 + n * 7919 % 90000000:08d}"
    if n % 12 == 0:
        return None, None
    shapes = (digits, f"+91 {digits[:5]} {digits[5:]}", f"0{digits}")
    return shapes[n % 3], "+91" + digits


def build(cursor: Any) -> dict[str, real.Want]:
    """The hospital's rows: staff, doctors and patients all in `users`; a ninth of the visits
    seen earlier today and ticked completed, the rest ahead."""
    real.load_schema(cursor, "infyomhms")
    rng = random.Random(2020)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    old = now - timedelta(days=500)
    real.insert_rows(cursor, "INSERT INTO departments (id, name, is_active, guard_name, created_at, updated_at) "
                             "VALUES (%s, %s, 1, 'web', %s, %s)", [(i + 1, r, old, old) for i, r in enumerate(ROLES)])
    real.insert_rows(cursor, "INSERT INTO doctor_departments (id, title, description, created_at, updated_at) "
                             "VALUES (%s, %s, NULL, %s, %s)",
                     [(i + 1, s, old, old) for i, s in enumerate(SPECIALITIES)])
    users: list[tuple[Any, ...]] = []

    def user(first: str, last: str | None, role: int, phone: str | None, email: str, owner: tuple[int, str] | None,
             designation: str | None = None) -> int:
        uid = len(users) + 1
        users.append((uid, role, first, last, email, "$2y$10$hash", designation, phone, uid % 2, None,
                      "O+" if uid % 3 else None, None, old, *(owner or (None, None)), 1, "en", None, old,
                      old + timedelta(days=uid)))
        return uid

    for s in range(3):  # staff first: their rows share the table and its ids
        user(f"Staff{s}", "Office", (1, 4, 5)[s], f"98200000{s:02d}", f"staff{s}@hms.in", None, "Staff")
    doctors = []
    for d, (first, last) in enumerate(DOCTORS):
        uid = user(first, last, 2, None,
                   f"dr.{first.lower()}@hms.in", (d + 1, "App\\Models\\Doctor"), "Consultant")
        doctors.append((d + 1, uid, 1 + d % len(SPECIALITIES), SPECIALITIES[d % len(SPECIALITIES)], old, old))
    patients, people = [], {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[p * 3 % len(LAST)]
        cell, phone = phone_cell(p)
        uid = user(first, last, 3, cell, f"{first.lower()}.{p}@mail.in", (p, "App\\Models\\Patient"))
        patients.append((p, uid, old, old))
        people[p] = (f"{first} {last}", phone)
    real.insert_rows(cursor, "INSERT INTO users (id, department_id, first_name, last_name, email, password, "
                             "designation, phone, gender, qualification, blood_group, dob, email_verified_at, "
                             "owner_id, owner_type, status, language, remember_token, created_at, updated_at) "
                             f"VALUES ({', '.join(['%s'] * 20)})", users)
    real.insert_rows(cursor, "INSERT INTO doctors (id, user_id, doctor_department_id, specialist, created_at, "
                             "updated_at) VALUES (%s, %s, %s, %s, %s, %s)", doctors)
    real.insert_rows(cursor, "INSERT INTO patients (id, user_id, created_at, updated_at) VALUES (%s, %s, %s, %s)",
                     patients)
    rows, expected = [], {}
    for v in range(1, VISITS + 1):
        p, d = 1 + rng.randrange(PATIENTS), v % len(DOCTORS)
        done = v % 9 == 0  # seen earlier today: the desk ticked it completed
        start = (now - timedelta(hours=2 + v % 8) if done else
                 now.replace(hour=9, minute=0, second=0) + timedelta(days=1 + v % 30, minutes=15 * (v % 32)))
        made = now - timedelta(days=10 + v % 20, minutes=v)
        rows.append((v, p, d + 1, 2, start, "Fever" if v % 2 else None, int(done), made, made))
        utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).isoformat().replace("+00:00", "Z")
        name, phone = people[p]
        expected[str(v)] = (utc, "fulfilled" if done else "booked", str(p), name, phone, str(d + 1))
    real.insert_rows(cursor, "INSERT INTO appointments (id, patient_id, doctor_id, department_id, opd_date, problem, "
                             "is_completed, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


@pytest.mark.mariadb
def test_infyom_hms_two_roles_one_users_table(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "IN", cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    mapping = yaml.safe_load(next((tmp_path / "mappings").glob("*.yaml")).read_text(encoding="utf-8"))
    fields, query = mapping["fields"], connector["query"]
    # one users table under two aliases: the patient's through patients.user_id, the doctor's
    # through doctors.user_id; each field read from its own alias, never the other's
    patient_alias = query.split(" AS patient_phone")[0].rsplit(" ", 1)[-1].split(".")[0]
    doctor_alias = query.split(" AS doctor_email")[0].rsplit(" ", 1)[-1].split(".")[0]
    assert patient_alias != doctor_alias
    assert f"LEFT JOIN users AS {patient_alias} ON {patient_alias}.id = t1.user_id" in query
    assert f"ON {doctor_alias}.id = d" in query
    assert fields["patient.name"] == {"concat": ["patient_first_name", "patient_last_name"]}
    assert fields["patient.phone"] == {"from": "patient_phone"} and fields["patient.email"] == {"from": "patient_email"}
    assert fields["practitioner.name"] == {"concat": ["doctor_first_name", "doctor_last_name"]}
    assert fields["practitioner.email"] == {"from": "doctor_email"}
    assert fields["duration_minutes"] == {"value": 30}  # opd_date only: the clinic's default, said so
    assert "is_completed" in fields["status"]["from"] or "is_completed" in query
    assert mapping["status_map"] == {"booked": "booked", "fulfilled": "fulfilled"}
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert sum(v["status"] == "fulfilled" for v in found.values()) == VISITS // 9

