"""`discover` on the real shape of CiviCRM, the open-source CRM that clinics and health charities
use to book appointments as activities, in MariaDB (tests/fixtures/ehr/civicrm, with its SOURCE
note). An appointment is an activity of the 'Meeting' type among phone calls and emails; its
type and status are numbers whose words live in one shared option table, per option group
(`civicrm_option_value.value` within `activity_type`, `activity_status`), with no declared key.
Its people are contacts linked through `civicrm_activity_contact` by role (`record_type_id`:
1 assignee, the doctor; 2 source, who entered it; 3 target, the patient). Phones and emails are
rows of their own per contact (`is_primary`, `phone_type_id` 1 phone, 2 mobile). A trashed
activity or contact has `is_deleted` 1.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Europe/London"
REGION = "GB"
TYPES = [(1, "Meeting"), (2, "Phone Call"), (3, "Email"), (4, "Outbound SMS")]
STATUSES = [(1, "Scheduled"), (2, "Completed"), (3, "Cancelled"), (4, "Left Message"), (5, "Unreachable"),
            (6, "Not Required"), (7, "Available"), (8, "No-show")]
ROLES = [(1, "Activity Assignees"), (2, "Activity Source"), (3, "Activity Targets")]
PHONE_TYPES = [(1, "Phone"), (2, "Mobile"), (3, "Fax")]
DOCTORS = [(2, "Imogen", "Hart"), (3, "Rahul", "Mehta"), (4, "Siobhan", "Kelly")]
DESK = (5, "Tom", "Reed")
FIRST = ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Freya"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans"]
STATUS = {1: "booked", 2: "fulfilled", 3: "cancelled", 8: "noshow"}
PATIENTS, MEETINGS = 60, 140


def national(e164: str) -> str:
    """As the desk types it: 020 8123 4567, 07911 123456."""
    digits = "0" + e164[3:]
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}" if digits.startswith("02") else f"{digits[:5]} {digits[5:]}"


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    real.load_schema(cursor, "civicrm")
    rng = random.Random(6021)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    wall = now.replace(tzinfo=None)
    groups = {"activity_type": TYPES, "activity_status": STATUSES, "activity_contacts": ROLES,
              "phone_type": PHONE_TYPES}
    option = 0
    for group, (name, values) in enumerate(groups.items(), start=1):
        cursor.execute("INSERT INTO civicrm_option_group (id, name, title) VALUES (%s, %s, %s)",
                       (group, name, name.replace("_", " ").title()))
        for weight, (value, label) in enumerate(values, start=1):
            option += 1
            cursor.execute("INSERT INTO civicrm_option_value (id, option_group_id, label, value, name, weight) "
                           "VALUES (%s, %s, %s, %s, %s, %s)",
                           (option, group, label, str(value), label.replace(" ", "_").replace("-", "_"), weight))
    cursor.execute("INSERT INTO civicrm_contact (id, contact_type, display_name, organization_name, sort_name) "
                   "VALUES (1, 'Organization', 'Riverside Clinic', 'Riverside Clinic', 'Riverside Clinic')")
    for contact, first, last in [*DOCTORS, DESK]:
        cursor.execute("INSERT INTO civicrm_contact (id, contact_type, first_name, last_name, display_name, "
                       "sort_name, employer_id, job_title, created_date) VALUES (%s, 'Individual', %s, %s, %s, %s, "
                       "1, %s, %s)", (contact, first, last, f"Dr. {first} {last}" if contact != DESK[0] else
                                      f"{first} {last}", f"{last}, {first}", "Reception" if contact == DESK[0]
                                      else "GP", wall - timedelta(days=500)))
        cursor.execute("INSERT INTO civicrm_email (contact_id, location_type_id, email, is_primary) VALUES "
                       "(%s, 2, %s, 1)", (contact, f"{first.lower()}.{last.lower()}@riverside.example.org"))
    patients: dict[int, tuple[str, str, str]] = {}
    for n in range(PATIENTS):
        contact = 10 + n
        first, last = FIRST[n % len(FIRST)], LAST[(n * 3) % len(LAST)]
        cursor.execute("INSERT INTO civicrm_contact (id, contact_type, first_name, last_name, display_name, "
                       "sort_name, is_deleted, created_date) VALUES (%s, 'Individual', %s, %s, %s, %s, %s, %s)",
                       (contact, first, last, f"{first} {last}", f"{last}, {first}", 1 if n % 29 == 28 else 0,
                        wall - timedelta(days=200 + n)))
        home, mobile = real.valid_number(rng, "+44208", 13), real.valid_number(rng, "+447911", 13)
        cursor.execute("INSERT INTO civicrm_phone (contact_id, location_type_id, is_primary, phone, phone_numeric, "
                       "phone_type_id) VALUES (%s, 1, 1, %s, %s, 1)", (contact, national(home), home[1:]))
        if n % 7:
            cursor.execute("INSERT INTO civicrm_phone (contact_id, location_type_id, is_primary, phone, "
                           "phone_numeric, phone_type_id) VALUES (%s, 1, 0, %s, %s, 2)",
                           (contact, national(mobile), mobile[1:]))
        cursor.execute("INSERT INTO civicrm_email (contact_id, location_type_id, email, is_primary) VALUES "
                       "(%s, 1, %s, 1)", (contact, f"{first.lower()}{n}@mail.example.org"))
        patients[contact] = (f"{first} {last}", mobile if n % 7 else home, home)
    truth: dict[str, dict[str, Any]] = {}
    activity = 0
    for n in range(MEETINGS + 80):
        activity += 1
        meeting = n < MEETINGS
        kind = 1 if meeting else rng.choice([2, 3, 4])
        past = n % 5 == 0
        start = (now + timedelta(days=(-1 - n % 4) if past else 1 + n % 20)).replace(
            hour=9 + n % 8, minute=30 * (n % 2))
        if abs(start - (now - timedelta(days=1))) < timedelta(minutes=45):
            continue  # at the sync window's edge as the test runs: in or out by the second it syncs
        status = (2 if n % 3 else 8) if past else (3 if n % 9 == 0 else 1)
        patient = 10 + rng.randrange(PATIENTS)
        doctor = DOCTORS[n % 3][0]
        trashed = meeting and n % 31 == 30
        cursor.execute("INSERT INTO civicrm_activity (id, activity_type_id, subject, activity_date_time, duration, "
                       "location, status_id, priority_id, is_deleted, created_date, modified_date) VALUES "
                       "(%s, %s, %s, %s, %s, %s, %s, 2, %s, %s, %s)",
                       (activity, kind, "Consultation" if meeting else "Follow-up call", start.replace(tzinfo=None),
                        20 if meeting else None, "Room 2" if meeting else None, status if meeting else 2,
                        1 if trashed else 0, wall - timedelta(days=10), wall - timedelta(days=n % 9)))
        cursor.execute("INSERT INTO civicrm_activity_contact (activity_id, contact_id, record_type_id) VALUES "
                       "(%s, %s, 2)", (activity, DESK[0]))
        cursor.execute("INSERT INTO civicrm_activity_contact (activity_id, contact_id, record_type_id) VALUES "
                       "(%s, %s, 3)", (activity, patient))
        if meeting:
            cursor.execute("INSERT INTO civicrm_activity_contact (activity_id, contact_id, record_type_id) VALUES "
                           "(%s, %s, 1)", (activity, doctor))
            name, phone, primary = patients[patient]
            truth[str(activity)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "status": STATUS[status], "past": past, "trashed": trashed,
                                    "patient_deleted": (patient - 10) % 29 == 28, "patient_id": str(patient),
                                    "name": name, "phone": phone, "primary": primary,
                                    "doctor_id": str(doctor)}
    return truth


WORDS = {"1": "booked", "2": "fulfilled", "3": "cancelled", "8": "noshow"}  # activity_status's values


@pytest.mark.mariadb
def test_civicrm_activities_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Any,
                                                            cli: Any) -> None:
    """The activity table over the contacts' email table (whose two dates are empty); the patient as
    the contact of the targets' role (3), never the assignee (1: the doctor, a few persons on every
    visit) nor who entered it (2); the patient's phone and email from the contact's own rows, never
    the contact's `do_not_phone` / `do_not_email` flags; a trashed activity or contact left out.
    The codes read through the shared option table (optionlists.py): the statuses from
    'activity_status''s labels (no word typed), the doctor as the contact of the role labelled
    'Activity Assignees' (so `check` passes), emails, texts and phone calls left out by
    'activity_type''s labels. Of a contact's phone rows, the mobile's (the phone type whose numbers
    a text reaches) before the primary landline. Still asked: `--stored-times` (TIMESTAMP stamps
    only)."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    command = [str(mariadb_database["url"]), "--stored-times", "local"]  # TIMESTAMP stamps only: asked
    _, out, _ = run("discover", *command, "--write", expect=0)
    print(out)
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    query = connector["query"]
    assert "FROM civicrm_activity AS a" in query and "cs_l.record_type_id = 3" in query, query
    assert "cs_l.record_type_id = 1" in query and "cs_l.record_type_id = 2" not in query, query
    assert "a.activity_type_id NOT IN ('2', '3', '4')" in query, query  # Phone Call, Email, Outbound SMS
    assert "not guessed to be a phone visit" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.email"] == {"from": "patient_email"} and fields["patient.phone"] == {"from": "patient_phone"}
    assert fields["practitioner.external_id"] == {"from": "doctor_id"} and "practitioner.name" in fields, fields
    assert "do_not" not in yaml.safe_dump(fields), fields
    assert "civicrm_phone" in out and "civicrm_email" in out
    assert real.written_mapping(tmp_path)["status_map"] == WORDS
    edits = real.words_mapped(real.mapping_file(tmp_path), WORDS)
    assert edits == 0  # every status code read through 'activity_status' (was 4 typed)
    _, checked, _ = run("check", expect=0)
    assert ": error: " not in checked, checked
    lines = data.admin_lines(settings.read_text(encoding="utf-8").split("connectors:")[0], command, edits)
    assert lines <= 8, lines  # was 12: the 4 status codes typed by hand
    run("sync", "--once", "--json", expect=None)
    found = data.stored(run)
    now = datetime.now(UTC)
    meetings = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items() if not t["trashed"] and not t["patient_deleted"]
                and datetime.fromisoformat(t["start"]) >= now - timedelta(days=1)}
    gone = {k for k, t in truth.items() if t["trashed"] or t["patient_deleted"]}
    assert not set(found) & gone
    assert set(found) == set(meetings), sorted(set(found) ^ set(meetings))[:5]  # no call, email nor text
    wrong = {k: real.wrong_fields(found[k], want, ZONE) for k, want in meetings.items()}
    assert not any(wrong.values()), {k: w for k, w in wrong.items() if w}  # the phone too: 14 of 106 before
    right = sum(not w for w in wrong.values())
    but_phone = sum(not set(w) - {"phone"} for w in wrong.values())
    print(f"civicrm: {right} of {len(meetings)} visits right ({but_phone} but the phone), {lines} admin lines")

