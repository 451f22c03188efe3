"""Shapes booking tools share, each on a schema built here from the class (no product's tables):

* a visit's instant kept in a column NAMED UTC beside write stamps in the site's local time:
  the connector reads UTC (the name outranks the stamps; the start hours could still overrule
  it), and ``booked_at`` read from the local stamps is left out, said why;
* the person who delivers the booked service called an AGENT (or specialist), with a name,
  email and phone on their own row: the doctor, never the patient's phone;
* two IANA zones on the booking, the booker's and the site's: the visit is in the site's;
* ``payment_pending``: a booking held until paid is pending, ``pending_form`` one held until the
  form is finished too; an ``abandoned`` hold is cancelled;
* a service's ``price_min`` and ``duration_name`` are no default length;
* activation keys and nonces of the people's rows stay out of the read, as passwords do.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.discover.dayminutes import day_and_minutes, minutes_reason
from clinicsync.sync.discover.graph import bookkeeping
from clinicsync.sync.discover.lengths import with_default_length
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.sql import DiscoverError, discover_sql
from clinicsync.sync.discover.statuses import status_word
from clinicsync.sync.discover.visitzone import clinic_zone
from tests.discover import sql_support as data

ZONE = "America/Denver"
DDL = """
CREATE TABLE members (id INT PRIMARY KEY, given_name VARCHAR(60), family_name VARCHAR(60), mobile VARCHAR(30),
  email VARCHAR(120), activation_key VARCHAR(64), login_nonce VARCHAR(64), created_at DATETIME, updated_at DATETIME);
CREATE TABLE agents (id INT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), email VARCHAR(120),
  phone VARCHAR(30), created_at DATETIME, updated_at DATETIME);
CREATE TABLE reservations (id INT PRIMARY KEY, starts_utc DATETIME, ends_utc DATETIME, member_id INT, agent_id INT,
  state VARCHAR(20), member_tz VARCHAR(60), venue_tz VARCHAR(60), created_at DATETIME, updated_at DATETIME)
