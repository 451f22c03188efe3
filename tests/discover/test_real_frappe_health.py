"""`discover` on the real shape of Frappe Health (ERPNext Healthcare, "Marley Health") in MariaDB,
read by its shape as a product the catalogue does not know (tests/fixtures/ehr/frappe_health,
with its SOURCE note): what a site of a Frappe app no preset names looks like. Table names
with spaces (`tabPatient Appointment`), text keys (`HLC-APP-2026-00001`), Link fields kept as
text without foreign keys, the day (`appointment_date`) apart from the time, a length in
minutes, status words ('Scheduled', 'Checked Out', 'No Show' ...), the site's zone in
`tabSingles`; beside the appointments, a year of Patient Encounters (a day, a time, the patient,
the practitioner and the appointment it came from), all in the past, Frappe's own calendar
(`tabEvent`, an event per appointment of the practitioners whose calendars sync, staff meetings,
participants as Dynamic Links in `tabEvent Participants`) and the Fee Validity of each paid
consultation (the patient, the practitioner, days ahead). Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, with the catalogue blind
(its recognition returns nothing), as on a product it has never seen."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Asia/Kolkata"
REGION = "IN"
FIXTURE = Path(__file__).parents[1] / "fixtures"
STATUS = {"Scheduled": "booked", "Open": "booked", "Checked In": "checked-in", "Checked Out": "fulfilled",
          "Closed": "fulfilled", "Cancelled": "cancelled", "No Show": "noshow"}
WEIGHTS = [50, 10, 5, 5, 5, 15, 10]
PRACTITIONERS = [("HLC-PRAC-2026-00001", "Asha", "Rao", "asha.rao@hospital.example"),
                 ("HLC-PRAC-2026-00002", "Vikram", "Iyer", "vikram.iyer@hospital.example"),
                 ("HLC-PRAC-2026-00003", "Meera", "Nair", None),
                 ("HLC-PRAC-2026-00004", "Joseph", "Mathew", "j.mathew@hospital.example")]
FIRST = ["Anil", "Priya", "Suresh", "Lakshmi", "Rahul", "Divya", "Karthik", "Fatima", "Arjun", "Neha"]
LAST = ["Sharma", "Reddy", "Menon", "Khan", "Pillai", "Gupta", "Das"]
PATIENTS, VISITS, PAST = 90, 180, 150


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The product's rows; what the store must then hold per visit (every field the judge reads)."""
    real.run_ddl(cursor, FIXTURE / "catalogue" / "erpnext" / "schema.sql")
    real.run_ddl(cursor, FIXTURE / "ehr" / "frappe_health" / "encounter.sql")
    real.run_ddl(cursor, FIXTURE / "ehr" / "frappe_health" / "calendar.sql")
    rng = random.Random(5907)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)  # Frappe writes the site's wall clock
    cursor.execute("INSERT INTO `tabSingles` (doctype, field, value) VALUES ('System Settings', 'time_zone', %s), "
                   "('System Settings', 'country', 'India')", (ZONE,))
    for name, first, last, email in PRACTITIONERS:
        cursor.execute("INSERT INTO `tabHealthcare Practitioner` (name, creation, modified, modified_by, owner, "
                       "naming_series, practitioner_name, first_name, last_name, gender, status, practitioner_type, "
                       "user_id, department, mobile_phone, email_id) VALUES (%s, %s, %s, 'Administrator', "
                       "'Administrator', 'HLC-PRAC-.YYYY.-', %s, %s, %s, 'Female', 'Active', 'Internal', %s, "
                       "'General Medicine', %s, %s)",
                       (name, now - timedelta(days=700), now - timedelta(days=30), f"{first} {last}", first, last,
                        email, real.valid_number(rng, "+9198", 13), email))
    patients: dict[str, tuple[str, str | None, str | None]] = {}
    for n in range(PATIENTS):
        key = f"HLC-PAT-2026-{1 + n:05d}"
        first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
        mobile = None if n % 7 == 0 else real.valid_number(rng, "+9198", 13)
        landline = real.valid_number(rng, "+9180", 13) if n % 3 == 0 or mobile is None else None
        email = f"{first.lower()}.{last.lower()}{n}@mail.example.in" if n % 3 else None
        cursor.execute("INSERT INTO `tabPatient` (name, creation, modified, modified_by, owner, naming_series, "
                       "first_name, last_name, patient_name, sex, dob, status, mobile, phone, email, language, "
                       "invite_user) VALUES (%s, %s, %s, 'Administrator', 'Administrator', 'HLC-PAT-.YYYY.-', %s, %s, "
                       "%s, %s, %s, 'Active', %s, %s, %s, 'en', 0)",
                       (key, now - timedelta(days=400 + n), now - timedelta(days=n % 40, hours=n % 9), first, last,
                        f"{first} {last}", "Female" if n % 2 else "Male",
                        datetime(1950 + n % 50, 1 + n % 12, 1 + n % 28).date(),
                        mobile and f"{mobile[:3]}-{mobile[3:]}",  # Frappe's phone field: +CC-number
                        landline and f"0{landline[3:5]} {landline[5:]}", email))
        patients[key] = (f"{first} {last}", mobile or landline, email)
    keys = list(patients)

    def appointment(n: int, local: datetime, word: str, practitioner: tuple[str, str, str, str | None] | None,
                    minutes: int) -> str:
        name, patient = f"HLC-APP-2026-{n:05d}", keys[rng.randrange(PATIENTS)]
        saved = min(now - timedelta(minutes=5), local - timedelta(days=3 + n % 20))
        cursor.execute("INSERT INTO `tabPatient Appointment` (name, creation, modified, modified_by, owner, docstatus, "
                       "naming_series, title, status, appointment_type, appointment_for, company, practitioner, "
                       "practitioner_name, department, patient, patient_name, patient_sex, duration, "
                       "appointment_date, appointment_time, appointment_datetime, notes) VALUES (%s, %s, %s, "
                       "'Administrator', 'Administrator', 0, 'HLC-APP-.YYYY.-', %s, %s, 'Consultation', %s, "
                       "'City Hospital', %s, %s, 'General Medicine', %s, %s, 'Female', %s, %s, %s, %s, %s)",
                       (name, saved, saved, f"{patients[patient][0]} with {practitioner[1] if practitioner else 'OPD'}",
                        word, "Practitioner" if practitioner else "Department", practitioner and practitioner[0],
                        practitioner and f"{practitioner[1]} {practitioner[2]}", patient, patients[patient][0],
                        minutes, local.date(), local.time(), local, "" if n % 5 else "fasting"))
        return patient

    truth: dict[str, dict[str, Any]] = {}
    for n, local in enumerate(data.future_slots(ZONE, VISITS, seed=5907), 1):
        word = rng.choices(list(STATUS), WEIGHTS)[0]
        practitioner = None if n % 12 == 0 else PRACTITIONERS[n % len(PRACTITIONERS)]  # a department's booking
        minutes = (15, 20, 30, 45)[n % 4]
        patient = appointment(n, local, word, practitioner, minutes)
        name, phone, email = patients[patient]
        utc = local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC"))
        truth[f"HLC-APP-2026-{n:05d}"] = {
            "start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (utc + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STATUS[word], "patient_id": patient, "name": name, "phone": phone, "email": email,
            "doctor_id": practitioner and practitioner[0],
            "doctor_name": practitioner and f"{practitioner[1]} {practitioner[2]}",
            "doctor_email": practitioner and practitioner[3], "zone": ZONE}
    events = 0

    def event(local: datetime, minutes: int, subject: str, status: str, people: list[tuple[str, str]]) -> str:
        """Frappe's calendar event (a practitioner's Google-synced calendar, a staff meeting),
        its participants as Dynamic Links (doctype, name)."""
        nonlocal events
        events += 1
        key = f"EV{events:05d}"
        cursor.execute("INSERT INTO `tabEvent` (name, creation, modified, modified_by, owner, subject, event_category, "
                       "event_type, send_reminder, starts_on, ends_on, status, sync_with_google_calendar, "
                       "description) VALUES (%s, %s, %s, 'Administrator', 'Administrator', %s, 'Event', 'Public', 0, "
                       "%s, %s, %s, 1, '')", (key, now - timedelta(days=3), now - timedelta(days=2), subject, local,
                                             local + timedelta(minutes=minutes), status))
        for at, (doctype, name) in enumerate(people, 1):
            cursor.execute("INSERT INTO `tabEvent Participants` (name, creation, modified, idx, reference_doctype, "
                           "reference_docname, parent, parentfield, parenttype) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                           "'event_participants', 'Event')", (f"{key}-{at}", now, now, at, doctype, name, key))
        return key

    for key, t in truth.items():  # the practitioners whose calendars sync: an event per appointment
        if t["doctor_id"] in (PRACTITIONERS[0][0], PRACTITIONERS[1][0]):
            local = datetime.strptime(t["start"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=ZoneInfo("UTC")).astimezone(
                ZoneInfo(ZONE)).replace(tzinfo=None)
            minutes = int((datetime.fromisoformat(t["end"][:-1]) - datetime.fromisoformat(t["start"][:-1])).seconds
                          // 60)
            made = event(local, minutes, f"Patient Appointment with {t['name']}",
                         "Cancelled" if t["status"] == "cancelled" else "Open",
                         [("Patient", t["patient_id"]), ("Healthcare Practitioner", t["doctor_id"])])
            cursor.execute("UPDATE `tabPatient Appointment` SET event = %s WHERE name = %s", (made, key))
    for n in range(30):  # staff meetings: no patient
        day = now.date() + timedelta(days=1 + n)
        event(datetime(day.year, day.month, day.day, 13, 0), 60, "Department meeting", "Open",
              [("Healthcare Practitioner", PRACTITIONERS[n % len(PRACTITIONERS)][0])])
    for n in range(PAST):  # last year's visits, each with its encounter: out of the window, no reminder
        day = now.date() - timedelta(days=20 + 2 * n)
        local = datetime(day.year, day.month, day.day, 9 + n % 8, 15 * (n % 4))
        practitioner = PRACTITIONERS[n % len(PRACTITIONERS)]
        number = VISITS + 1 + n
        patient = appointment(number, local, "Closed", practitioner, 15)
        cursor.execute("INSERT INTO `tabPatient Encounter` (name, creation, modified, modified_by, owner, docstatus, "
                       "naming_series, title, appointment, appointment_type, patient, patient_name, company, status, "
                       "encounter_date, encounter_time, practitioner, practitioner_name, medical_department, source, "
                       "invoiced) VALUES (%s, %s, %s, 'Administrator', 'Administrator', 1, 'HLC-ENC-.YYYY.-', %s, %s, "
                       "'Consultation', %s, %s, 'City Hospital', 'Completed', %s, %s, %s, %s, 'General Medicine', "
                       "'Direct', 1)",
                       (f"HLC-ENC-2026-{1 + n:05d}", local + timedelta(minutes=20), local + timedelta(hours=2),
                        patients[patient][0], f"HLC-APP-2026-{number:05d}", patient, patients[patient][0],
                        local.date(), (local + timedelta(minutes=10)).time(), practitioner[0],
                        f"{practitioner[1]} {practitioner[2]}"))
        cursor.execute("INSERT INTO `tabFee Validity` (name, creation, modified, practitioner, patient, "
                       "medical_department, status, patient_appointment, max_visits, visited, start_date, valid_till) "
                       "VALUES (%s, %s, %s, %s, %s, 'General Medicine', %s, %s, 2, 1, %s, %s)",
                       (f"HLC-FEV-2026-{1 + n:05d}", local, local, practitioner[0], patient,
                        "Active" if n < 30 else "Expired", f"HLC-APP-2026-{number:05d}", local.date(),
                        local.date() + timedelta(days=90)))  # a paid consultation's free follow-ups: ahead too
    return truth


@pytest.fixture
def blind(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue recognizes nothing: the product is read by its shape, as an unknown one."""
    monkeypatch.setattr("clinicsync.sync.discover.sql.recognize", lambda columns: None)


@pytest.mark.mariadb
def test_frappe_health_by_its_shape_text_links_spaced_names_and_past_encounters(
        mariadb_database: dict[str, Any], tmp_path: Path, cli: Any, blind: None) -> None:
    truth = real.built(mariadb_database, build)
    settings = real.settings_file(tmp_path, ZONE, REGION)
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "FROM `tabPatient Appointment` AS a" in connector["query"]  # not the encounters of the past
    assert "query_preset" not in connector
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items()}
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert [k for k, t in truth.items() if found[k]["end"] != t["end"]] == []
    assert [k for k, t in truth.items() if found[k]["patient"].get("email") != t["email"]] == []
    assert [k for k, t in truth.items() if t["doctor_id"] and (found[k]["practitioner"].get("name"),
                                                              found[k]["practitioner"].get("email"))
            != (t["doctor_name"], t["doctor_email"])] == []
