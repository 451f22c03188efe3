"""`discover` on the real shape of Cal.com's own database in PostgreSQL (tests/fixtures/booking/
calcom, with its SOURCE note), a booking tool it had never met as a database: the patient is the
booking's first `Attendee` row (a child row pointing at the booking; a guest may follow), the
doctor is the booking's owner user (`Booking.userId`) while `destinationCalendarId` is empty,
the status is the `BookingStatus` enum (`accepted` a booked visit), times are Prisma's naive UTC,
and the event type's settings (`requiresConfirmation`, `successRedirectUrl`) are shared by every
visit of a type: neither is the patient's answer nor the join link. Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, every visit compared."""

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

ZONE = "America/New_York"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "booking" / "calcom" / "schema.sql"
DOCTORS = [("Dr. Ngozi Okafor", "ngozi.okafor@clinic.example.org"), ("Dr. Erik Lindqvist", "erik@clinic.example.org")]
TYPES = [("New patient visit", 60, True, '[{"type": "inPerson", "address": "12 Elm St"}]', None),
         ("Follow-up", 30, False, '[{"type": "integrations:daily"}]', "https://clinic.example.org/thanks")]
STATUS = {"accepted": "booked", "cancelled": "cancelled", "pending": "pending", "rejected": "cancelled"}


def build(connection: psycopg.Connection[Any]) -> dict[str, real.Want]:
    ddl = "\n".join(line for line in FIXTURE.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    for statement in ddl.split(";"):
        if statement.strip():
            connection.execute(statement)
    rng = random.Random(65)
    for name, email in DOCTORS:
        connection.execute('INSERT INTO users (name, email, "timeZone") VALUES (%s, %s, %s)', (name, email, ZONE))
    for n, (title, length, confirm, locations, redirect) in enumerate(TYPES, start=1):
        connection.execute('INSERT INTO "EventType" (title, slug, length, "requiresConfirmation", locations, "userId", '
                           '"successRedirectUrl") VALUES (%s, %s, %s, %s, %s, %s, %s)',
                           (title, f"type-{n}", length, confirm, locations, n, redirect))
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    expected: dict[str, real.Want] = {}
    for k in range(1, 81):
        doctor, kind = 1 + k % 2, k % len(TYPES)
        day = (now + timedelta(days=1 + k % 20)).date()
        local = datetime(day.year, day.month, day.day, 8 + k % 9, 15 * (k % 4), tzinfo=ZoneInfo(ZONE))
        start = local.astimezone(UTC).replace(tzinfo=None)
        status = rng.choices(list(STATUS), [80, 10, 7, 3])[0]
        name, email = f"Patient{k} Family{k % 7}", f"patient{k}@mail.example.com"
        phone = f"+1718555{k:04d}" if k % 5 else None
        row = connection.execute(
            'INSERT INTO "Booking" (uid, "userId", "eventTypeId", title, "startTime", "endTime", status, '
            '"createdAt", "updatedAt") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id',
            (f"bk{k:05d}", doctor, kind + 1, f"{TYPES[kind][0]} with {name}", start,
             start + timedelta(minutes=TYPES[kind][1]), status, now - timedelta(days=30),
             now - timedelta(days=k % 9 + 1)),
        ).fetchone()
        assert row is not None
        connection.execute('INSERT INTO "Attendee" (email, name, "timeZone", "phoneNumber", "bookingId") '
                           'VALUES (%s, %s, %s, %s, %s)', (email, name, ZONE, phone, row[0]))
        if k % 6 == 0:  # a guest the patient brought: never the patient
            connection.execute('INSERT INTO "Attendee" (email, name, "timeZone", "phoneNumber", "bookingId") '
                               'VALUES (%s, %s, %s, %s, %s)', (f"guest{k}@mail.example.com", f"Guest {k}", ZONE,
                                                               "+17185559999", row[0]))
        expected[str(row[0])] = (start.isoformat() + "Z", STATUS[status], email, name, phone, str(doctor))
    return expected


@pytest.mark.postgres
def test_calcom_attendees_owner_user_and_shared_settings(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = build(connection)
    settings = real.settings_file(tmp_path, ZONE, "US")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url])
    assert connector.get("stored_times") == "utc"  # Prisma's naive UTC, read off the change stamps
    fields = real.written_mapping(tmp_path)["fields"]
    assert "answer" not in fields and "join_url" not in fields  # the event type's settings are no visit's values
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert {found[k]["practitioner"]["name"] for k in found} == {name for name, _ in DOCTORS}
    assert {found[k]["practitioner"]["email"] for k in found} == {email for _, email in DOCTORS}  # the owner's
    assert json.dumps(found).count("Guest ") == 0