"""


def build(database: dict[str, Any]) -> None:
    """Thirty members, three agents, sixty reservations at day hours in Denver, kept as naive
    UTC in ``starts_utc``; every write stamp in Denver's wall clock, the newest minutes old."""
    tz = ZoneInfo(ZONE)
    now_local = datetime.now(tz).replace(tzinfo=None, microsecond=0)
    connection = data.mysql(database)
    try:
        data.run_sql(connection, DDL)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO members VALUES (%s, %s, 'Example', %s, %s, %s, %s, %s, %s)",
                               [(n, f"Member{n}", f"(303) 44{n % 10}-{1000 + n}", f"m{n}@example.org", f"k{n:030d}",
                                 f"n{n:020d}", now_local - timedelta(days=60), now_local - timedelta(days=n))
                                for n in range(1, 31)])
            cursor.executemany("INSERT INTO agents VALUES (%s, %s, 'Clinician', %s, %s, %s, %s)",
                               [(n, f"Agent{n}", f"agent{n}@clinic.example", f"+1 720 555 01{n:02d}",
                                 now_local - timedelta(days=400), now_local - timedelta(days=400)) for n in (1, 2, 3)])
            rows = []
            for n, start in enumerate(data.future_slots(ZONE, 60), start=1):
                instant = start.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
                stamp = now_local - timedelta(minutes=2 + n)
                rows.append((n, instant, instant + timedelta(minutes=30), 1 + n % 30, 1 + n % 3,
                             ("booked", "cancelled", "payment_pending")[n % 3],
                             "America/Los_Angeles" if n % 4 else ZONE, ZONE, stamp, stamp))
            cursor.executemany("INSERT INTO reservations VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    finally:
        connection.close()


@pytest.mark.mariadb
def test_a_start_named_utc_agents_and_the_sites_zone(mariadb_database: dict[str, Any]) -> None:
    build(mariadb_database)
    proposal = discover_sql(str(mariadb_database["url"]), name="bookings", clinic_zone=ZONE)
    assert proposal.connector["stored_times"] == "utc"
    assert "'starts_utc' says UTC in its name" in proposal.connector_notes["stored_times"]
    fields = (proposal.mapping or {})["fields"]
    assert "booked_at" not in fields
    assert any(n.startswith("booked_at: left out, not guessed: 'created_at' keeps the site's local time")
               for n in proposal.notes)
    assert fields["timezone"] == {"from": "venue_tz"}
    assert fields["practitioner.external_id"] == {"from": "agent_id"}
    assert fields["practitioner.email"] == {"from": "agent_email"}
    assert fields["patient.phone"] == {"from": "member_mobile"}
    assert (proposal.mapping or {})["status_map"]["payment_pending"] == "pending"
    query = str(proposal.connector["query"])
    assert "activation_key" not in query and "nonce" not in query


@pytest.mark.mariadb
def test_start_hours_that_say_local_overrule_a_utc_name(mariadb_database: dict[str, Any]) -> None:
    """The same rows with the column holding the wall clock after all: read as UTC the Denver
    visits would fall in the small hours, so discover stops and asks rather than trust the name."""
    build(mariadb_database)
    connection = data.mysql(mariadb_database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE reservations SET starts_utc = starts_utc - INTERVAL 7 HOUR, "
                           "ends_utc = ends_utc - INTERVAL 7 HOUR")
        connection.commit()
    finally:
        connection.close()
    with pytest.raises(DiscoverError, match="'starts_utc' says UTC in its name, yet"):
        discover_sql(str(mariadb_database["url"]), name="bookings", clinic_zone=ZONE)


def test_the_bookers_zone_gives_way_to_the_sites() -> None:
    booker = Guess("timezone", "customer_timezone", 0.9, "name ~ 'customer timezone'", {"from": "customer_timezone"})
    samples = {"server_timezone": ["Europe/Paris"] * 3, "customer_timezone": ["Europe/London"] * 3}
    notes: list[str] = []
    guesses, unplaced = clinic_zone([booker], ["server_timezone", "notes"], samples, notes)
    assert [(g.field, g.source) for g in guesses] == [("timezone", "server_timezone")]
    assert unplaced == ["notes", "customer_timezone"] and notes == []


def test_the_bookers_zone_alone_is_left_out() -> None:
    booker = Guess("timezone", "client_tz", 0.9, "name ~ 'client tz'", {"from": "client_tz"})
    notes: list[str] = []
    guesses, unplaced = clinic_zone([booker], ["site_timezone"], {"site_timezone": ["not a zone"]}, notes)
    assert guesses == [] and unplaced == ["site_timezone", "client_tz"]
    assert notes and notes[0].startswith("timezone: left out, not guessed: 'client_tz' is the zone the booker")


def test_a_booking_held_until_paid_is_pending() -> None:
    assert [status_word(w)[0] for w in ("payment_pending", "Pending payment", "awaiting_payment")] == ["pending"] * 3


def test_a_booking_held_for_its_form_is_pending_and_an_abandoned_one_cancelled() -> None:
    """A booking held until the booker finishes the form is not confirmed yet; one given up (its
    slot free again) is no visit."""
    assert [status_word(w)[0] for w in ("pending_form", "Awaiting form", "abandoned")] == \
        ["pending", "pending", "cancelled"]


def test_a_price_minimum_or_a_length_label_is_no_default_length() -> None:
    tables = {"service_price_min": "services", "service_duration_name": "services", "service_duration": "services"}
    start = Guess("start", "start_at", 0.9, "", {"from": "start_at"})
    guesses, unplaced = with_default_length([start], list(tables), tables, "bookings")
    assert [g.source for g in guesses if g.field == "duration_minutes"] == ["service_duration"]
    assert unplaced == ["service_price_min", "service_duration_name"]


def test_activation_keys_and_nonces_are_not_read() -> None:
    assert [c for c in ("activation_key", "account_nonce", "reset_key", "verification_code", "phone", "email",
                        "confirmation_hash", "key_contact") if bookkeeping(c)] == [
        "activation_key", "account_nonce", "reset_key", "verification_code", "confirmation_hash"]


def test_minutes_since_midnight_beside_a_day_make_the_start_and_end() -> None:
    types = {"begin_day": "DATE", "begin_minute": "SMALLINT", "end_day": "DATE", "end_minute": "SMALLINT",
             "seats": "INTEGER"}
    samples = {"begin_minute": ["540", "555", "570", "615"], "end_minute": ["570", "585", "600", "645"],
               "seats": ["1", "2", "1", "1"]}
    notes = ["begin_day: a date with no time column to join it to"]
    guesses, unplaced = day_and_minutes([], list(types), types, samples, notes)
    assert [(g.field, g.spec) for g in guesses] == [
        ("start", {"date": "begin_day", "time": "begin_minute", "time_unit": "minutes"}),
        ("end", {"date": "end_day", "time": "end_minute", "time_unit": "minutes"})]
    assert unplaced == ["seats"] and notes == []


@pytest.mark.parametrize(("values", "why"), [
    (["900", "930", "1000", "1030"], "every value could be a clock written as HHMM"),
    (["900", "1730", "1800"], "values past 1440"),
    (["60", "75", "90", "120"], "too many fall at night"),
    (["9:00", "9:30"], "not all whole numbers")])
def test_numbers_that_may_be_something_else_are_no_minutes(values: list[str], why: str) -> None:
    reason = minutes_reason(values)
    assert reason is not None and why in reason
    types = {"start_date": "DATE", "start_time": "INT"}
    notes: list[str] = []
    guesses, _ = day_and_minutes([], list(types), types, {"start_time": values}, notes)
    assert guesses == [] and notes[0].startswith("start: left out, not guessed: 'start_date' with 'start_time'")


def test_a_start_of_its_own_keeps_the_minutes_unread() -> None:
    """A start from a column (named UTC, say): the site's day and minutes of the same moment are
    never combined in its place."""
    start = Guess("start", "start_utc", 0.9, "", {"from": "start_utc"})
    types = {"start_date": "DATE", "start_time": "INT"}
    guesses, unplaced = day_and_minutes([start], list(types), types, {"start_time": ["540", "570"]}, [])
    assert guesses == [start] and unplaced == list(types)


def test_a_reference_to_the_staff_under_a_name_that_says_no_doctor(tmp_path: Any) -> None:
    """The booking's `worker` (or any column whose own name says nothing of a doctor) declared as
    a reference to a staff table whose rows name people: that column is the doctor's id, not the
    email or the name standing in for one (two doctors may share a name; an email changes)."""
    path = tmp_path / "plugin.db"
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE staff (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), phone VARCHAR(45));
            CREATE TABLE bookings (id INTEGER PRIMARY KEY, worker INTEGER NOT NULL REFERENCES staff (id),
              name VARCHAR(255), email VARCHAR(255), phone VARCHAR(45), starts_at DATETIME, ends_at DATETIME,
              status VARCHAR(45));""")
        connection.executemany("INSERT INTO staff VALUES (?, ?, ?, ?)",
                               [(n, f"Dr. Staff{n} Example", f"staff{n}@clinic.example", f"+1 720 555 01{n:02d}")
                                for n in (1, 2, 3)])
        connection.executemany(
            "INSERT INTO bookings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(n, 1 + n % 3, f"Client{n} Example", f"c{n}@example.org", f"(303) 44{n % 10}-{1000 + n}",
              (now + timedelta(days=1 + n % 20, hours=n % 8)).isoformat(" "),
              (now + timedelta(days=1 + n % 20, hours=n % 8, minutes=30)).isoformat(" "),
              ("confirmed", "pending", "canceled")[n % 3]) for n in range(1, 61)])
    proposal = discover_sql(f"sqlite:///{path}", name="bookings", clinic_zone=ZONE, stored_times="utc")
    fields = (proposal.mapping or {})["fields"]
    assert fields["practitioner.external_id"] == {"from": "worker"}, fields
    assert "practitioner.name" in fields and "patient.phone" in fields
    # no customer table: the phone typed on each booking is the patient, read as the number it is
    assert fields["patient.external_id"] == {"from": "phone", "type": "phone", "on_invalid": "drop",
                                             "fallback": {"from": "email", "type": "email"}}, fields
