"""`discover` on the real shape of Simply Schedule Appointments, a WordPress booking plugin, in
MariaDB (tests/fixtures/ehr/ssa, with its SOURCE note): there is no customers table; the booking
form's answers are ONE JSON object per appointment in a TEXT column (`customer_information`,
``{"Name": ..., "Email": ..., "Phone": ...}``), the customer a WordPress user id (`customer_id`,
0 for a guest). Times are UTC. The doctor is a staff row named by a link table
(`wp_ssa_staff_appointments`). The appointment type keeps JSON too (its form's field list, not a
person), and the availability cache (`wp_ssa_availability`) has start/end times, a type and a
staff id but no customer: a look-alike that must not be read as the visits.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "America/Denver"
REGION = "US"
DOCTORS = [(1, "Dr. Maria Lopez", "m.lopez@clinic.example.com"), (2, "Dr. Sam Okafor", "s.okafor@clinic.example.com"),
           (3, "Hannah Berg, NP", "h.berg@clinic.example.com"), (4, "Dr. Wei Chen", "w.chen@clinic.example.com")]
TYPES = [(1, "New patient visit", 45), (2, "Follow-up", 15), (3, "Annual physical", 60), (4, "Telehealth", 30)]
STATUS = {"booked": "booked", "pending_payment": "pending", "pending_form": "pending", "canceled": "cancelled",
          "abandoned": "cancelled"}
FIRST = ["James", "Mary", "Robert", "Patricia", "Luis", "Jennifer", "Michael", "Aisha", "David", "Grace"]
LAST = ["Smith", "Johnson", "Nguyen", "Brown", "Rivera", "Garcia", "Miller", "Patel"]
PATIENTS, VISITS = 60, 150
BACK = timedelta(days=1)  # the SQL connector's default window: visits that started up to a day ago
FORM = [{"field": "Name", "type": "single-text", "required": True, "display": True},
        {"field": "Email", "type": "single-text", "required": True, "display": True},
        {"field": "Phone", "type": "phone", "required": True, "display": True},
        {"field": "Address", "type": "single-text", "required": False, "display": False}]


def typed(e164: str, style: int) -> str:
    """A US number as people type it into the booking form."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", f"{area}-{exchange}-{line}",
            f"+1 {area} {exchange} {line}", f"{area}{exchange}{line}", f"+1{area}{exchange}{line}"][style % 6]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The plugin's rows as SSA writes them; what the store must then hold per appointment."""
    real.load_schema(cursor, "ssa")
    rng = random.Random(6203)
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    for staff, name, email in DOCTORS:
        cursor.execute("INSERT INTO wp_ssa_staff (id, user_id, capacity, name, display_name, email, status, "
                       "visibility, timezone, blackout_dates, display_order) VALUES (%s, %s, 1, %s, %s, %s, "
                       "'publish', 'public', %s, '[]', %s)", (staff, 10 + staff, name, name, email, ZONE, staff))
    for kind, title, minutes in TYPES:
        cursor.execute("INSERT INTO wp_ssa_appointment_types (id, author_id, title, slug, description, "
                       "instructions, duration, availability_type, availability, customer_information, "
                       "custom_customer_information, notifications, staff, status, display_order, date_created, "
                       "date_modified) VALUES (%s, 1, %s, %s, '', '', %s, 'available_blocks', '{}', %s, '[]', "
                       "'[]', %s, 'publish', %s, %s, %s)",
                       (kind, title, title.lower().replace(" ", "-"), minutes, json.dumps(FORM),
                        json.dumps({"required": "any", "staff_ids": [d[0] for d in DOCTORS]}), kind,
                        now - timedelta(days=300), now - timedelta(days=30)))
    patients: dict[int, tuple[int, str, str, str]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        e164 = f"+1{rng.choice(['303', '720', '719', '970'])}{rng.randrange(202, 990)}{rng.randrange(10**4):04d}"
        user = 0 if p % 5 == 0 else 100 + p  # a guest books without a WordPress account
        patients[p] = (user, f"{first} {last}", e164, f"{first.lower()}.{last.lower()}{p}@mail.example.com")
    truth: dict[str, dict[str, Any]] = {}
    for visit in range(1, VISITS + 1):
        staff = DOCTORS[visit % len(DOCTORS)][0]
        kind, _, minutes = TYPES[visit % len(TYPES)]
        past = visit % 4 == 0
        local = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=(-1 - visit % 6) if past else 1 + visit % 25))
        start = local.replace(hour=8 + visit % 9, minute=15 * (visit % 4), second=0, microsecond=0)
        start_utc = start.astimezone(UTC).replace(tzinfo=None)
        if abs(start_utc - (now - BACK)) < timedelta(minutes=45):
            continue  # at the window's edge as the test runs: in or out depends on the second it syncs
        status = ("canceled" if visit % 7 == 0 else "abandoned" if visit % 19 == 0 else "pending_payment"
                  if visit % 13 == 0 else "pending_form" if visit % 17 == 0 else "booked")
        patient = 1 + rng.randrange(PATIENTS)
        user, name, e164, email = patients[patient]
        answers = {"Name": name, "Email": email, "Phone": typed(e164, visit)}
        if visit % 3 == 0:
            answers["Address"] = f"{100 + visit} Main St, Denver, CO"
        created = now - timedelta(days=(25 if past else 2) + visit % 9, minutes=visit)
        cursor.execute("INSERT INTO wp_ssa_appointments (id, appointment_type_id, author_id, customer_id, "
                       "customer_information, customer_timezone, customer_locale, start_date, end_date, title, "
                       "description, payment_method, mailchimp_list_id, google_calendar_id, "
                       "google_calendar_event_id, web_meeting_password, web_meeting_id, web_meeting_url, "
                       "allow_sms, status, date_created, date_modified) VALUES (%s, %s, %s, %s, %s, %s, 'en_US', "
                       "%s, %s, '', '', '', '', '', '', '', '', '', %s, %s, %s, %s)",
                       (visit, kind, user, user, json.dumps(answers), ZONE, start_utc,
                        start_utc + timedelta(minutes=minutes), "1" if visit % 2 else "", status, created, created))
        cursor.execute("INSERT INTO wp_ssa_staff_appointments (staff_id, appointment_id) VALUES (%s, %s)",
                       (staff, visit))
        cursor.execute("INSERT INTO wp_ssa_appointment_meta (appointment_id, meta_key, meta_value) VALUES "
                       "(%s, 'booking_url', 'https://clinic.example.com/book/')", (visit,))
        truth[str(visit)] = {"start": start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "status": STATUS[status],
                             "in_window": start_utc >= now - BACK,
                             "user": user, "email": email, "name": name, "phone": e164,
                             "doctor_id": str(staff)}
    for block in range(1, 61):  # the availability cache: open blocks per type and staff, no customer
        start = (now + timedelta(days=block % 30)).replace(hour=15 + block % 6, minute=0)
        cursor.execute("INSERT INTO wp_ssa_availability (start_date, end_date, capacity_available, "
                       "capacity_meta, appointment_type_id, staff_id, type, subtype, description, status, "
                       "is_all_day, cache_key, date_created, date_modified, availability_type, is_available, "
                       "availability_score) VALUES (%s, %s, 1, '{}', %s, %s, 'appointment_type', 'available', '', "
                       "'', '', %s, %s, %s, 'open', 1, 100)",
                       (start, start + timedelta(minutes=30), TYPES[block % 4][0], DOCTORS[block % 4][0], block,
                        now, now))
    return truth


