"""`discover` on the real shape of Krayin CRM, an open-source Laravel CRM that small practices use to
book their clients' meetings, in MariaDB (tests/fixtures/ehr/krayin, with its SOURCE note). A visit is
an activity of type 'meeting' among calls, lunches, notes and emails (one table, a `type` word);
its times are wall times of the app's zone in DATETIME columns; the doctor is the activity's owner
(`user_id` → `users`, one `name` and an `email`); the patient is a participant row pointing at the
activity (`activity_participants`: a `person_id`, or a `user_id` for a colleague invited too); a
person keeps ONE `name` and their emails and phone numbers as JSON lists of ``{"value", "label"}``
objects. Krayin has no cancelled status: a cancelled meeting is deleted; a held one is `is_done`.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Asia/Kolkata"
REGION = "IN"
DOCTORS = [(1, "Dr. Ananya Rao", "ananya.rao@clinic.example.in"),
           (2, "Dr. Vikram Shah", "vikram.shah@clinic.example.in"),
           (3, "Dr. Meera Iyer", "meera.iyer@clinic.example.in")]
DESK = (4, "Front Desk", "desk@clinic.example.in")
FIRST = ["Aarav", "Diya", "Rohan", "Ishita", "Kabir", "Saanvi", "Arjun", "Anika", "Vivaan", "Myra"]
LAST = ["Sharma", "Patel", "Reddy", "Nair", "Gupta", "Khan", "Das", "Menon"]
PATIENTS, MEETINGS = 60, 130
BACK = timedelta(days=1)  # the SQL connector's default window


def typed(e164: str, style: int) -> str:
    """An Indian mobile as the desk types it in Krayin's phone field."""
    national = e164[3:]
    return [f"+91 {national[:5]} {national[5:]}", f"0{national}", national, f"+91-{national}",
            f"{national[:5]} {national[5:]}"][style % 5]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """Krayin's rows as its forms write them; what the store must then hold per meeting."""
    real.load_schema(cursor, "krayin")
    rng = random.Random(6517)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    wall = now.replace(tzinfo=None)
    cursor.execute("INSERT INTO roles (id, name, description, permission_type, permissions, created_at) VALUES "
                   "(1, 'Administrator', 'Administrator role', 'all', NULL, %s)", (wall - timedelta(days=400),))
    for user, name, email in [*DOCTORS, DESK]:
        cursor.execute("INSERT INTO users (id, name, email, password, status, role_id, created_at, updated_at) "
                       "VALUES (%s, %s, %s, 'x', 1, 1, %s, %s)", (user, name, email, wall - timedelta(days=400),
                                                                   wall - timedelta(days=30)))
    cursor.execute("INSERT INTO organizations (id, name, address, created_at) VALUES (1, 'Tata Consultancy', "
                   "%s, %s)", (json.dumps({"address": "Nariman Point", "city": "Mumbai", "country": "IN"}),
                               wall - timedelta(days=300)))
    patients: dict[int, tuple[str, str]] = {}
    for n in range(1, PATIENTS + 1):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 3) % len(LAST)]
        mobile = real.valid_number(rng, "+919", 13)
        numbers = [{"value": typed(mobile, n), "label": "work" if n % 3 else "home"}]
        if n % 4 == 0:
            numbers.append({"value": typed(real.valid_number(rng, "+9122", 13), 0), "label": "work"})
        emails = [{"value": f"{first.lower()}.{last.lower()}{n}@mail.example.in", "label": "work"}]
        cursor.execute("INSERT INTO persons (id, name, emails, contact_numbers, organization_id, job_title, user_id, "
                       "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, %s)",
                       (n, f"{first} {last}", json.dumps(emails), json.dumps(numbers), 1 if n % 10 == 0 else None,
                        DOCTORS[n % 3][0], wall - timedelta(days=200 + n), wall - timedelta(days=n % 40)))
        patients[n] = (f"{first} {last}", mobile)
    truth: dict[str, dict[str, Any]] = {}
    others: dict[str, str] = {}  # the other activities: their kind
    activity = 0
    for n in range(MEETINGS + 90):
        meeting = n < MEETINGS
        kind = "meeting" if meeting else ["call", "lunch", "note", "email"][n % 4]
        past = n % 5 == 0
        start = (now + timedelta(days=(-1 - n % 3) if past else 1 + n % 21)).replace(hour=9 + n % 9,
                                                                                   minute=15 * (n % 4))
        if abs(start - (now - BACK)) < timedelta(minutes=45):
            continue  # at the sync window's edge as the test runs: in or out by the second it syncs
        activity += 1
        scheduled = kind in ("meeting", "call", "lunch")
        doctor = DOCTORS[n % 3][0]
        patient = 1 + rng.randrange(PATIENTS)
        cursor.execute("INSERT INTO activities (id, title, type, comment, additional, schedule_from, schedule_to, "
                       "is_done, user_id, location, created_at, updated_at) VALUES (%s, %s, %s, %s, NULL, %s, %s, "
                       "%s, %s, %s, %s, %s)",
                       (activity, "Consultation" if meeting else f"{kind.title()} with client", kind,
                        "Bring reports" if n % 6 == 0 else None,
                        start.replace(tzinfo=None) if scheduled else None,
                        (start + timedelta(minutes=30)).replace(tzinfo=None) if scheduled else None,
                        1 if past and n % 2 == 0 else 0, doctor, "Clinic room 1" if meeting else None,
                        wall - timedelta(days=20), wall - timedelta(days=n % 15)))
        cursor.execute("INSERT INTO activity_participants (activity_id, user_id, person_id) VALUES (%s, NULL, %s)",
                       (activity, patient))
        cursor.execute("INSERT INTO person_activities (activity_id, person_id) VALUES (%s, %s)", (activity, patient))
        if n % 11 == 0:  # a colleague invited too: a user participant, no person
            cursor.execute("INSERT INTO activity_participants (activity_id, user_id, person_id) VALUES "
                           "(%s, %s, NULL)", (activity, DESK[0]))
        if not meeting:
            others[str(activity)] = kind
        if meeting:
            name, phone = patients[patient]
            truth[str(activity)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "past": past,
                                    "status": "booked", "patient_id": str(patient), "name": name, "phone": phone,
                                    "doctor_id": str(doctor), "done": past and n % 2 == 0}
    truth["others"] = others
    return truth


