"""`discover` on the real shape of Simple (tests/fixtures/ehr/simple, with its SOURCE note), the
follow-up system of public-health hypertension programmes: a Rails app on PostgreSQL keyed by
UUIDs. A patient's follow-up is an ``appointments`` row at a facility on a day
(``scheduled_date``: a date, no time of day), ``scheduled``, ``cancelled`` or ``visited``; its
``patient_id`` (a ``uuid``) declares no foreign key; the patient's numbers are
``patient_phone_numbers`` rows typed ``mobile``/``landline``; ``user_id`` is the health worker
who scheduled it.

What discover must do: follow the UUID to the patient and the mobile row (a ``uuid`` column
compared with '' stopped it: PostgreSQL refuses the comparison), read ``visited`` as fulfilled,
the facility's name as the visit's place, and leave out soft-deleted visits and patients. And
say what it cannot do: a day with no time of day is no start a reminder can be planned from, so
the start is left out with its reason, and `check` fails: every visit would be quarantined."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE = "Asia/Kolkata"
FIXTURE = real.FIXTURES / "simple" / "schema.sql"
FACILITIES = ("PHC Bathinda", "CHC Kotkapura", "PHC Faridkot")


def build(connection: psycopg.Connection[Any]) -> int:
    """Three facilities, three health workers, 80 patients (most with a mobile row), 150
    follow-ups (most ahead, scheduled; some cancelled; past ones visited); how many are ahead."""
    real.run_ddl(connection, FIXTURE)
    ex = connection.execute
    rng = random.Random(5)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    facilities = [uuid.UUID(int=rng.getrandbits(128)) for _ in FACILITIES]
    for facility, name in zip(facilities, FACILITIES, strict=True):
        ex("INSERT INTO facilities (id, name, district, state, country, facility_type, created_at, updated_at, "
           "facility_size, short_name) VALUES (%s, %s, 'Bathinda', 'Punjab', 'India', 'PHC', %s, %s, 'small', %s)",
           (facility, name, now, now, name[:10]))
    workers = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)]
    for worker, name in zip(workers, ("Harpreet Kaur", "Gurpreet Singh", "Simran Gill"), strict=True):
        ex("INSERT INTO users (id, full_name, sync_approval_status, device_updated_at, device_created_at, created_at, "
           "updated_at, role, access_level) VALUES (%s, %s, 'allowed', %s, %s, %s, %s, 'nurse', 'manager')",
           (worker, name, now, now, now, now))
    patients = []
    for p in range(80):
        patient = uuid.UUID(int=rng.getrandbits(128))
        ex("INSERT INTO patients (id, full_name, age, gender, status, created_at, updated_at, device_created_at, "
           "device_updated_at, registration_facility_id, assigned_facility_id, reminder_consent, deleted_at) "
           "VALUES (%s, %s, %s, %s, 'active', %s, %s, %s, %s, %s, %s, %s, %s)",
           (patient, f"{rng.choice(['Baljit', 'Manpreet', 'Sukhwinder', 'Rajinder'])} {rng.choice(['Singh', 'Kaur'])}",
            40 + p % 30, "female" if p % 2 else "male", now, now, now, now, facilities[p % 3], facilities[p % 3],
            "granted" if p % 5 else "denied", now if p % 37 == 0 else None))
        if p % 9:
            ex("INSERT INTO patient_phone_numbers (id, number, phone_type, active, created_at, updated_at, patient_id, "
               "device_created_at, device_updated_at, dnd_status) VALUES (%s, %s, 'mobile', true, %s, %s, %s, %s, %s, "
               "true)", (uuid.UUID(int=rng.getrandbits(128)), f"9{rng.randrange(10**8, 10**9)}", now, now, patient,
                         now, now))
        patients.append(patient)
    ahead = 0
    for a in range(150):
        future = a % 5 != 0
        day = date.today() + timedelta(days=1 + a % 28) if future else date.today() - timedelta(days=2 + a % 60)
        past = rng.choice(["visited", "scheduled"])
        status = rng.choices(["scheduled", "cancelled"], [90, 10])[0] if future else past
        ex("INSERT INTO appointments (id, patient_id, facility_id, scheduled_date, status, cancel_reason, "
           "device_created_at, device_updated_at, created_at, updated_at, remind_on, deleted_at, appointment_type, "
           "user_id, creation_facility_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'manual', %s, %s)",
           (uuid.UUID(int=rng.getrandbits(128)), patients[a % 80], facilities[a % 3], day, status,
            "moved" if status == "cancelled" else None, now, now, now, now, day - timedelta(days=1),
            now if a % 41 == 0 else None, workers[a % 3], facilities[a % 3]))
        ahead += future
    return ahead


@pytest.mark.postgres
def test_simple_uuid_patients_facilities_and_a_day_without_a_time(postgres_url: str, tmp_path: Path,
                                                                   cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        build(connection)
    settings = real.settings_file(tmp_path, ZONE, "IN")
    run = cli(settings)
    _, out, _ = run("discover", postgres_url, "--write", expect=1)
    print(out)
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert "patient.phone" in fields and "patient.name" in fields, fields
    assert "facility_name" in str(fields.get("location")), fields.get("location")
    assert "'visited'            -> fulfilled" in out, out
    assert "reading the linked tables failed" not in out, out
    # the day without a time of day: no start is guessed, said so, and check fails on it
    assert "start" not in fields, fields["start"]
    assert "note: scheduled_date: a date with no time column to join it to: visits kept as a day without a time" \
        in out, out
    assert "would be quarantined (reasons: start x" in out, out
