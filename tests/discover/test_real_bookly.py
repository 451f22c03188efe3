"""`discover` on the real shape of Bookly, a WordPress booking plugin, in MariaDB
(tests/fixtures/ehr/bookly, with its SOURCE note): tables carry WordPress's `wp_` prefix; the
appointment row (`wp_bookly_appointments`) holds the time, the staff member and the service,
while the STATUS and the PATIENT live on its child rows (`wp_bookly_customer_appointments`, one
per customer: a group booking has several), each with the customer's own `time_zone` and
`time_zone_offset` (the customer's browser, not the clinic's clock). Times are the clinic's wall
clock. Driven as the admin would: ``discover --write`` (which runs ``check``), then
``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Europe/Dublin"
REGION = "IE"
DOCTORS = [(1, "Aoife Byrne", "a.byrne@clinic.example.ie"), (2, "Cian Walsh", "c.walsh@clinic.example.ie"),
           (3, "Niamh Kelly", "n.kelly@clinic.example.ie")]
SERVICES = [(1, "Consultation", 1800), (2, "Follow-up", 900), (3, "Physiotherapy", 2700)]
STATUS = {"approved": "booked", "pending": "pending", "cancelled": "cancelled", "rejected": "cancelled",
          "done": "fulfilled"}
FIRST = ["Sean", "Mary", "Liam", "Siobhan", "Conor", "Ciara", "Padraig", "Orla", "Declan"]
LAST = ["Murphy", "Kelly", "O'Brien", "Ryan", "Doyle", "McCarthy", "Gallagher"]
PATIENTS, VISITS = 60, 130


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The plugin's rows; what the store must then hold per appointment: its time and staff
    member, its first customer's booking (the lowest customer) as the patient and the status."""
    real.load_schema(cursor, "bookly")
    rng = random.Random(2604)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, second=0, microsecond=0)
    old = now - timedelta(days=200)
    for staff, name, email in DOCTORS:
        cursor.execute("INSERT INTO wp_bookly_staff (id, wp_user_id, full_name, email, phone, time_zone) "
                       "VALUES (%s, %s, %s, %s, %s, %s)", (staff, 10 + staff, name, email, f"+3531555000{staff}", ZONE))
    for service, title, seconds in SERVICES:
        cursor.execute("INSERT INTO wp_bookly_services (id, title, duration, price, capacity_max) "
                       "VALUES (%s, %s, %s, 60, %s)", (service, title, seconds, 2 if service == 3 else 1))
    patients: dict[int, tuple[str, str, str | None]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        phone = f"+35387{rng.randrange(10**7):07d}"
        email = "" if p % 6 == 0 else f"{first.lower()}.{p}@mail.example.ie"
        cursor.execute("INSERT INTO wp_bookly_customers (id, wp_user_id, full_name, first_name, last_name, phone, "
                       "email, notes, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, '', %s)",
                       (p, 100 + p, f"{first} {last}", first, last, phone, email, old))
        patients[p] = (f"{first} {last}", phone, email or None)
    truth: dict[str, dict[str, Any]] = {}
    child = 0
    for visit in range(1, VISITS + 1):
        staff, doctor_name, _ = DOCTORS[visit % len(DOCTORS)]
        service, _, seconds = SERVICES[visit % len(SERVICES)]
        day = now.date() + timedelta(days=1 + visit % 25)
        start = datetime(day.year, day.month, day.day, 9 + visit % 8, 15 * (visit % 4))
        booked = now - timedelta(days=1 + visit % 9, minutes=visit)
        cursor.execute("INSERT INTO wp_bookly_appointments (id, staff_id, service_id, start_date, end_date, "
                       "created_from, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'bookly', %s, %s)",
                       (visit, staff, service, start, start + timedelta(seconds=seconds), booked, booked))
        customers = [1 + rng.randrange(PATIENTS)]
        if visit % 40 == 0:  # a group session: two customers on one appointment
            customers.append(1 + (customers[0] % PATIENTS))
        for patient in customers:
            child += 1
            status = ("cancelled" if visit % 11 == 0 else "rejected" if visit % 29 == 0 else "done"
                      if visit % 13 == 0 else "pending" if visit % 5 == 0 else "approved")
            cursor.execute("INSERT INTO wp_bookly_customer_appointments (id, customer_id, appointment_id, "
                           "number_of_persons, status, status_changed_at, token, time_zone, time_zone_offset, "
                           "created_from, created_at, updated_at) VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, "
                           "'frontend', %s, %s)",
                           (child, patient, visit, status, booked, f"{rng.randrange(16**16):016x}",
                            "Europe/London" if child % 3 else ZONE, -60 if child % 2 else 0, booked, booked))
            if patient != min(customers):
                continue  # the group's other customer: not imported (the proposal's note says so)
            name, phone, email = patients[patient]
            truth[str(visit)] = {
                "start": start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "status": STATUS[status], "patient_id": str(patient), "name": name, "phone": phone,
                "email": email, "doctor_id": str(staff), "doctor_name": doctor_name}
    return truth


@pytest.mark.mariadb
def test_bookly_status_and_patient_on_the_child_row(mariadb_database: dict[str, Any], tmp_path: Any,
                                                     cli: Any) -> None:
    """Each customer's booking is a visit with the child row's status and patient, the
    appointment's time and staff member."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items()}
    real.sync_and_compare(run, connector, expected, ZONE)
