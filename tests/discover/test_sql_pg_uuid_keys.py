"""A PostgreSQL schema keyed by UUIDs (Rails and Django apps: ``id uuid``, ``patient_id uuid``),
whose visits name their patient by a ``uuid`` column with no declared foreign key, the patient's
numbers in a child table: discover follows the patient and reaches the phone; the facility the
visit is booked at is its place.

Why: discover asks how many rows name no patient, counting the blank value PHP applications
write ('' in a text column, 0 in a number) beside NULL; on a ``uuid`` column PostgreSQL refuses
``= ''`` ("invalid input syntax for type uuid"), the patient's tables were left unread and no
visit had a patient's phone or name from the patient table. A UUID has no blank: only NULL
counts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE facilities (id uuid PRIMARY KEY, name varchar, district varchar);
CREATE TABLE people (id uuid PRIMARY KEY, full_name varchar, created_at timestamp NOT NULL,
  updated_at timestamp NOT NULL);
CREATE TABLE people_phone_numbers (id uuid PRIMARY KEY, number varchar, phone_type varchar,
  person_id uuid REFERENCES people(id), updated_at timestamp NOT NULL);
CREATE TABLE appointments (id uuid PRIMARY KEY, patient_id uuid,
  facility_id uuid REFERENCES facilities(id), starts_at timestamp NOT NULL,
  ends_at timestamp NOT NULL, status varchar, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
"""


@pytest.mark.postgres
def test_a_uuid_patient_column_is_followed_to_the_patients_phone(postgres_url: str) -> None:
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    people = [uuid.UUID(int=n + 1) for n in range(40)]
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(DDL)
        for n, name in enumerate(("PHC Bathinda", "CHC Kotkapura", "PHC Faridkot")):
            connection.execute("INSERT INTO facilities VALUES (%s, %s, 'Bathinda')", (uuid.UUID(int=9000 + n), name))
        for n, person in enumerate(people):
            connection.execute("INSERT INTO people VALUES (%s, %s, %s, %s)", (person, f"Given{n} Family{n}", now, now))
            connection.execute("INSERT INTO people_phone_numbers VALUES (%s, %s, 'mobile', %s, %s)",
                               (uuid.UUID(int=1000 + n), f"98765{n:05d}", person, now))
        for n in range(120):
            start = now + timedelta(days=1 + n % 20, hours=n % 6)
            patient = None if n % 30 == 0 else people[n % 40]  # a few open slots: no patient
            connection.execute("INSERT INTO appointments VALUES (%s, %s, %s, %s, %s, 'scheduled', %s, %s)",
                               (uuid.UUID(int=5000 + n), patient, uuid.UUID(int=9000 + n % 3), start,
                                start + timedelta(minutes=15), now, now))
    proposal = discover_sql(postgres_url, stored_times="utc", clinic_zone="Asia/Kolkata", region="IN")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert "patient.phone" in fields and "number" in str(proposal.connector["query"]), fields
    assert "full_name" in str(fields["patient.name"]), fields
    assert "a.patient_id IS NOT NULL" in proposal.connector["query"], proposal.connector["query"]
    assert not any("failed" in note for note in proposal.notes), proposal.notes
    # the facility the visit is booked at is its place (a public-health programme's clinic)
    assert "facility_name" in str(fields.get("location")), fields.get("location")
