"""`discover` on the real shape of Tamanu in PostgreSQL (tests/fixtures/ehr/tamanu, with its SOURCE
note), the EHR Pacific ministries of health run (Fiji, Samoa, Tonga...), a product it had never
met. What it has: every id a text uuid (`character varying(255)`), every change stamp a
`timestamptz` but every clinical date-time a wall-clock string of the country's zone in a
`char(19)` domain (`date_time_string`: '2026-05-01 09:30:00'; dates a `char(10)` `date_string`);
every row soft-deleted by `deleted_at` and stamped by `updated_at_sync_tick`. An appointment
names its patient, its clinician (a user, optional), its location group (the clinic area that
owns the calendar) or, for a booking of a room, its location, and its appointment type (a row of
the shared `reference_data` table, typed by its `type` word); its status one of 'Confirmed',
'Arrived', 'Assessed', 'Seen', 'No-show', 'Cancelled'. The patient's numbers are not on the
patient: they are in the 1:1 `patient_additional_data` (primary, secondary, and the emergency
contact's, which is someone else's); `patient_contacts` holds Telegram chat ids for reminders.
Beside the appointments, the dated tables a real install fills (encounters, triages, vaccines
given, care plans). Driven as the admin would: ``discover --write`` (which runs ``check``), then
``sync --once``, every visit compared."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE, REGION = "Pacific/Fiji", "FJ"
FIXTURE = real.FIXTURES / "tamanu" / "schema.sql"
STATUS = {"Confirmed": "booked", "Arrived": "arrived", "Assessed": "arrived", "Seen": "fulfilled",
          "No-show": "noshow", "Cancelled": "cancelled"}
DOCTORS = [("Sereana", "Tuilagi", "sereana.tuilagi@health.gov.example.fj"),
           ("Rajesh", "Prasad", "rajesh.prasad@health.gov.example.fj"),
           ("Mereseini", "Vakaloloma", "mereseini.vakaloloma@health.gov.example.fj")]
GIVEN = ["Mere", "Sakiusa", "Litia", "Jone", "Ana", "Vilimone", "Salote", "Tevita", "Asenaca", "Epeli",
         "Akanisi", "Priya", "Sunil", "Losana"]
FAMILY = ["Naivalu", "Rokotuiviwa", "Qarase", "Waqa", "Kumar", "Ratu", "Delai", "Nair", "Baleilevuka"]
PATIENTS, VISITS = 70, 150
EXTRA: list[str] = []
SYSTEM_USER = "00000000-0000-0000-0000-000000000000"


_IDS = random.Random()


def _id() -> str:
    return real.seeded_uuid(_IDS)


def _typed(e164: str, n: int) -> str:
    """A Fijian number as the desk types it: '923 4567', '9234567' or '+679 923 4567'."""
    local = e164[4:]
    return (f"{local[:3]} {local[3:]}", local, f"+679 {local[:3]} {local[3:]}")[n % 3]


def _string(when: datetime) -> str:
    """Tamanu's date_time_string: the country's wall clock, to the second."""
    return when.strftime("%Y-%m-%d %H:%M:%S")


class _Rows:
    """Inserts with Tamanu's bookkeeping columns: the stamps and a sync tick that only grows."""

    def __init__(self, connection: psycopg.Connection[Any], made: datetime) -> None:
        self.connection, self.made, self.tick = connection, made, 1000

    def add(self, table: str, row: dict[str, Any], when: datetime | None = None) -> str:
        self.tick += 1
        stamp = when or self.made
        row = {"created_at": stamp, "updated_at": stamp, "updated_at_sync_tick": self.tick, **row}
        if table != "patient_additional_data":
            row.setdefault("id", _id())
        columns = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        values = [json.dumps(v) if isinstance(v, dict) else v for v in row.values()]
        self.connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        return str(row.get("id", row.get("patient_id")))


