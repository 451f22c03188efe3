"""`discover` on the real shape of Amelia, a WordPress booking plugin, in MariaDB
(tests/fixtures/ehr/amelia, with its SOURCE note): camelCase columns (`bookingStart`,
`providerId`), no declared foreign keys, the WordPress prefix `wp_amelia_`; customers AND
providers are rows of ONE users table told apart by `type`; the appointment names its provider
(`providerId`) and its customers are child rows (`wp_amelia_customer_bookings`, one per customer,
each with its own status and the customer's `utcOffset`). The plugin keeps times in UTC.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.discover import real_ehr_support as real

ZONE = "America/Chicago"
REGION = "US"
DOCTORS = [(1, "Grace", "Hopper", "g.hopper@clinic.example.com"), (2, "Alan", "Kay", "a.kay@clinic.example.com"),
           (3, "Ada", "Byron", "a.byron@clinic.example.com")]
SERVICES = [(1, "Consultation", 1800), (2, "Follow-up", 900), (3, "Group therapy", 3600)]
STATUS = {"approved": "booked", "pending": "pending", "canceled": "cancelled", "rejected": "cancelled",
          "no-show": "noshow"}
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller"]
PATIENTS, VISITS = 60, 130


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The plugin's rows (times in UTC, as Amelia keeps them); what the store must then hold per
    appointment: its time and provider, its first customer (lowest id) as the patient."""
    real.load_schema(cursor, "amelia")
    rng = random.Random(3107)
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    cursor.execute("INSERT INTO wp_amelia_users (id, type, firstName, lastName, email, phone, timeZone) VALUES "
                   "(90, 'admin', 'Site', 'Admin', 'admin@clinic.example.com', '+13125550100', NULL)")
    for user, first, last, email in DOCTORS:
        cursor.execute("INSERT INTO wp_amelia_users (id, type, externalId, firstName, lastName, email, phone, "
                       "timeZone) VALUES (%s, 'provider', %s, %s, %s, %s, %s, %s)",
                       (user, 10 + user, first, last, email, f"+1312555{user:04d}", ZONE))
    for service, name, seconds in SERVICES:
        cursor.execute("INSERT INTO wp_amelia_services (id, name, color, price, categoryId, minCapacity, "
                       "maxCapacity, duration, priority) VALUES (%s, %s, '#1788FB', 80, 1, 1, %s, %s, "
                       "'least_expensive')", (service, name, 4 if service == 3 else 1, seconds))
    patients: dict[int, tuple[str, str, str | None]] = {}
    for p in range(100, 100 + PATIENTS):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        phone = f"+1773{rng.randrange(200, 1000)}{rng.randrange(10**4):04d}"  # a valid exchange (2-9..)
        email = None if p % 6 == 0 else f"{first.lower()}.{last.lower()}{p}@mail.example.com"
        cursor.execute("INSERT INTO wp_amelia_users (id, type, firstName, lastName, email, phone, countryPhoneIso) "
                       "VALUES (%s, 'customer', %s, %s, %s, %s, 'us')", (p, first, last, email, phone))
        patients[p] = (f"{first} {last}", phone, email)
    truth: dict[str, dict[str, Any]] = {}
    booking = 0
    for visit in range(1, VISITS + 1):
        doctor, first, last, _ = DOCTORS[visit % len(DOCTORS)]
        service, _, seconds = SERVICES[visit % len(SERVICES)]
        start = (now + timedelta(days=1 + visit % 25)).replace(hour=14 + visit % 8, minute=15 * (visit % 4))
        status = ("canceled" if visit % 11 == 0 else "rejected" if visit % 29 == 0 else "pending" if visit % 5 == 0
                  else "approved")
        cursor.execute("INSERT INTO wp_amelia_appointments (id, status, bookingStart, bookingEnd, notifyParticipants, "
                       "serviceId, providerId) VALUES (%s, %s, %s, %s, 1, %s, %s)",
                       (visit, status, start, start + timedelta(seconds=seconds), service, doctor))
        customers = [100 + rng.randrange(PATIENTS)]
        if visit % 40 == 0:  # a group session: two customers on one appointment
            customers.append(100 + (customers[0] - 99) % PATIENTS)
        for patient in customers:
            booking += 1
            name, phone, email = patients[patient]
            cursor.execute("INSERT INTO wp_amelia_customer_bookings (id, appointmentId, customerId, status, price, "
                           "persons, token, info, utcOffset, aggregatedPrice, created) VALUES (%s, %s, %s, %s, 80, 1, "
                           "%s, %s, -360, 1, %s)",
                           (booking, visit, patient, status, f"{rng.randrange(16**10):010x}",
                            f'{{"firstName":"{name.split()[0]}","lastName":"{name.split()[1]}","phone":"{phone}"}}',
                            now - timedelta(days=1 + visit % 9)))
        name, phone, email = patients[min(customers)]
        truth[str(visit)] = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "status": STATUS[status], "patient_id": str(min(customers)),
            "name": name, "phone": phone, "email": email, "doctor_id": str(doctor), "doctor_name": f"{first} {last}"}
    return truth


@pytest.mark.mariadb
def test_amelia_provider_and_customer_are_two_types_of_one_users_table(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The provider is the users row `providerId` names, the patient the users row of the first
    customer booking; neither lends the other its phone."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "utc"])
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items()}
    found = real.sync_and_compare(run, connector, expected, ZONE)
    doctors = [k for k in expected if found[k]["practitioner"].get("name") != truth[k]["doctor_name"]]
    assert doctors == []


@pytest.mark.mariadb
def test_amelia_without_a_customer_contact_cannot_remind_anyone(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """A site whose booking form asks no phone or email: the providers' phones and emails in the
    same users table must not stand in for the customers', so `check` (run by discover) fails."""
    _, _, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    real.built(mariadb_database, lambda cursor: cursor.execute(
        "UPDATE wp_amelia_users SET phone = NULL, email = NULL WHERE type = 'customer'"))
    code, out, _ = run("discover", str(mariadb_database["url"]), "--stored-times", "utc",
                       "--write", expect=None)
    print(out)
    assert code == 1, out
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "patient.phone, patient.email: only 0 of" in errors[0], out
    assert "provider_" not in errors[0], errors[0]  # the doctor's contact is never offered as the patient's
