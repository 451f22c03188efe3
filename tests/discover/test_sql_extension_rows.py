"""Shapes of an EHR that keeps its clinical date-times as text and its people in two rows, on a
schema built here in PostgreSQL (not any product's): a start in a column of a text domain
(``CREATE DOMAIN stamp19 AS char(19)``), the server on UTC and no ``--stored-times``; the person's
numbers in a 1:1 table keyed by the person (``client_profile``: a "contact number", a second one,
and the emergency contact's); two references to the staff table, the first declared one empty;
a staff table whose only name is ``display_name``. discover run on it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.real_ehr_support import valid_number

ZONE = "Pacific/Apia"
DDL = """
CREATE DOMAIN stamp19 AS character(19);
CREATE TABLE staff (id varchar(40) PRIMARY KEY, display_name varchar(80) NOT NULL, email varchar(80) NOT NULL);
CREATE TABLE client (id varchar(40) PRIMARY KEY, given_name varchar(40), family_name varchar(40),
  deleted_at timestamptz);
CREATE TABLE client_profile (client_id varchar(40) PRIMARY KEY REFERENCES client(id), contact_number varchar(30),
  other_contact_number varchar(30), emergency_contact_name varchar(80), emergency_contact_number varchar(30),
  deleted_at timestamptz);
CREATE TABLE booking (id varchar(40) PRIMARY KEY, begins stamp19 NOT NULL, ends stamp19, state varchar(20) NOT NULL,
  client_id varchar(40) REFERENCES client(id), second_staff_id varchar(40), staff_id varchar(40),
  updated_at timestamptz DEFAULT now(), deleted_at timestamptz,
  CONSTRAINT a_second FOREIGN KEY (second_staff_id) REFERENCES staff(id),
  CONSTRAINT b_staff FOREIGN KEY (staff_id) REFERENCES staff(id));
"""


def _fill(connection: psycopg.Connection[Any]) -> dict[str, str]:
    """The rows; each client's own number (E.164) by id."""
    rng = random.Random(685)
    connection.execute(DDL)
    for s in range(3):
        connection.execute("INSERT INTO staff VALUES (%s, %s, %s)",
                           (f"s-{s}", f"Dr Tala Faleolo{s}", f"tala{s}@clinic.example.ws"))
    own: dict[str, str] = {}
    for c in range(40):
        mobile = valid_number(rng, "+68575", 11)
        emergency = valid_number(rng, "+68575", 11)
        connection.execute("INSERT INTO client VALUES (%s, %s, %s, NULL)", (f"c-{c}", f"Sina{c}", f"Tuilagi{c % 7}"))
        connection.execute("INSERT INTO client_profile VALUES (%s, %s, NULL, %s, %s, NULL)",
                           (f"c-{c}", mobile[4:], f"Losa Tuilagi{c % 7}", emergency[4:]))
        own[f"c-{c}"] = mobile
    local = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    for n in range(90):
        day = (local + timedelta(days=n % 30 - 8)).date()
        start = datetime(day.year, day.month, day.day, 8 + n % 9, 15 * (n % 4))
        connection.execute("INSERT INTO booking (id, begins, ends, state, client_id, staff_id) "
                           "VALUES (%s, %s, %s, %s, %s, %s)",
                           (f"b-{n}", start.strftime("%Y-%m-%d %H:%M:%S"),
                            (start + timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M:%S"),
                            ("booked", "cancelled", "completed")[n % 3], f"c-{n % 40}", f"s-{n % 3}"))
    return own


@pytest.fixture
def proposed(postgres_url: str) -> Any:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        _fill(connection)
    return discover_sql(postgres_url, clinic_zone=ZONE, region="WS")  # no --stored-times: the server is on UTC


@pytest.fixture
def given(postgres_url: str) -> Any:
    """The same schema with the convention given (the people's rules apart from the clock's)."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        _fill(connection)
    return discover_sql(postgres_url, clinic_zone=ZONE, region="WS", stored_times="local")


@pytest.mark.postgres
def test_a_text_domain_start_gets_a_window_and_its_hours_tell_the_convention(proposed: Any) -> None:
    """The start's domain is read as its base type (text): the window is compared as text, not
    the whole table read each run; and the text starts' hours (all in the day read as local
    time, many at night read as UTC) tell the convention: nothing asked."""
    assert proposed.mapping["fields"]["start"] == {"from": "begins"}
    assert "a.begins BETWEEN" in proposed.connector["query"]
    assert "stored_times" not in proposed.connector
    assert any("the database keeps local time" in n for n in proposed.notes), proposed.notes


@pytest.mark.postgres
def test_the_phone_is_read_from_the_persons_one_to_one_row_never_the_emergency_contacts(given: Any) -> None:
    """``client_profile`` is keyed by the client (one row per client): its "contact number" is the
    client's phone; the emergency contact's number is never taken, even as a fallback."""
    phone = given.mapping["fields"]["patient.phone"]
    columns = phone["from"] if isinstance(phone["from"], list) else [phone["from"]]
    assert columns[0].endswith("_contact_number") and "other" not in columns[0], phone
    assert not any("emergency" in c for c in columns), phone
    assert "client_profile" in given.connector["query"]
    # the profile row withdraws no visit when deleted (the client's own row says whether the client is)
    assert not any("client_profile row" in n for n in given.notes), given.notes
    assert any("deleted client row" in n for n in given.notes), given.notes


@pytest.mark.postgres
def test_the_doctor_is_the_filled_reference_named_by_its_display_name(given: Any) -> None:
    """Of the two references to ``staff``, the filled one (``staff_id``) is the doctor, though
    the empty ``second_staff_id`` is declared first; the staff's only name, ``display_name``,
    is the doctor's name."""
    fields = given.mapping["fields"]
    assert fields["practitioner.external_id"] == {"from": "staff_id"}, fields
    assert fields["practitioner.name"]["from"].endswith("display_name"), fields