def _reference(rows: _Rows) -> dict[str, str]:
    refs = {}
    for kind, code, name in (("appointmentType", "standard", "Standard"), ("appointmentType", "followUp", "Follow-up"),
                             ("appointmentType", "specialist", "Specialist"), ("bookingType", "standard", "Standard"),
                             ("bookingType", "procedure", "Procedure"), ("village", "natabua", "Natabua"),
                             ("village", "drasa", "Drasa"), ("contactRelationship", "mother", "Mother"),
                             ("contactRelationship", "self", "Self"), ("carePlan", "diabetes", "Diabetes"),
                             ("vaccine", "mr", "Measles-Rubella"), ("triageReason", "fever", "Fever")):
        refs[f"{kind}.{code}"] = rows.add("reference_data", {"id": f"ref-{kind}-{code}", "type": kind, "code": code,
                                                             "name": name, "visibility_status": "current"})
    return refs


def _people(rows: _Rows, rng: random.Random, refs: dict[str, str]) -> dict[str, tuple[str, str | None, bool]]:
    """Seventy patients and their additional data: their numbers, and an emergency contact's."""
    patients: dict[str, tuple[str, str | None, bool]] = {}
    for p in range(PATIENTS):
        first, last = GIVEN[p % len(GIVEN)], FAMILY[(p * 5) % len(FAMILY)]
        middle = "Vaciseva" if p % 7 == 0 else None
        gone = p in (13, 41)  # deleted by an admin: the row stays, its deleted_at set
        pid = rows.add("patients", {
            "display_id": f"LTKA{100000 + p * 37}", "first_name": first, "middle_name": middle, "last_name": last,
            "cultural_name": f"Na{last.lower()}" if p % 9 == 0 else None,
            "email": f"{first.lower()}.{last.lower()}{p}@mail.example.fj" if p % 6 == 0 else None,
            "date_of_birth": f"{1950 + p % 60}-{1 + p % 12:02d}-{1 + p % 27:02d}", "sex": ("female", "male")[p % 2],
            "village_id": refs["village.natabua" if p % 2 else "village.drasa"], "visibility_status": "current",
            "deleted_at": rows.made + timedelta(days=100) if gone else None})
        mobile = real.valid_number(rng, "+6799", 11) if p % 8 else None
        second = real.valid_number(rng, "+6793", 11) if mobile and p % 4 == 0 else None  # a landline beside it
        emergency = real.valid_number(rng, "+6797", 11) if p % 3 else ""  # a relative's: never the patient's
        rows.add("patient_additional_data", {
            "patient_id": pid, "primary_contact_number": _typed(mobile, p) if mobile else None,
            "secondary_contact_number": _typed(second, p + 1) if second else None,
            "emergency_contact_name": f"{GIVEN[(p + 3) % len(GIVEN)]} {last}" if emergency else "",
            "emergency_contact_number": _typed(emergency, p + 2) if emergency else "",
            "marital_status": ("Married", "Single", "Defacto")[p % 3], "city_town": "Lautoka",
            "street_village": f"{p + 3} Vitogo Parade", "blood_type": ("O+", "A+", "B+")[p % 3],
            "title": ("Mr", "Mrs", "Ms")[p % 3], "birth_certificate": f"BC{400000 + p}" if p % 4 else None,
            "registered_by_id": SYSTEM_USER})
        if p % 10 == 0:  # a reminder contact by Telegram: a chat id, no phone
            rows.add("patient_contacts", {"name": f"{first} {last}", "method": "Telegram", "patient_id": pid,
                                          "relationship_id": refs["contactRelationship.self"],
                                          "connection_details": {"chatId": str(5000000000 + p * 7919)}})
        patients[pid] = (f"{first} {last}", mobile, gone)  # as Tamanu shows a patient: given and family name
    return patients


