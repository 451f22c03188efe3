"""A doctor whose name and email live on their login row: the visit names a staff row, the staff
row the framework's users table (Django's ``auth_user``: first_name, last_name, email beside
username, password, is_staff). discover reached the name through the staff row but not the
email beside it, so no doctor got an agenda or a calendar; and the login's password hash must
never be read. Also of the class: ``timestamptz`` starts and an ``interval`` length (Django's
DurationField on PostgreSQL). Driven as the admin would, on PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "America/Los_Angeles"
DOCTORS = [("anna", "Anna", "Berg"), ("omar", "Omar", "Haddad"), ("lise", "Lise", "Moreau")]
DDL = """
CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamptz,
  is_superuser boolean NOT NULL, username varchar(150) UNIQUE NOT NULL, first_name varchar(150) NOT NULL,
  last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff boolean NOT NULL, is_active boolean NOT NULL,
  date_joined timestamptz NOT NULL);
CREATE TABLE staff_practitioner (id bigserial PRIMARY KEY, user_id integer NOT NULL UNIQUE REFERENCES auth_user(id),
  specialty varchar(80) NOT NULL);
CREATE TABLE patients_patient (id bigserial PRIMARY KEY, given_name varchar(80) NOT NULL,
  family_name varchar(80) NOT NULL, phone_number varchar(128) NOT NULL, email varchar(254) NOT NULL,
  created timestamptz NOT NULL, modified timestamptz NOT NULL);
CREATE TABLE scheduling_appointment (id bigserial PRIMARY KEY,
  patient_id bigint NOT NULL REFERENCES patients_patient(id),
  practitioner_id bigint NOT NULL REFERENCES staff_practitioner(id), start timestamptz NOT NULL,
  duration interval NOT NULL, status varchar(20) NOT NULL, is_deleted boolean NOT NULL,
  created timestamptz NOT NULL, modified timestamptz NOT NULL)
