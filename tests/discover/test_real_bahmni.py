"""`discover` on the real shape of Bahmni's appointments module on OpenMRS, in the real MariaDB
(issue 57's held-out schema): the tables as the vendors define them (tests/fixtures/ehr/bahmni,
with its SOURCE note), realistic synthetic data — names in ``person_name`` (several per person,
some voided), phones in ``person_attribute`` typed by ``person_attribute_type`` ('phoneNumber',
'alternatePhoneNumber'; some voided), the doctor through ``patient_appointment_provider`` (the
appointment's ``provider_id`` a legacy NULL), users who are persons with names too (the
``creator`` trap), voided visits, ``date_changed`` set only on update — driven through the
admin's path: ``discover --write`` -> ``check`` -> ``sync --once``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Asia/Kolkata"
STATUS = {"Scheduled": "booked", "CheckedIn": "checked-in", "Completed": "fulfilled", "Cancelled": "cancelled",
          "Missed": "noshow"}
GIVEN = ["Aarav", "Priya", "Rohan", "Sunita", "Vikram", "Meera", "Arjun", "Kavya", "Ishaan", "Lakshmi", "Nikhil"]
FAMILY = ["Sharma", "Patel", "Reddy", "Nair", "Gupta", "Iyer", "Das", "Khan", "Singh", "Joshi"]
USERS, PATIENTS, DOCTORS, VISITS = 2, 90, 4, 210


def _uuid() -> str:
    return str(uuid.uuid4())


def build(cursor: Any) -> dict[str, real.Want]:
    """The schema from the fixture, filled; per visit the store must hold (voided ones: none):
    UTC start, status, patient id, patient name, E.164 phone, doctor's provider id."""
    real.load_schema(cursor, "bahmni")
    put = real.insert_rows  # one statement per table (pymysql runs executemany row by row here)
    # OpenMRS stamps rows with the JVM's clock: the clinic's wall-clock time, not the server's UTC
    local_now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    base = local_now - timedelta(days=30)
    people = USERS + PATIENTS + DOCTORS
    put(cursor, "INSERT INTO person (person_id, gender, birthdate, creator, date_created, date_changed, uuid) "
                       "VALUES (%s, %s, %s, 1, %s, %s, %s)",
                       [(p, "MF"[p % 2], datetime(1950 + p % 50, 1 + p % 12, 1 + p % 28).date(), base,
                         base + timedelta(days=2) if p % 9 == 0 else None, _uuid()) for p in range(1, people + 1)])
    put(cursor, "INSERT INTO users (user_id, system_id, username, creator, date_created, person_id, uuid) "
                       "VALUES (%s, %s, %s, 1, %s, %s, %s)",
                       [(1, "admin", "admin", base, 1, _uuid()), (2, "2-6", "reception", base, 2, _uuid())])
    patients = range(USERS + 1, USERS + PATIENTS + 1)
    put(cursor, "INSERT INTO patient (patient_id, creator, date_created) VALUES (%s, %s, %s)",
                       [(p, 1 + p % 2, base) for p in patients])
    names: list[tuple[Any, ...]] = []
    current: dict[int, str] = {}
    for p in range(1, people + 1):
        given, family = GIVEN[p % len(GIVEN)], f"{FAMILY[p % len(FAMILY)]}{p}"
        current[p] = f"{given} {family}"
        names.append((True, p, given, family, base, False))
        if p % 3 == 0:  # a former name kept, not preferred, entered later
            names.append((False, p, given, f"Old{p}", base + timedelta(days=1), False))
        if p % 5 == 0:  # a preferred name entered by mistake and voided, the newest row
            names.append((True, p, f"Typo{p}", family, base + timedelta(days=3), True))
    put(cursor, "INSERT INTO person_name (preferred, person_id, given_name, family_name, creator, "
                       "date_created, voided, uuid) VALUES (%s, %s, %s, %s, 1, %s, %s, UUID())", names)
    put(cursor, "INSERT INTO person_attribute_type (person_attribute_type_id, name, format, creator, "
                       "date_created, sort_weight, uuid) VALUES (%s, %s, 'java.lang.String', 1, %s, %s, %s)",
                       [(t, name, base, t, _uuid()) for t, name in
                        [(1, "givenNameLocal"), (2, "familyNameLocal"), (3, "occupation"), (4, "phoneNumber"),
                         (5, "alternatePhoneNumber"), (6, "email")]])
    attributes: list[tuple[Any, ...]] = []
    phone: dict[int, str | None] = {}
    for p in patients:
        attributes.append((p, GIVEN[p % len(GIVEN)].upper(), 1, base, False))
        attributes.append((p, ["Farmer", "Teacher", "Driver", "Nurse"][p % 4], 3, base, False))
        phone[p] = None
        if p % 4 == 0:  # only a second number
            attributes.append((p, f"0{9448000000 + p}", 5, base, False))
            phone[p] = f"+91{9448000000 + p}"
        elif p % 11 != 0:  # a mobile, written as people type it
            attributes.append((p, f"98450 {10000 + p}", 4, base + timedelta(hours=1), False))
            phone[p] = f"+9198450{10000 + p}"
            if p % 6 == 0:  # an older number, voided later: the newest row
                attributes.append((p, f"98860 {20000 + p}", 4, base + timedelta(days=4), True))
        if p % 2 == 0:
            attributes.append((p, f"patient{p}@example.in", 6, base, False))
    put(cursor, "INSERT INTO person_attribute (person_id, value, person_attribute_type_id, creator, "
                       "date_created, voided, uuid) VALUES (%s, %s, %s, 1, %s, %s, UUID())", attributes)
    doctors = range(1, DOCTORS + 1)
    put(cursor, "INSERT INTO provider (provider_id, person_id, name, identifier, creator, date_created, uuid) "
                       "VALUES (%s, %s, NULL, %s, 1, %s, %s)",
                       [(d, USERS + PATIENTS + d, f"PRV{d:04d}", base, _uuid()) for d in doctors])
    cursor.execute("INSERT INTO location (location_id, name, date_created, uuid) VALUES (1, 'OPD-1', %s, %s)",
                   (base, _uuid()))
    put(cursor, "INSERT INTO appointment_service (appointment_service_id, name, location_id, duration_mins, "
                       "creator, date_created, uuid) VALUES (%s, %s, 1, %s, 1, %s, %s)",
                       [(1, "General Medicine", 15, base, _uuid()), (2, "Orthopaedics", 30, base, _uuid()),
                        (3, "Physiotherapy", 45, base, _uuid())])
    rows, links = [], []
    expected: dict[str, real.Want] = {}
    words = list(STATUS)
    for n, start in enumerate(data.future_slots(ZONE, VISITS, seed=571), start=1):
        p, d, word = patients[n % PATIENTS], doctors[n % DOCTORS], words[n % len(words)]
        service = 1 + n % 3
        created = local_now - timedelta(minutes=7 * (VISITS - n) + 30)  # booked over the last day
        voided = n % 12 == 5
        rows.append((n, f"{int(created.timestamp()) % 100000:05d}", p, None, service, 1, start,
                     start + timedelta(minutes=15 * service), ["Scheduled", "WalkIn", "Virtual"][n % 3 and 1 - n % 2],
                     word, 1 + n % 2, created, created + timedelta(minutes=10) if n % 7 == 0 else None, voided,
                     _uuid()))
        links.append((n, d, "ACCEPTED", 1, created, False))
        if n % 10 == 0:  # a doctor assigned by mistake, then voided (the newest link)
            links.append((n, doctors[(n + 1) % DOCTORS], "ACCEPTED", 1, created + timedelta(minutes=5), True))
        if not voided:
            expected[str(n)] = (data.utc(start, ZONE), STATUS[word], str(p), current[p], phone[p], str(d))
    put(cursor,
        "INSERT INTO patient_appointment (patient_appointment_id, appointment_number, patient_id, provider_id, "
        "appointment_service_id, location_id, start_date_time, end_date_time, appointment_kind, status, creator, "
        "date_created, date_changed, voided, uuid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        rows)
    put(cursor,
        "INSERT INTO patient_appointment_provider (patient_appointment_id, provider_id, response, creator, "
        "date_created, voided, uuid) VALUES (%s, %s, %s, %s, %s, %s, UUID())", links)
    # beside the appointments, what every OpenMRS keeps: the appointments' status history, the
    # patients' identifiers, and past visits and encounters (more rows than the appointments)
    put(cursor, "INSERT INTO patient_appointment_audit (appointment_id, status, creator, date_created, voided, "
                       "uuid) VALUES (%s, %s, %s, %s, 0, UUID())", [(r[0], r[9], r[10], r[11]) for r in rows])
    real.openmrs_history(cursor, patients, base, lambda p: f"GAN2030{p:02d}")
    return expected


@pytest.mark.mariadb
def test_bahmni_on_mariadb_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Path,
                                                            cli: Any) -> None:
    """The server runs on UTC; OpenMRS writes the clinic's wall-clock time. With only the
    settings' clinic.timezone (no --timezone: test_sql_people gives it), discover must read the
    starts as local time."""
    expected = real.built(mariadb_database, build)
    url = str(mariadb_database["url"])
    settings = real.settings_file(tmp_path, ZONE, "IN")
    command = [url]
    run = cli(settings)
    connector = real.discover_then_check(run, settings, command)
    assert "AS related_appointment_status" not in connector["query"]  # no self-join to the follow-up's parent visit
    for noise in ("AS doctor_uuid", "AS patient_creator", "AS person_void_reason", "AS doctor_retired_by"):
        assert noise not in connector["query"]  # a joined table's bookkeeping is not read
    real.sync_and_compare(run, connector, expected, ZONE)
    # the front desk replaces a patient's number (the old row voided, a new one written): the next
    # incremental poll sees it, though no appointment row changed
    visit, want = next((k, w) for k, w in expected.items() if w[4] and w[4].startswith("+9198450"))
    patient = int(want[2])
    connection = data.mysql(mariadb_database)
    try:
        with connection.cursor() as cursor:
            now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)  # the JVM's clock
            cursor.execute("UPDATE person_attribute SET voided = 1, date_voided = %s, voided_by = 2 "
                           "WHERE person_id = %s AND person_attribute_type_id = 4 AND voided = 0", (now, patient))
            cursor.execute("INSERT INTO person_attribute (person_id, value, person_attribute_type_id, creator, "
                           "date_created, voided, uuid) VALUES (%s, '99000 12345', 4, 2, %s, 0, UUID())",
                           (patient, now))
    finally:
        connection.close()
    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"][connector["name"]]["error"] is None
    after = data.stored(run)
    assert after[visit]["patient"]["phone"] == "+919900012345"
    assert all(after[k]["patient"]["phone"] == w[4] for k, w in expected.items() if w[2] != str(patient))
