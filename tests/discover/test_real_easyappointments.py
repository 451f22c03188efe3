"""`discover` on the real shape of Easy!Appointments in MariaDB
(tests/fixtures/booking/easyappointments, with its SOURCE note), a booking tool it had never met
as a database: the visit names its doctor (`id_users_provider`) and its patient
(`id_users_customer`) as two references into the SAME `ea_users` table, the rows told apart by
the user's role (`id_roles`: provider 2, customer 3); the patient's mobile is `mobile_number`
(the landline `phone_number` beside it); `status` is the product's free text (Booked,
Confirmed, Cancelled); a doctor's blocked time is a row of the same table with
`is_unavailability` = 1 and no patient, never a visit; times are the clinic's wall clock.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Europe/Athens"
REGION = "GR"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "booking" / "easyappointments" / "schema.sql"
DOCTORS = [(2, "Eleni", "Papadopoulou", "e.papadopoulou@iatreio.example.gr"),
           (3, "Nikos", "Georgiou", "n.georgiou@iatreio.example.gr"),
           (4, "Maria", "Konstantinou", "m.konstantinou@iatreio.example.gr")]
SERVICES = [(1, "Consultation", 30), (2, "Follow-up", 15), (3, "Physiotherapy", 45)]
STATUS = {"Booked": "booked", "Confirmed": "booked", "Cancelled": "cancelled"}
FIRST = ["Giorgos", "Dimitra", "Kostas", "Sofia", "Yannis", "Katerina", "Petros", "Anna", "Vasilis"]
LAST = ["Nikolaidis", "Pappas", "Vlachou", "Oikonomou", "Makris", "Antoniou", "Dimitriou"]
PATIENTS, VISITS = 60, 150


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The product's rows; what the store must then hold per visit."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(6502)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, second=0, microsecond=0)  # the clinic's clock
    old = now - timedelta(days=200)
    for role, name, slug, admin in ((1, "Administrator", "admin", 1), (2, "Provider", "provider", 0),
                                    (3, "Customer", "customer", 0), (4, "Secretary", "secretary", 0)):
        cursor.execute("INSERT INTO ea_roles (id, name, slug, is_admin, appointments, customers, services, users, "
                       "system_settings, user_settings) VALUES (%s, %s, %s, %s, 15, 15, 0, 0, 0, 0)",
                       (role, name, slug, admin))
    cursor.execute("INSERT INTO ea_users (id, create_datetime, update_datetime, first_name, last_name, email, "
                   "phone_number, timezone, id_roles) VALUES (1, %s, %s, 'Clinic', 'Admin', "
                   "'admin@iatreio.example.gr', '2101234567', %s, 1)", (old, old, ZONE))
    for user, first, last, email in DOCTORS:
        cursor.execute("INSERT INTO ea_users (id, create_datetime, update_datetime, first_name, last_name, email, "
                       "mobile_number, phone_number, timezone, id_roles) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                       "'2101234567', %s, 2)", (user, old, old, first, last, email, f"69{user}7000000", ZONE))
    cursor.execute("INSERT INTO ea_users (id, create_datetime, update_datetime, first_name, last_name, email, "
                   "phone_number, timezone, id_roles) VALUES (5, %s, %s, 'Front', 'Desk', "
                   "'desk@iatreio.example.gr', '2101234568', %s, 4)", (old, old, ZONE))
    for service, name, minutes in SERVICES:
        cursor.execute("INSERT INTO ea_services (id, create_datetime, update_datetime, name, duration, price, "
                       "currency, availabilities_type, attendants_number) VALUES (%s, %s, %s, %s, %s, 40, 'EUR', "
                       "'flexible', 1)", (service, old, old, name, minutes))
    patients: dict[int, tuple[str, str | None, str | None]] = {}
    for p in range(10, 10 + PATIENTS):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        mobile = None if p % 7 == 0 else f"69{p:02d}{rng.randrange(10**6):06d}"
        landline = f"210{rng.randrange(10**7):07d}"  # the number a reminder falls back to without a mobile
        email = None if p % 5 == 0 else f"{first.lower()}.{last.lower()}{p}@mail.example.gr"
        cursor.execute("INSERT INTO ea_users (id, create_datetime, update_datetime, first_name, last_name, email, "
                       "mobile_number, phone_number, address, city, zip_code, timezone, id_roles) VALUES (%s, %s, "
                       "%s, %s, %s, %s, %s, %s, 'Odos Ermou 12', 'Athina', '10563', %s, 3)",
                       (p, old, now - timedelta(days=p % 30), first, last, email, mobile,
                        landline, ZONE))
        patients[p] = (f"{first} {last}", f"+30{mobile or landline}", email)
    truth: dict[str, dict[str, Any]] = {}
    for visit in range(1, VISITS + 1):
        doctor, first, last, doctor_email = DOCTORS[visit % len(DOCTORS)]
        service, _, minutes = SERVICES[visit % len(SERVICES)]
        patient = 10 + rng.randrange(PATIENTS)
        status = "Cancelled" if visit % 11 == 0 else "Confirmed" if visit % 4 == 0 else "Booked"
        day = now.date() + timedelta(days=1 + visit % 25)
        start = datetime(day.year, day.month, day.day, 9 + visit % 8, 15 * (visit % 4))
        booked = now - timedelta(days=1 + visit % 9, minutes=visit)
        cursor.execute("INSERT INTO ea_appointments (id, create_datetime, update_datetime, book_datetime, "
                       "start_datetime, end_datetime, location, notes, hash, color, status, is_unavailability, "
                       "id_users_provider, id_users_customer, id_services) VALUES (%s, %s, %s, %s, %s, %s, '', "
                       "'', %s, '#7cbae8', %s, 0, %s, %s, %s)",
                       (visit, booked, booked, booked, start, start + timedelta(minutes=minutes),
                        f"{rng.randrange(16**12):012x}", status, doctor, patient, service))
        name, phone, email = patients[patient]
        truth[str(visit)] = {
            "start": start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "minutes": minutes, "status": STATUS[status], "patient_id": str(patient), "name": name,
            "phone": phone, "email": email, "doctor_id": str(doctor), "doctor_name": f"{first} {last}",
            "doctor_email": doctor_email}
    for block in range(VISITS + 1, VISITS + 9):  # the doctor's blocked time: no patient, no service
        doctor = DOCTORS[block % len(DOCTORS)][0]
        day = now.date() + timedelta(days=block % 20)
        start = datetime(day.year, day.month, day.day, 13, 0)
        cursor.execute("INSERT INTO ea_appointments (id, create_datetime, update_datetime, book_datetime, "
                       "start_datetime, end_datetime, notes, hash, status, is_unavailability, id_users_provider) "
                       "VALUES (%s, %s, %s, %s, %s, %s, 'Lunch', %s, '', 1, %s)",
                       (block, old, old, old, start, start + timedelta(hours=1), f"{block:012x}", doctor))
    return truth


@pytest.mark.mariadb
@pytest.mark.parametrize("how", ["recognized", "by-its-shape", "older-version"])
def test_easyappointments_patient_and_doctor_are_two_roles_of_one_users_table(
        mariadb_database: dict[str, Any], tmp_path: Path, cli: Any, how: str) -> None:
    """Recognized, discover proposes the product's preset; named by its table (``--table``), or
    an older version whose users have no ``language`` column (which the preset's query reads:
    it would fail on its first read), it reads the shape: the second reference into the users
    table (``id_users_provider``) is the doctor, the row's ``start_datetime`` (not the booking's
    or the row's creation stamp) the start, and neither reference's row lends the other its
    phone or email."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    if how == "older-version":
        real.built(mariadb_database, lambda cursor: cursor.execute("ALTER TABLE ea_users DROP COLUMN language"))
    command = [str(mariadb_database["url"])] + (["--table", "ea_appointments"] if how == "by-its-shape" else [])
    connector = real.discover_then_check(run, settings, command)
    assert ("query_preset" in connector) is (how == "recognized")
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items()}
    found = real.sync_and_compare(run, connector, expected, ZONE)
    doctors = [k for k in expected if (found[k]["practitioner"].get("name"), found[k]["practitioner"].get("email"))
               != (truth[k]["doctor_name"], truth[k]["doctor_email"])]
    emails = [k for k in expected if found[k]["patient"].get("email") != truth[k]["email"]]
    ends = [k for k in expected if found[k]["end"] is None]
    assert (doctors, emails, ends) == ([], [], [])