def expected(truth: dict[str, dict[str, Any]], patient_id: Any) -> dict[str, real.Want]:
    """The visits the sync window holds, the patient id as ``patient_id`` reads it from a visit's truth."""
    return {k: (t["start"], t["status"], patient_id(t), t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["in_window"]}


@pytest.mark.mariadb
def test_ssa_the_customer_is_read_from_the_json_form_answers(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The patient's name, phone and email are keys of the JSON object in `customer_information`;
    the doctor the staff row the link table names; the availability cache is not visits."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "FROM wp_ssa_appointments AS a" in connector["query"] and "wp_ssa_availability" not in connector["query"]
    assert connector["json_columns"] == ["customer_information"], connector
    assert "NULLIF(a.customer_id, 0) AS customer_id" in connector["query"]  # a guest's 0 names no one
    patient = lambda t: str(t["user"]) if t["user"] else t["email"]  # noqa: E731 (a guest: their email)
    found = real.sync_and_compare(run, connector, expected(truth, patient), ZONE)
    names = {str(staff): name for staff, name, _ in DOCTORS}
    assert all((found[k].get("practitioner") or {}).get("name") == names[truth[k]["doctor_id"]] for k in found)
    guests = [k for k in found if not truth[k]["user"]]
    assert guests and all(found[k]["patient"]["id"] == truth[k]["email"] for k in guests)
    mapping = real.written_mapping(tmp_path)
    assert mapping["fields"]["patient.phone"]["from"] == "customer_information.Phone", mapping["fields"]
