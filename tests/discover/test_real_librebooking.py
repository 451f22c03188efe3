"""`discover` on the real shape of LibreBooking (formerly Booked Scheduler) in MariaDB
(tests/fixtures/booking/librebooking, with its SOURCE note), a booking tool it had never met as a
database, as a clinic runs it: each doctor is a bookable resource (`resources`, the doctor's
email in `contact_info`), the patient books under their own login and owns the reservation
(`reservation_series.owner_id`, and `reservation_users` level 1; a relative may be added as a
participant, level 2), a visit is one `reservation_instances` row of a series (a weekly
physiotherapy course is one series of several instances), a cancellation is the series'
status 2 ("Deleted") and times are kept in UTC. Driven as the admin would: ``discover --write``
(which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "America/Chicago"
REGION = "US"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "booking" / "librebooking" / "schema.sql"
DOCTORS = [(1, "Dr. Amara Diallo", "amara.diallo@lakeside.example.org", 30),
           (2, "Dr. Henrik Olsen", "h.olsen@lakeside.example.org", 20),
           (3, "Physiotherapy - Jana Novak", None, 45)]
STATUS = {1: "booked", 2: "cancelled", 3: "pending"}
FIRST = ["Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Barbara", "David", "Susan"]
LAST = ["Garcia", "Johnson", "Nguyen", "Brown", "Kowalski", "Okafor", "Schmidt"]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The product's rows; what the store must then hold per visit (every field the judge reads)."""
    ddl = "\n".join(line for line in FIXTURE.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    cursor.execute("SET foreign_key_checks = 0")
    for statement in ddl.split(";"):
        if statement.strip():
            cursor.execute(statement)
    cursor.execute("SET foreign_key_checks = 1")
    rng = random.Random(68)
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)  # the product keeps UTC
    cursor.execute("INSERT INTO user_statuses VALUES (1, 'Active'), (2, 'Awaiting'), (3, 'Inactive')")
    cursor.execute("INSERT INTO reservation_types VALUES (1, 'Reservation'), (2, 'Blackout')")
    cursor.execute("INSERT INTO reservation_statuses VALUES (1, 'Created'), (2, 'Deleted'), (3, 'Pending')")
    cursor.execute("INSERT INTO layouts VALUES (1, %s)", (ZONE,))
    cursor.execute("INSERT INTO schedules (schedule_id, name, isdefault, weekdaystart, daysvisible, layout_id) "
                   "VALUES (1, 'Lakeside Clinic', 1, 1, 7, 1)")
    for resource, name, email, minutes in DOCTORS:
        cursor.execute("INSERT INTO resources (resource_id, name, location, contact_info, description, min_duration, "
                       "autoassign, requires_approval, allow_multiday_reservations, schedule_id, status_id, "
                       "date_created, last_modified) VALUES (%s, %s, 'Lakeside Clinic', %s, %s, %s, 1, 0, 0, 1, 1, "
                       "%s, %s)", (resource, name, email, f"{name}'s visits", minutes * 60,
                                   now - timedelta(days=400), now - timedelta(days=30)))
    patients: dict[int, tuple[str, str | None, str]] = {}
    cursor.execute("INSERT INTO users (user_id, fname, lname, username, email, password, salt, timezone, language, "
                   "date_created, last_modified, status_id) VALUES (1, 'Front', 'Desk', 'frontdesk', "
                   "'desk@lakeside.example.org', 'x', 'y', %s, 'en_us', %s, %s, 1)",
                   (ZONE, now - timedelta(days=500), now - timedelta(days=5)))
    for p in range(2, 62):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        phone = None if p % 6 == 0 else f"(312) 555-{1000 + p:04d}"
        email = f"{first.lower()}.{last.lower()}{p}@mail.example.com"
        cursor.execute("INSERT INTO users (user_id, fname, lname, username, email, password, salt, phone, timezone, "
                       "language, date_created, last_modified, lastlogin, status_id) VALUES (%s, %s, %s, %s, %s, "
                       "'x', 'y', %s, %s, 'en_us', %s, %s, %s, 1)",
                       (p, first, last, f"{first.lower()}{p}", email, phone, ZONE, now - timedelta(days=300),
                        now - timedelta(days=p % 20, minutes=p), now - timedelta(days=p % 9)))
        patients[p] = (f"{first} {last}", None if phone is None else f"+1312555{1000 + p:04d}", email)
    truth: dict[str, dict[str, Any]] = {}
    instance = 0
    for series in range(1, 101):
        owner = 2 + rng.randrange(60)
        resource, doctor, doctor_email, minutes = DOCTORS[series % len(DOCTORS)]
        status = 2 if series % 12 == 0 else 3 if series % 15 == 0 else 1
        repeats = 3 if series % 10 == 0 else 1  # a weekly course: one series, several instances
        changed = now - (timedelta(minutes=series) if series % 20 == 0 else timedelta(days=1 + series % 6))
        cursor.execute("INSERT INTO reservation_series (series_id, date_created, last_modified, title, description, "
                       "allow_participation, allow_anon_participation, type_id, status_id, repeat_type, "
                       "repeat_options, owner_id, last_action_by) VALUES (%s, %s, %s, %s, '', 0, 0, 1, %s, %s, %s, "
                       "%s, %s)",
                       (series, now - timedelta(days=40), changed, "Follow-up" if series % 2 else "Consultation",
                        status, "weekly" if repeats > 1 else "none",
                        "interval=1|days=2" if repeats > 1 else "", owner, 1 if series % 4 == 0 else owner))
        cursor.execute("INSERT INTO reservation_resources VALUES (%s, %s, 1)", (series, resource))
        day = now.date() + timedelta(days=1 + series % 28)
        for week in range(repeats):
            instance += 1
            local = datetime(day.year, day.month, day.day, 8 + series % 9, 15 * (series % 4)) + timedelta(weeks=week)
            start = local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).replace(tzinfo=None)
            cursor.execute("INSERT INTO reservation_instances (reservation_instance_id, start_date, end_date, "
                           "reference_number, series_id) VALUES (%s, %s, %s, %s, %s)",
                           (instance, start, start + timedelta(minutes=minutes), f"{series:05x}{instance:08x}",
                            series))
            cursor.execute("INSERT INTO reservation_users VALUES (%s, %s, 1)", (instance, owner))
            if series % 9 == 0:  # a relative added as a participant: never the patient
                cursor.execute("INSERT INTO reservation_users VALUES (%s, %s, 2)", (instance, 2 + (owner + 7) % 60))
            name, phone, email = patients[owner]
            truth[str(instance)] = {
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "status": STATUS[status], "patient_id": str(owner), "name": name, "phone": phone, "email": email,
                "doctor_id": str(resource), "doctor_name": doctor, "doctor_email": doctor_email, "zone": ZONE}
    return truth


@pytest.mark.mariadb
def test_librebooking_occurrences_linked_users_and_booked_resources(mariadb_database: dict[str, Any], tmp_path: Path,
                                                                     cli: Any) -> None:
    truth = real.built(mariadb_database, build)
    settings = real.settings_file(tmp_path, ZONE, REGION)
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "FROM reservation_instances AS a" in connector["query"]  # the occurrence, not its series
    assert connector.get("stored_times") == "utc"
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items()}  # a deleted series' visits as cancelled, a pending one's as pending
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert [k for k in expected if found[k]["end"] != truth[k]["end"]] == []
    assert [k for k in expected if (found[k]["practitioner"].get("name"), found[k]["practitioner"].get("email"))
            != (truth[k]["doctor_name"], truth[k]["doctor_email"])] == []
    assert [k for k in expected if found[k]["patient"].get("email") != truth[k]["email"]] == []