def build(connection: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit every field the store must hold."""
    real.run_ddl(connection, FIXTURE)
    rng = random.Random(6579)
    _IDS.seed(6579)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    local_now = now.astimezone(clinic).replace(tzinfo=None)
    rows = _Rows(connection, now - timedelta(days=500))
    facility = rows.add("facilities", {"id": "facility-lautoka", "code": "lautoka", "name": "Lautoka Health Centre",
                                       "contact_number": "+679 666 0399", "city_town": "Lautoka",
                                       "visibility_status": "current"})
    refs = _reference(rows)
    rows.add("users", {"id": SYSTEM_USER, "email": "system@tamanu.io", "display_name": "System", "role": "system",
                       "visibility_status": "historical", "kind": "system"})
    rows.add("users", {"email": "admin@lautoka.example.fj", "display_name": "Initial Admin", "role": "admin",
                       "password": "$2b$10$x", "visibility_status": "current"})
    rows.add("users", {"email": "reception@lautoka.example.fj", "display_name": "Kalesi Reception",
                       "role": "reception", "password": "$2b$10$y", "visibility_status": "current",
                       "phone_number": "+679 666 0300"})
    doctors = []
    for first, last, email in DOCTORS:
        uid = rows.add("users", {"email": email, "display_name": f"Dr {first} {last}", "role": "practitioner",
                                 "password": "$2b$10$z", "visibility_status": "current",
                                 "display_id": f"DR{len(doctors) + 1:03d}"})
        rows.add("user_facilities", {"user_id": uid, "facility_id": facility})
        doctors.append((uid, f"Dr {first} {last}", email))
    groups = [rows.add("location_groups", {"name": name, "code": code, "facility_id": facility, "is_bookable": "all",
                                           "visibility_status": "current"})
              for name, code in (("Outpatients", "opd"), ("Maternal & Child Health", "mch"))]
    rooms = [rows.add("locations", {"name": name, "code": code, "facility_id": facility, "location_group_id": group,
                                    "visibility_status": "current", "max_occupancy": 1})
             for name, code, group in (("OPD Room 1", "opd1", groups[0]), ("OPD Room 2", "opd2", groups[0]),
                                       ("MCH Room", "mch1", groups[1]), ("Procedure Room", "proc1", groups[0]))]
    department = rows.add("departments", {"name": "Outpatients", "code": "opd", "facility_id": facility,
                                          "visibility_status": "current"})
    patients = _people(rows, rng, refs)
    ids = list(patients)
    _history(rows, rng, ids, doctors, rooms, department, refs, local_now)
    schedule = rows.add("appointment_schedules", {"id": _id(), "interval": 1, "frequency": "WEEKLY",
                                                  "days_of_week": ["TU"], "occurrence_count": 6,
                                                  "is_fully_generated": True})
    expected: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        future = n % 3 != 0
        ahead = timedelta(days=1 + n % 28) if future else -timedelta(days=2 + n % 60)
        day = (local_now + ahead).date()
        start = datetime(day.year, day.month, day.day, 8 + n % 8, 15 * (n % 4))
        end = start + timedelta(minutes=(30, 15, 45)[n % 3])
        word = (rng.choices(["Confirmed", "Cancelled", "Arrived"], [88, 10, 2])[0] if future
                else rng.choices(["Seen", "No-show", "Cancelled", "Assessed"], [70, 12, 10, 8])[0])
        pid = ids[rng.randrange(PATIENTS)]
        doctor = doctors[n % len(doctors)]
        room_booking = n % 10 == 7  # a room booked (location + booking type), not a clinic's calendar
        no_clinician = n % 10 == 4  # a clinic area's calendar with nobody named
        row: dict[str, Any] = {
            "start_time": _string(start), "end_time": _string(end), "status": word, "patient_id": pid,
            "clinician_id": None if no_clinician else doctor[0], "type_legacy": "Standard",
            "is_high_priority": n % 17 == 0,
            "deleted_at": now - timedelta(days=1) if n % 29 == 5 else None,
            "schedule_id": schedule if n in (10, 40, 70) else None}
        if room_booking:
            row.update(location_id=rooms[3], booking_type_id=refs["bookingType.procedure"])
        else:
            row.update(location_group_id=groups[n % 5 == 2],
                       appointment_type_id=refs[("appointmentType.standard", "appointmentType.followUp",
                                                 "appointmentType.specialist")[n % 3]])
        booked = now - timedelta(days=rng.randrange(1, 40), minutes=n)
        aid = rows.add("appointments", row, booked)
        name, phone, patient_gone = patients[pid]
        if not future or row["deleted_at"] or patient_gone:
            continue
        utc = start.replace(tzinfo=clinic).astimezone(UTC)
        expected[aid] = {
            "start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (end.replace(tzinfo=clinic).astimezone(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STATUS[word], "patient": pid, "name": name, "phone": phone,
            "doctor": None if no_clinician else doctor[0], "doctor_name": None if no_clinician else doctor[1],
            "doctor_email": None if no_clinician else doctor[2], "zone": ZONE,
            "location": "Procedure Room" if room_booking else ("Outpatients", "Maternal & Child Health")[n % 5 == 2],
            "type": "Procedure" if room_booking else ("Standard", "Follow-up", "Specialist")[n % 3]}
    return expected


def _history(rows: _Rows, rng: random.Random, ids: list[str], doctors: list[tuple[str, str, str]],
             rooms: list[str], department: str, refs: dict[str, str], local_now: datetime) -> None:
    """What a year of use leaves beside the appointments: clinic encounters (more rows than the
    appointments, a patient and a clinician each), their triages, vaccines given, care plans."""
    for n in range(220):
        start = local_now - timedelta(days=1 + n % 300, hours=n % 9, minutes=7 * (n % 8))
        closed = n % 11 != 0
        eid = rows.add("encounters", {
            "encounter_type": ("clinic", "triage", "emergency", "vaccination")[n % 4], "start_date": _string(start),
            "end_date": _string(start + timedelta(hours=2)) if closed else None,
            "reason_for_encounter": ("Fever", "Follow-up", "Cough", "Immunisation")[n % 4],
            "patient_id": ids[rng.randrange(len(ids))], "examiner_id": doctors[n % 3][0],
            "location_id": rooms[n % 3], "department_id": department, "device_id": f"facility-lautoka-{n % 2}"},
            datetime.now(UTC) - timedelta(days=1 + n % 300))
        if n % 4 == 1:
            rows.add("triages", {"arrival_time": _string(start - timedelta(minutes=20)), "triage_time": _string(start),
                                 "closed_time": _string(start + timedelta(hours=1)) if closed else None,
                                 "score": str(1 + n % 5), "encounter_id": eid, "practitioner_id": doctors[n % 3][0],
                                 "chief_complaint_id": refs["triageReason.fever"]})
        if n % 4 == 3:
            rows.add("administered_vaccines", {"status": "GIVEN", "date": _string(start), "encounter_id": eid,
                                               "batch": f"MR{2400 + n}", "injection_site": "left_arm",
                                               "consent": True, "recorder_id": doctors[n % 3][0],
                                               "location_id": rooms[2], "department_id": department,
                                               "given_by": doctors[n % 3][1], "vaccine_name": "Measles-Rubella"})
        if n % 9 == 0:
            rows.add("patient_care_plans", {"date": _string(start), "patient_id": ids[n % len(ids)],
                                            "examiner_id": doctors[n % 3][0],
                                            "care_plan_id": refs["carePlan.diabetes"]})


@pytest.mark.postgres
def test_tamanu_text_datetimes_additional_data_phones_and_location_groups(postgres_url: str, tmp_path: Path,
                                                                           cli: Any) -> None:
    """Every visit ahead right on every field, with the six lines of getting-started and the URL:
    the start read from the text date-time (its window compared as text, its convention told by
    its hours), the clinician of ``clinician_id`` (never the empty ``additional_clinician_id``)
    with the name and email of the user row, the patient's primary contact number from the 1:1
    additional data (never the emergency contact's), no visit of a deleted row."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = build(connection)
    settings = real.settings_file(tmp_path, ZONE, REGION)
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url])
    assert "stored_times" not in connector  # local, told by the starts' hours: nothing asked
    assert "BETWEEN" in connector["query"]  # the window on the text start: not the whole table
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["practitioner.external_id"] == {"from": "clinician_id"}, fields
    found = real.sync_and_compare(run, connector, {k: real.want(t) for k, t in truth.items()}, ZONE)
    right = real.scores(found, truth)
    print("scores", right, "of", len(truth))
    assert min(right.values()) >= 0.95 * len(truth), right  # a room booking's place and kind too
    assert "+6797" not in json.dumps(found)  # an emergency contact's number is never the patient's