"""


def _build(connection: psycopg.Connection[Any]) -> dict[str, tuple[str, str, str]]:
    """The rows; per visit the store must hold: its UTC end, its doctor's name and email."""
    for statement in DDL.split(";"):
        connection.execute(statement)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for at, (user, first, last) in enumerate(DOCTORS, 1):
        connection.execute("INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
                           "is_staff, is_active, date_joined) VALUES ('pbkdf2_sha256$600000$s$h', false, %s, %s, %s, "
                           "%s, true, true, %s)", (user, first, last, f"{user}@clinic.example", now))
        connection.execute("INSERT INTO staff_practitioner (user_id, specialty) VALUES (%s, 'GP')", (at,))
    for desk in range(4):  # clerks: users too, with no email
        connection.execute("INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
                           "is_staff, is_active, date_joined) VALUES ('x', false, %s, 'Desk', 'Clerk', '', true, "
                           "true, %s)", (f"desk{desk}", now))
    for p in range(1, 41):
        connection.execute("INSERT INTO patients_patient (given_name, family_name, phone_number, email, created, "
                           "modified) VALUES (%s, %s, %s, '', %s, %s)",
                           (["Maria", "John", "Aisha"][p % 3], ["Smith", "Rossi"][p % 2], f"+1415555{1000 + p:04d}",
                            now - timedelta(days=90), now - timedelta(days=p)))
    rng = random.Random(11)
    expected: dict[str, tuple[str, str, str]] = {}
    for v in range(1, 91):
        start = (now + timedelta(days=1 + v % 25)).replace(hour=16 + v % 8)  # 8:00-15:00 in Los Angeles
        minutes, doctor = rng.choice([15, 20, 30, 45]), 1 + v % 3
        connection.execute("INSERT INTO scheduling_appointment (patient_id, practitioner_id, start, duration, status, "
                           "is_deleted, created, modified) VALUES (%s, %s, %s, %s, 'booked', false, %s, %s)",
                           (1 + v % 40, doctor, start, timedelta(minutes=minutes), now - timedelta(days=3),
                            now - timedelta(days=1)))
        _, first, last = DOCTORS[doctor - 1]
        end = (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        expected[str(v)] = (end, f"{first} {last}", f"{DOCTORS[doctor - 1][0]}@clinic.example")
    return expected


@pytest.mark.postgres
def test_the_doctors_email_is_read_from_their_login_row_and_its_password_never(postgres_url: str, tmp_path: Path,
                                                                                cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = _build(connection)
    settings = real.settings_file(tmp_path, ZONE, "US")
    run = cli(settings)
    _, out, _ = run("discover", postgres_url)
    assert "practitioner.last: left out" not in out  # the name was placed: no note saying otherwise
    connector = real.discover_then_check(run, settings, [postgres_url])
    assert "password" not in connector["query"]
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["practitioner.email"] == {"from": "doctor_email"}
    run("sync", "--once")
    found = data.stored(run)
    assert set(found) == set(expected)
    wrong = {k for k, (end, name, email) in expected.items()
             if (found[k]["end"], found[k]["practitioner"]["name"], found[k]["practitioner"]["email"])
             != (end, name, email)}
    assert wrong == set()


ODOO_DDL = """
CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar, email varchar, mobile varchar, active boolean,
  create_date timestamp, write_date timestamp);
CREATE TABLE res_users (id serial PRIMARY KEY, login varchar NOT NULL, password varchar,
  partner_id integer NOT NULL REFERENCES res_partner(id), active boolean, create_date timestamp, write_date timestamp);
CREATE TABLE hms_patient (id serial PRIMARY KEY, partner_id integer NOT NULL REFERENCES res_partner(id), code varchar,
  active boolean, create_date timestamp, write_date timestamp);
CREATE TABLE hms_physician (id serial PRIMARY KEY, user_id integer NOT NULL REFERENCES res_users(id), code varchar,
  active boolean, create_date timestamp, write_date timestamp);
CREATE TABLE hms_appointment (id serial PRIMARY KEY, name varchar,
  patient_id integer NOT NULL REFERENCES hms_patient(id), physician_id integer REFERENCES hms_physician(id),
  date timestamp, date_to timestamp, state varchar,
  create_date timestamp, write_date timestamp)
"""


def _build_odoo(connection: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    """An Odoo hospital module's shape: the physician row names a user, the user its partner,
    and only the partner has the doctor's name and email (naive UTC times, Odoo's way)."""
    for statement in ODOO_DDL.split(";"):
        connection.execute(statement)
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    doctors = [("Dr. Anna Berg", "anna@hms.example"), ("Dr. Omar Haddad", "omar@hms.example")]
    for at, (name, email) in enumerate(doctors, 1):
        connection.execute("INSERT INTO res_partner (name, email, active, create_date, write_date) "
                           "VALUES (%s, %s, true, %s, %s)", (name, email, now, now))
        connection.execute("INSERT INTO res_users (login, password, partner_id, active, create_date, write_date) "
                           "VALUES (%s, 'x', %s, true, %s, %s)", (email, at, now, now))
        connection.execute("INSERT INTO hms_physician (user_id, code, active, create_date, write_date) "
                           "VALUES (%s, %s, true, %s, %s)", (at, f"DR{at}", now, now))
    for p in range(1, 31):
        connection.execute("INSERT INTO res_partner (name, mobile, active, create_date, write_date) "
                           "VALUES (%s, %s, true, %s, %s)", (f"Patient {chr(64 + p % 26 + 1)}. Lee",
                                                             f"+1 415 555 {1000 + p:04d}", now, now))
        connection.execute("INSERT INTO hms_patient (partner_id, code, active, create_date, write_date) "
                           "VALUES (%s, %s, true, %s, %s)", (len(doctors) + p, f"P{p:04d}", now, now))
    expected: dict[str, tuple[str, str]] = {}
    for v in range(1, 61):
        start = (now + timedelta(days=1 + v % 20)).replace(hour=16 + v % 7)
        doctor = 1 + v % 2
        connection.execute("INSERT INTO hms_appointment (name, patient_id, physician_id, date, date_to, state, "
                           "create_date, write_date) VALUES (%s, %s, %s, %s, %s, 'done', %s, %s)",
                           (f"APT{v:05d}", 1 + v % 30, doctor, start, start + timedelta(minutes=30),
                            now - timedelta(days=4), now - timedelta(hours=v)))
        expected[str(v)] = doctors[doctor - 1]
    return expected


@pytest.mark.postgres
def test_a_staff_row_that_names_no_one_is_followed_to_its_person(postgres_url: str, tmp_path: Path,
                                                                  cli: Any) -> None:
    """hms_appointment -> hms_physician -> res_users -> res_partner: the doctor is the partner,
    two hops past the physician row (discover stopped at the physician: no name, no email)."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = _build_odoo(connection)
    settings = real.settings_file(tmp_path, ZONE, "US")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url])
    assert "password" not in connector["query"] and "res_partner" in connector["query"]
    run("sync", "--once")
    found = data.stored(run)
    assert set(found) == set(expected)
    doctors = {k: (v["practitioner"]["name"], v["practitioner"]["email"]) for k, v in found.items()}
    assert doctors == expected
