"""`discover --table calendar_event` on Odoo's calendar read by shape, as for a product no preset
knows (tests/fixtures/catalogue/odoo, with its SOURCE note): the organizer is a user
(`calendar_event.user_id` -> `res_users`, a login and no name) whose person is its contact
(`res_users.partner_id` -> `res_partner`: name, email, phone), so the doctor is reached two hops
away; the patient is the attendee contact (`calendar_event_res_partner_rel`) who is not the
organizer's own contact, which Odoo also lists among the attendees. Times are Odoo's naive UTC.
Driven as the admin would: ``discover --write`` (which runs ``check``), ``sync --once``, every
visit compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Europe/Brussels"
SCHEMA = data.FIXTURES / "catalogue" / "odoo" / "schema.sql"
# (user id, partner id, name, email): user and contact keys differ, so the test tells which was read
DOCTORS = [(2, 11, "Dr. Els Peeters", "els.peeters@praktijk.example"),
           (3, 12, "Dr. Tom Janssens", "tom.janssens@praktijk.example"),
           (4, 13, "Dr. An Claes", "an.claes@praktijk.example")]
VISITS = 60


def build(connection: psycopg.Connection[Any]) -> dict[str, real.Want]:
    """Doctors (users with their contacts), patients (contacts with a phone), events with the
    organizer's contact and the patient as attendees, in that order on some and the other on the
    rest; times naive UTC. What the store must then hold, by event id."""
    ddl = "\n".join(line for line in SCHEMA.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    connection.execute(ddl)
    stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=3)  # written just now
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO res_partner (id, name, email, tz, write_date) VALUES (%s, %s, %s, %s, %s)",
                           [(p, name, email, ZONE, stamp) for _, p, name, email in DOCTORS])
        cursor.executemany("INSERT INTO res_users (id, login, partner_id, active, share, write_date) "
                           "VALUES (%s, %s, %s, true, false, %s)",
                           [(u, f"user{u}", p, stamp) for u, p, _, _ in DOCTORS])
        patients = [(100 + n, f"Patient{n} Family{n % 7}", f"+3247012{n:04d}", stamp) for n in range(40)]
        cursor.executemany("INSERT INTO res_partner (id, name, phone, write_date) VALUES (%s, %s, %s, %s)",
                           patients)
        today = datetime.now(ZoneInfo(ZONE)).date()
        expected: dict[str, real.Want] = {}
        for k in range(1, VISITS + 1):
            user, partner, _, _ = DOCTORS[k % 3]
            patient = patients[k % len(patients)]
            day = today + timedelta(days=1 + k % 25)
            local = datetime(day.year, day.month, day.day, 8 + k % 9, 15 * (k % 4), tzinfo=ZoneInfo(ZONE))
            start = local.astimezone(UTC).replace(tzinfo=None)
            cursor.execute("INSERT INTO calendar_event (id, name, user_id, start, stop, duration, write_date) "
                           "VALUES (%s, 'Consultatie', %s, %s, %s, 0.5, %s)",
                           (k, user, start, start + timedelta(minutes=30), stamp))
            pair = [partner, patient[0]] if k % 2 else [patient[0], partner]  # the organizer first or not
            pair = pair if k % 5 else [patient[0]]  # an event the organizer is not listed on
            cursor.executemany("INSERT INTO calendar_event_res_partner_rel (calendar_event_id, res_partner_id) "
                               "VALUES (%s, %s)", [(k, p) for p in pair])
            cursor.executemany("INSERT INTO calendar_attendee (event_id, partner_id, state, write_date) "
                               "VALUES (%s, %s, 'accepted', %s)", [(k, p, stamp) for p in pair])
            expected[str(k)] = (start.isoformat() + "Z", "booked", str(patient[0]), patient[1], patient[2],
                                str(partner))
    return expected


@pytest.mark.postgres
def test_odoo_by_shape_doctor_through_user_to_contact(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = build(connection)
    settings = real.settings_file(tmp_path, ZONE, "BE")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url, "--table", "calendar_event"])
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert {found[k]["practitioner"]["name"] for k in found} == {d[2] for d in DOCTORS}
    assert {found[k]["practitioner"]["email"] for k in found} == {d[3] for d in DOCTORS}
