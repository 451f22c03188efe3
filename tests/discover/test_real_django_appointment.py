"""`discover` on the real shape of django-appointment (tests/fixtures/ehr/django_appointment,
with its SOURCE note), a Django booking app practices add to their website, on PostgreSQL: the
requested day and times on ``appointment_appointmentrequest`` with the service (its length an
``interval``) and the staff member (a ``auth_user`` through ``appointment_staffmember``); the
booking that confirms a request on ``appointment_appointment`` (one to one), with the client
(another ``auth_user``) and the phone typed at booking. Requests never confirmed have no
booking row; a reschedule's history keeps the old day and times on a look-alike table.

What discover must do: read the visits from the requests that have a booking (the others are
no patient's visit), the patient and the phone from the booking, the doctor's name and email
through the staff member to the user, the service's name as the visit's kind, the day and the
times as the clinic's wall clock; `check` passes, and every field of every visit is right."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE = "Europe/Paris"
FIXTURE = real.FIXTURES / "django_appointment" / "schema.sql"
STAFF = (("Camille", "Moreau"), ("Julien", "Lefebvre"), ("Claire", "Dubois"))
SERVICES = (("Consultation", 30), ("Ostéopathie", 45), ("Bilan", 60))


def build(connection: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """Three staff members, three services, 50 clients, 140 requests of which 120 are booked
    (every seventh never confirmed), a few reschedules in the history; the truth per booking."""
    real.run_ddl(connection, FIXTURE)
    ex = connection.execute
    rng = random.Random(11)
    now = datetime.now(UTC).replace(microsecond=0)
    for s, (given, family) in enumerate(STAFF, 1):
        ex("INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, "
           "is_active, date_joined) VALUES (%s, 'x', false, %s, %s, %s, %s, true, true, %s)",
           (s, given.lower(), given, family, f"{given.lower()}@cabinet.example.fr", now))
        ex("INSERT INTO appointment_staffmember (id, user_id, slot_duration, work_on_saturday, work_on_sunday, "
           "created_at, updated_at) VALUES (%s, %s, 30, false, false, %s, %s)", (s, s, now, now))
        for weekday in range(5):
            ex("INSERT INTO appointment_workinghours (staff_member_id, day_of_week, start_time, end_time, created_at, "
               "updated_at) VALUES (%s, %s, '09:00', '17:00', %s, %s)", (s, weekday, now, now))
        ex("INSERT INTO appointment_dayoff (staff_member_id, start_date, end_date, description, created_at, "
           "updated_at) VALUES (%s, %s, %s, 'Congés', %s, %s)",
           (s, date.today() + timedelta(days=40 + s), date.today() + timedelta(days=45 + s), now, now))
    for s, (name, minutes) in enumerate(SERVICES, 1):
        ex("INSERT INTO appointment_service (id, name, duration, price, down_payment, currency, background_color, "
           "reschedule_limit, allow_rescheduling, created_at, updated_at) VALUES (%s, %s, %s, 50, 0, 'EUR', '#fff', "
           "2, true, %s, %s)", (s, name, timedelta(minutes=minutes), now, now))
    clients = []
    for c in range(50):
        given, family = rng.choice(["Léa", "Hugo", "Chloé", "Louis", "Emma"]), rng.choice(["Martin", "Petit", "Roux"])
        ex("INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, "
           "is_active, date_joined) VALUES (%s, 'x', false, %s, %s, %s, %s, false, true, %s)",
           (100 + c, f"client{c}", given, family, f"client{c}@mail.example.fr", now))
        clients.append((str(100 + c), f"{given} {family}", real.valid_number(rng, "+336", 12)))
    truth: dict[str, dict[str, Any]] = {}
    zone = ZoneInfo(ZONE)
    for r in range(1, 141):
        day = date.today() + timedelta(days=1 + r % 25)
        service = 1 + r % 3
        begins = datetime.combine(day, time(9 + r % 7, 30 * (r % 2)))
        ends = begins + timedelta(minutes=SERVICES[service - 1][1])
        staff = 1 + r % 3
        ex("INSERT INTO appointment_appointmentrequest (id, date, start_time, end_time, service_id, staff_member_id, "
           "payment_type, id_request, reschedule_attempts, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, "
           "'full', %s, 0, %s, %s)", (r, day, begins.time(), ends.time(), service, staff, f"REQ{r:05d}", now, now))
        if r % 7 == 0:  # a request never confirmed: no booking row
            continue
        client, name, phone = clients[r % 50]
        ex("INSERT INTO appointment_appointment (id, client_id, appointment_request_id, phone, want_reminder, paid, "
           "id_request, created_at, updated_at) VALUES (%s, %s, %s, %s, true, false, %s, %s, %s)",
           (r, int(client), r, phone, f"REQ{r:05d}", now, now))
        if r % 11 == 0:  # moved once: the old day and times kept in the history
            ex("INSERT INTO appointment_appointmentreschedulehistory (appointment_request_id, date, start_time, "
               "end_time, staff_member_id, reschedule_status, created_at, updated_at) VALUES (%s, %s, '08:00', "
               "'08:30', %s, 'confirmed', %s, %s)", (r, day - timedelta(days=2), staff, now, now))

        def utc(moment: datetime) -> str:
            return moment.replace(tzinfo=zone).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        truth[str(r)] = {"start": utc(begins), "end": utc(ends), "status": "booked", "patient": client, "name": name,
                         "phone": phone, "email": f"client{int(client) - 100}@mail.example.fr", "doctor": str(staff),
                         "doctor_name": " ".join(STAFF[staff - 1]),
                         "doctor_email": f"{STAFF[staff - 1][0].lower()}@cabinet.example.fr", "zone": ZONE,
                         "type": SERVICES[service - 1][0]}
    return truth


@pytest.mark.postgres
def test_django_booking_requests_confirmed_by_a_child_row(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = build(connection)
    settings = real.settings_file(tmp_path, ZONE, "FR")
    run = cli(settings)
    real.discover_then_check(run, settings, [postgres_url])
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    assert set(found) == set(truth), sorted(set(found) ^ set(truth))[:10]  # no unconfirmed request stored
    assert real.scores(found, truth) == dict.fromkeys(real.scores(found, truth), len(truth))
