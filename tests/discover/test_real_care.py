"""`discover` on the real shape of CARE by Open Healthcare Network in PostgreSQL
(tests/fixtures/ehr/care, with its SOURCE note), a Django product it had never met: the booking
names a token slot, the slot a schedulable resource, the resource the user who is the doctor
(two hops past the booking, while the clerks who booked and created the rows are users too);
several bookings may share one slot (same start, same doctor); a reschedule keeps the old row
as 'rescheduled' beside a new booking of the same patient, no column linking them; every row has Django's
`deleted` flag; times are `timestamptz`; the patient's `phone_number` is '' when unknown while
`emergency_phone_number` is someone else's. Driven as the admin would: ``discover --write``
(which runs ``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE = "Asia/Kolkata"
FIXTURE = real.FIXTURES / "care" / "schema.sql"
DOCTORS = [("Anjali", "Menon", "anjali.menon@care.example.in"), ("Rahul", "Nair", "rahul.nair@care.example.in"),
           ("Fathima", "Rasheed", ""), ("Suresh", "Pillai", "suresh.pillai@care.example.in")]
CLERKS = [("frontdesk1", "Lakshmi", "Das"), ("frontdesk2", "Joseph", "Thomas")]
GIVEN = ["Anitha", "Binu", "Deepa", "Gokul", "Haritha", "Jithin", "Kavya", "Manoj", "Nisha", "Pradeep", "Reshma"]
FAMILY = ["Krishnan", "Varghese", "Kurian", "Menon", "Nambiar", "Joseph", "Mathew", "Unnikrishnan"]
STATUS = {"booked": "booked", "cancelled": "cancelled", "entered_in_error": "entered-in-error",
          "pending": "pending", "checked_in": "checked-in", "in_consultation": "arrived", "arrived": "arrived",
          "noshow": "noshow", "fulfilled": "fulfilled"}
WEIGHTS = [62, 10, 3, 6, 6, 3, 3, 3, 4]
PATIENTS, BOOKINGS = 60, 140
BASE = ("external_id, created_date, modified_date, deleted, history, meta, created_by_id, updated_by_id",
        "%s, %s, %s, %s, '{}', '{}', %s, %s")


def _base(when: datetime, clerk: int, deleted: bool = False) -> tuple[Any, ...]:
    return (uuid.uuid4(), when, when, deleted, clerk, clerk)


def build(connection: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit every field the store must hold."""
    ddl = "\n".join(line for line in FIXTURE.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    for statement in ddl.split(";"):
        if statement.strip():
            connection.execute(statement)
    rng = random.Random(6501)
    now = datetime.now(UTC).replace(microsecond=0)
    base = now - timedelta(days=90)
    users = [("admin", "Care", "Admin", "admin@care.example.in", 40, True)]
    users += [(login, first, last, f"{login}@care.example.in", 10, False) for login, first, last in CLERKS]
    users += [(f"dr{n}", first, last, email, 15, False) for n, (first, last, email) in enumerate(DOCTORS, 1)]
    for login, first, last, email, kind, superuser in users:
        connection.execute(
            "INSERT INTO users_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined, external_id, user_type, phone_number, gender, verified, deleted) "
            "VALUES ('!', %s, %s, %s, %s, %s, %s, true, %s, %s, %s, %s, 1, true, false)",
            (superuser, login, first, last, email, superuser, base, uuid.uuid4(), kind,
             f"+9194470{rng.randrange(10**5):05d}"))
    clerks, doctors = [2, 3], [4, 5, 6, 7]
    connection.execute("INSERT INTO facility_facility (external_id, created_date, modified_date, deleted, name, "
                       "is_active, verified, facility_type, pincode, address, phone_number, created_by_id) "
                       "VALUES (%s, %s, %s, false, 'Taluk Hospital Aluva', true, true, 3, 683101, "
                       "'Aluva, Ernakulam', '+914842624040', 1)", (uuid.uuid4(), base, base))
    lengths = {4: (10, 1), 5: (15, 3), 6: (20, 1), 7: (15, 2)}  # slot minutes, tokens per slot
    for user in doctors:
        connection.execute(f"INSERT INTO emr_schedulableresource ({BASE[0]}, resource_type, facility_id, user_id) "
                           f"VALUES ({BASE[1]}, 'practitioner', 1, %s)", (*_base(base, 1), user))
        connection.execute(f"INSERT INTO emr_schedule ({BASE[0]}, name, valid_from, valid_to, resource_id) "
                           f"VALUES ({BASE[1]}, 'OP', %s, %s, %s)",
                           (*_base(base, 1), base, now + timedelta(days=180), user - 3))
        connection.execute(f"INSERT INTO emr_availability ({BASE[0]}, name, slot_type, slot_size_in_minutes, "
                           f"tokens_per_slot, create_tokens, availability, schedule_id) "
                           f"VALUES ({BASE[1]}, 'Morning OP', 'appointment', %s, %s, false, '[]', %s)",
                           (*_base(base, 1), *lengths[user], user - 3))
    patients: dict[int, tuple[str, str | None, bool]] = {}
    for p in range(1, PATIENTS + 1):
        name = f"{GIVEN[p % len(GIVEN)]} {FAMILY[p % len(FAMILY)]}"
        phone = "" if p % 6 == 0 else f"+9198470{p:05d}"  # '' is Django's "not given"
        emergency = f"+9194460{p:05d}" if p % 3 == 0 else ""  # a relative's: never the patient's
        deleted = p % 29 == 0
        connection.execute(
            f"INSERT INTO emr_patient ({BASE[0]}, name, gender, phone_number, emergency_phone_number, address, "
            f"permanent_address, pincode, year_of_birth, marital_status, blood_group, organization_cache, "
            f"users_cache) VALUES ({BASE[1]}, %s, %s, %s, %s, 'Aluva', '', 683101, %s, '', 'O+', '{{}}', '{{}}')",
            (*_base(base + timedelta(hours=p), clerks[p % 2], deleted), name, "mf"[p % 2], phone, emergency,
             1950 + p % 60))
        patients[p] = (name, phone or None, deleted)
    expected: dict[str, dict[str, Any]] = {}
    slot_of: dict[tuple[int, datetime], tuple[int, int]] = {}  # (doctor, start) -> slot id, tokens taken
    for b in range(1, BOOKINGS + 1):
        user = doctors[b % len(doctors)]
        minutes, tokens = lengths[user]
        day = (now.astimezone(ZoneInfo(ZONE)) + timedelta(days=1 + b % 21)).date()
        local = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo(ZONE)) + timedelta(
            minutes=minutes * ((b // 4) % 12))
        start = local.astimezone(UTC)
        slot, taken = slot_of.get((user, start), (0, 0))
        if not slot or taken >= tokens:
            row = connection.execute(
                f"INSERT INTO emr_tokenslot ({BASE[0]}, start_datetime, end_datetime, allocated, resource_id, "
                f"availability_id) VALUES ({BASE[1]}, %s, %s, 0, %s, %s) RETURNING id",
                (*_base(base, 1), start, start + timedelta(minutes=minutes), user - 3, user - 3)).fetchone()
            assert row is not None
            slot, taken = row[0], 0
        slot_of[(user, start)] = (slot, taken + 1)
        connection.execute("UPDATE emr_tokenslot SET allocated = allocated + 1 WHERE id = %s", (slot,))
        p = 1 + rng.randrange(PATIENTS)
        word = rng.choices(list(STATUS), WEIGHTS)[0]
        booked = now - timedelta(days=rng.randrange(1, 30), minutes=b)
        gone = b % 23 == 0  # deleted through the API: the row stays with deleted = true
        row = connection.execute(
            f"INSERT INTO emr_tokenbooking ({BASE[0]}, booked_on, status, note, token_slot_id, patient_id, "
            f"booked_by_id) VALUES ({BASE[1]}, %s, %s, %s, %s, %s, %s) RETURNING id",
            (uuid.uuid4(), booked, booked + timedelta(minutes=5 * (b % 3)), gone, clerks[b % 2], clerks[b % 2],
             booked, word, "fever, cough" if b % 4 == 0 else None, slot, p, clerks[b % 2])).fetchone()
        assert row is not None
        name, phone, patient_gone = patients[p]
        if gone or patient_gone:
            continue
        first, last, email = DOCTORS[user - 4]
        expected[str(row[0])] = {
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
            "status": STATUS[word], "patient": str(p), "name": name, "phone": phone, "email": None,
            "doctor": str(user), "doctor_name": f"{first} {last}", "doctor_email": email or None, "zone": ZONE}
    _room(connection, expected, patients, now, base)
    _reschedule(connection, expected, now - timedelta(hours=5))
    return expected


def _room(connection: psycopg.Connection[Any], expected: dict[str, dict[str, Any]],
          patients: dict[int, tuple[str, str | None, bool]], now: datetime, base: datetime) -> None:
    """An immunisation room booked as a location resource (its user empty): its visits are the
    room's calendar, under a key that never meets a user's."""
    connection.execute(f"INSERT INTO emr_facilitylocation ({BASE[0]}, status, operational_status, name, description, "
                       f"mode, form, facility_id) VALUES ({BASE[1]}, 'active', 'O', 'Immunisation room', '', "
                       f"'instance', 'ro', 1)", _base(base, 1))
    resource = connection.execute(
        f"INSERT INTO emr_schedulableresource ({BASE[0]}, resource_type, facility_id, location_id) "
        f"VALUES ({BASE[1]}, 'location', 1, 1) RETURNING id", _base(base, 1)).fetchone()
    assert resource is not None
    for n in range(14):
        day = (now.astimezone(ZoneInfo(ZONE)) + timedelta(days=2 + n % 10)).date()
        start = datetime(day.year, day.month, day.day, 14, 10 * (n % 5), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        slot = connection.execute(
            f"INSERT INTO emr_tokenslot ({BASE[0]}, start_datetime, end_datetime, allocated, resource_id) "
            f"VALUES ({BASE[1]}, %s, %s, 1, %s) RETURNING id",
            (*_base(base, 1), start, start + timedelta(minutes=10), resource[0])).fetchone()
        assert slot is not None
        p = 1 + (7 * n) % PATIENTS
        booked = now - timedelta(days=3, minutes=n)
        row = connection.execute(
            f"INSERT INTO emr_tokenbooking ({BASE[0]}, booked_on, status, token_slot_id, patient_id, booked_by_id) "
            f"VALUES ({BASE[1]}, %s, 'booked', %s, %s, 2) RETURNING id",
            (*_base(booked, 2), booked, slot[0], p)).fetchone()
        name, phone, gone = patients[p]
        if row is not None and not gone:
            expected[str(row[0])] = {
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(minutes=10)).isoformat().replace("+00:00", "Z"), "status": "booked",
                "patient": str(p), "name": name, "phone": phone, "email": None, "doctor": "emr_facilitylocation-1",
                "doctor_name": "Immunisation room", "doctor_email": None, "zone": ZONE}


def _reschedule(connection: psycopg.Connection[Any], expected: dict[str, dict[str, Any]], when: datetime) -> None:
    """Six visits moved as CARE's reschedule endpoint writes it: the old booking's status set to
    'rescheduled' and a new booking for the same patient on a slot two days later, in one
    transaction (stamps milliseconds apart), no column naming the old row. The store keeps the
    pair as one visit under the first row's id, at the new time."""
    rows = connection.execute(
        "SELECT b.id, b.patient_id, s.resource_id, s.start_datetime, s.end_datetime FROM emr_tokenbooking b "
        "JOIN emr_tokenslot s ON s.id = b.token_slot_id WHERE b.status = 'booked' AND b.id::text = ANY(%s) "
        "ORDER BY b.id LIMIT 6", (list(expected),)).fetchall()
    for n, (old, patient, resource, start, end) in enumerate(rows):
        at, later = when + timedelta(minutes=7 * n), start + timedelta(days=2)
        slot = connection.execute(
            f"INSERT INTO emr_tokenslot ({BASE[0]}, start_datetime, end_datetime, allocated, resource_id, "
            f"availability_id) VALUES ({BASE[1]}, %s, %s, 1, %s, %s) RETURNING id",
            (*_base(at, 2), later, later + (end - start), resource, resource)).fetchone()
        assert slot is not None
        connection.execute("UPDATE emr_tokenbooking SET status = 'rescheduled', modified_date = %s, updated_by_id = 2 "
                           "WHERE id = %s", (at, old))
        connection.execute(
            f"INSERT INTO emr_tokenbooking ({BASE[0]}, booked_on, status, note, token_slot_id, patient_id, "
            f"booked_by_id) VALUES ({BASE[1]}, %s, 'booked', NULL, %s, %s, 2)",
            (*_base(at + timedelta(milliseconds=40), 2), at + timedelta(milliseconds=40), slot[0], patient))
        expected[str(old)].update(start=later.isoformat().replace("+00:00", "Z"),
                                  end=(later + (end - start)).isoformat().replace("+00:00", "Z"))


def want(truth: dict[str, Any]) -> real.Want:
    """The fields every real-product test compares."""
    return (truth["start"], truth["status"], truth["patient"], truth["name"], truth["phone"], truth["doctor"])


@pytest.mark.postgres
def test_care_slot_resource_user_and_soft_deletes(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = build(connection)
    settings = real.settings_file(tmp_path, ZONE, "IN")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url])
    assert "stored_times" not in connector  # timestamptz: the zone is in the value, nothing to ask
    assert "password" not in connector["query"]  # the doctor's login row is read for the name, never its secrets
    assert connector["mode"] == "snapshot"  # users_user (the doctor's email) stamps no change: re-read the window
    mapping = real.written_mapping(tmp_path)
    assert mapping["fields"]["replaces"] == {"from": "replaces_id"}  # a move: one visit, its new row no other
    found = real.sync_and_compare(run, connector, {k: want(t) for k, t in truth.items()}, ZONE)
    doctors = {k: (v["practitioner"].get("name"), v["practitioner"].get("email")) for k, v in found.items()}
    assert sum(doctors[k] == (t["doctor_name"], t["doctor_email"]) for k, t in truth.items()) >= 0.95 * len(truth)
    assert sum(found[k]["end"] == t["end"] for k, t in truth.items()) >= 0.95 * len(truth)
    assert "+919446" not in json.dumps(found)  # an emergency contact's number is never the patient's
    # after go-live the desk moves one more visit (stamped now): one moved visit, nothing cancelled or new
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        moved: dict[str, dict[str, Any]] = {k: dict(t) for k, t in truth.items() if t["status"] == "booked"}
        _reschedule(connection, moved, datetime.now(UTC))
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert (report["rescheduled"], report["cancelled"], report["created"]) == (6, 0, 0), report