@pytest.mark.mariadb
def test_krayin_meetings_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Any,
                                                         cli: Any) -> None:
    """Each meeting at its wall time in the clinic's zone; the owner user as the doctor; the
    participant person as the patient (the first participant row that names a person: a colleague's
    row names none), with their name and the first number of their JSON list of contact numbers.
    The calls and lunches of the same table (timed, with a participant) are left out by their kind's
    words."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    others = truth.pop("others")
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert connector["json_columns"] == ["patient_emails", "patient_contact_numbers"], connector
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.phone"] == {"from": ["patient_contact_numbers[0].value",
                                                "patient_contact_numbers[1].value"]}, fields
    run("sync", "--once", "--json")
    found = data.stored(run)
    now = datetime.now(UTC)
    expected = {k: (t["start"], "fulfilled" if t["done"] else t["status"], t["patient_id"], t["name"], t["phone"],
                    t["doctor_id"])
                for k, t in truth.items() if datetime.fromisoformat(t["start"]) >= now - BACK}
    wrong = {k: w for k, want in expected.items() if (w := real.wrong_fields(found.get(k), want, ZONE))}
    assert wrong == {}, list(wrong.items())[:5]
    assert set(found) == set(expected), sorted({others.get(k, "meeting") for k in set(found) ^ set(expected)})
    assert "a.type NOT IN ('call', 'email', 'lunch', 'note')" in connector["query"], connector["query"]
