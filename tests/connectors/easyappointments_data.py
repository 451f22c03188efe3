"""Easy!Appointments 1.5.2's schema (tests/fixtures/easyappointments/schema) loaded into a
MariaDB test database, plus a small practice: two providers in different zones, their
customers, one service, bookings over the coming weeks and an unavailability period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymysql
import sqlparse

SCHEMA = Path(__file__).parents[1] / "fixtures" / "easyappointments" / "schema" / "ea_1.5.2_schema.sql"
# (id, first name, last name, email, timezone): providers are ea_users of role 2
PROVIDERS = [(1, "Grace", "Hopper", "grace@clinic.example", "America/New_York"),
             (2, "Ana", "Ruiz", "ana@clinic.example", "Europe/Madrid")]
SERVICE = (1, "Check-up", 30)
STATUSES = ["Booked", "Confirmed", "Rescheduled", ""]  # "" : rows saved before 1.5 added the column


@dataclass(frozen=True)
class Booking:
    id: int
    provider: int
    customer: int
    start: datetime  # the provider's wall clock
    zone: str


def connect(database: dict[str, Any]) -> pymysql.Connection:  # type: ignore[type-arg]
    return pymysql.connect(host=database["host"], port=database["port"], user=database["user"],
                           password=database["password"], database=database["database"], autocommit=True)


def load_schema(connection: pymysql.Connection) -> None:  # type: ignore[type-arg]
    text = SCHEMA.read_text(encoding="utf-8")
    with connection.cursor() as cursor:
        for statement in sqlparse.split(text):
            if sqlparse.format(statement, strip_comments=True).strip():
                cursor.execute(statement)


def insert_practice(connection: pymysql.Connection, count: int = 30) -> list[Booking]:  # type: ignore[type-arg]
    """``count`` bookings from four days on, as Easy!Appointments' booking page saves them:
    book/create/update times from the server clock, start/end in the provider's zone. Four
    days: every 3d reminder is still ahead whatever the hour a test runs (from tomorrow on,
    an afternoon visit's 3d reminder fell due today and was skipped in the evening)."""
    saved = datetime.now().replace(microsecond=0) - timedelta(hours=2)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO ea_users (id, first_name, last_name, email, timezone, id_roles) VALUES (%s,%s,%s,%s,%s,2)",
            PROVIDERS)
        cursor.executemany(
            "INSERT INTO ea_users (id, first_name, last_name, email, phone_number, language, id_roles) "
            "VALUES (%s, %s, %s, %s, %s, 'english', 3)",
            [(100 + n, f"Patient{n}", "Example", f"patient{n}@example.org", f"+1 617 253 {1000 + n}")
             for n in range(count)])
        cursor.execute("INSERT INTO ea_services (id, name, duration) VALUES (%s, %s, %s)", SERVICE)
        bookings = []
        for n in range(count):
            provider = PROVIDERS[n % 2]
            local_now = datetime.now(ZoneInfo(provider[4])).replace(tzinfo=None, second=0, microsecond=0)
            start = (local_now + timedelta(days=4 + n // 3)).replace(hour=9 + n % 8, minute=0)
            bookings.append(Booking(1 + n, provider[0], 100 + n, start, provider[4]))
        cursor.executemany(
            "INSERT INTO ea_appointments (id, create_datetime, update_datetime, book_datetime, start_datetime, "
            "end_datetime, hash, status, is_unavailability, id_users_provider, id_users_customer, id_services) "
            "VALUES (%s, %s, %s, %s, %s, %s, MD5(%s), %s, 0, %s, %s, 1)",
            [(b.id, saved, saved + timedelta(seconds=b.id), saved, b.start, b.start + timedelta(minutes=30),
              str(b.id), STATUSES[b.id % len(STATUSES)], b.provider, b.customer) for b in bookings])
        # A provider's unavailability period is a row of the same table, but no appointment.
        cursor.execute(
            "INSERT INTO ea_appointments (id, update_datetime, book_datetime, start_datetime, end_datetime, "
            "is_unavailability, id_users_provider) VALUES (900, %s, %s, %s, %s, 1, 1)",
            (saved, saved, bookings[0].start, bookings[0].start + timedelta(hours=2)))
    return bookings
