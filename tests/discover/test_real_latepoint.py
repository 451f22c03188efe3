"""`discover` on the real shape of LatePoint, a WordPress booking plugin, in MariaDB
(tests/fixtures/ehr/latepoint, with its SOURCE note): no declared foreign keys (WordPress
dbDelta), the prefix `wp_latepoint_`. A booking writes its time three ways on one row: the
site's calendar day (`start_date` DATE) with MINUTES SINCE MIDNIGHT (`start_time` mediumint),
the same moment in UTC (`start_datetime_utc`), and the site's zone (`server_timezone`); its
customer and agent (the doctor, with their own name, email and phone) are numbers naming rows
of their own tables. The agent's time off (`wp_latepoint_blocked_periods`) has the same time
columns and an agent but no customer: a look-alike that must not be read as the visits.
Customers and agents have `password` (and customers `activation_key`) columns.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "America/New_York"
REGION = "US"
DOCTORS = [(1, "Maria", "Lopez", "Dr. Maria Lopez", "m.lopez@clinic.example.com", "(212) 684-2210"),
           (2, "Samuel", "Okafor", "Dr. Sam Okafor", "s.okafor@clinic.example.com", "212.684.2211"),
           (3, "Hannah", "Berg", "Hannah Berg, NP", "h.berg@clinic.example.com", "+1 212 684 2212"),
           (4, "Wei", "Chen", "Dr. Wei Chen", "w.chen@clinic.example.com", "2126842213")]
SERVICES = [(1, "New patient visit", 45), (2, "Follow-up", 15), (3, "Annual physical", 60), (4, "Telehealth", 30)]
STATUS = {"approved": "booked", "pending": "pending", "payment_pending": "pending", "cancelled": "cancelled",
          "no_show": "noshow", "completed": "fulfilled"}
FIRST = ["James", "Mary", "Robert", "Patricia", "Luis", "Jennifer", "Michael", "Aisha", "David", "Grace"]
LAST = ["Smith", "Johnson", "Nguyen", "Brown", "Rivera", "Garcia", "Miller", "Patel"]
PATIENTS, VISITS = 70, 160
BACK = timedelta(days=1)  # the SQL connector's default window: visits that started up to a day ago
HASH = "$2y$10$Jm7tZk1kQ0c6mV2m4n3YTeN5gOQbXJcQmQy6c1x9x7a0H2bEw4l1S"


def typed(e164: str, style: int) -> str:
    """A US number as people type it into the booking form."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", f"{area}-{exchange}-{line}",
            f"+1 {area} {exchange} {line}", f"{area}{exchange}{line}", f"1-{area}-{exchange}-{line}"][style % 6]


def local(day: date, minutes: int) -> datetime:
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=ZoneInfo(ZONE))


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The plugin's rows as LatePoint writes them; what the store must then hold per booking."""
    real.load_schema(cursor, "latepoint")
    rng = random.Random(4417)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    site_now = now.replace(tzinfo=None)  # created_at/updated_at: the site's wall clock
    cursor.execute("INSERT INTO wp_latepoint_settings (name, value, created_at) VALUES ('default_booking_status', "
                   "'approved', %s), ('timeslot_blocking_statuses', 'approved', %s)", (site_now, site_now))
    cursor.execute("INSERT INTO wp_latepoint_locations (id, name, full_address, status, created_at) VALUES "
                   "(1, 'Main office', '120 W 45th St, New York, NY', 'active', %s)", (site_now,))
    for service, name, minutes in SERVICES:
        cursor.execute("INSERT INTO wp_latepoint_services (id, name, charge_amount, duration, buffer_before, "
                       "buffer_after, timeblock_interval, capacity_min, capacity_max, status, visibility, created_at) "
                       "VALUES (%s, %s, 120, %s, 0, 5, 15, 1, 1, 'active', 'visible', %s)",
                       (service, name, minutes, site_now))
    for agent, first, last, display, email, phone in DOCTORS:
        cursor.execute("INSERT INTO wp_latepoint_agents (id, first_name, last_name, display_name, title, email, "
                       "phone, password, wp_user_id, status, created_at) VALUES (%s, %s, %s, %s, 'Physician', %s, "
                       "%s, %s, %s, 'active', %s)", (agent, first, last, display, email, phone, HASH, 20 + agent,
                                                     site_now - timedelta(days=400)))
        for week_day in range(1, 6):
            cursor.execute("INSERT INTO wp_latepoint_work_periods (agent_id, service_id, location_id, start_time, "
                           "end_time, week_day, chain_id, created_at) VALUES (%s, 0, 0, 540, 1020, %s, %s, %s)",
                           (agent, week_day, f"{agent}{week_day}", site_now - timedelta(days=400)))
    patients: dict[int, tuple[str, str, str]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        e164 = f"+1{rng.choice(['212', '646', '718', '917'])}{rng.randrange(202, 990)}{rng.randrange(10**4):04d}"
        email = "" if p % 7 == 0 else f"{first.lower()}.{last.lower()}{p}@mail.example.com"
        guest = p % 3 == 0
        cursor.execute("INSERT INTO wp_latepoint_customers (id, first_name, last_name, email, phone, status, "
                       "password, activation_key, is_guest, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, "
                       "'active', %s, %s, %s, %s, %s)",
                       (p, first, last, email, typed(e164, p), None if guest else HASH,
                        f"{rng.randrange(16**20):020x}", guest, site_now - timedelta(days=90 + p),
                        site_now - timedelta(days=p % 30)))
        patients[p] = (f"{first} {last}", e164, email)
    truth: dict[str, dict[str, Any]] = {}
    today = now.date()
    for visit in range(1, VISITS + 1):
        agent, first, last = DOCTORS[visit % len(DOCTORS)][:3]
        service, _, minutes = SERVICES[visit % len(SERVICES)]
        past = visit % 4 == 0
        day = today - timedelta(days=1 + visit % 6) if past else today + timedelta(days=1 + visit % 25)
        start_minutes = 8 * 60 + 15 * (visit % 36)  # 08:00 .. 16:45
        start = local(day, start_minutes)
        if abs(start - (now - BACK)) < timedelta(minutes=45):
            continue  # at the window's edge as the test runs: in or out depends on the second it syncs
        end = start + timedelta(minutes=minutes)
        status = (("no_show" if visit % 3 == 0 else "cancelled" if visit % 7 == 0 else "completed") if past
                  else "cancelled" if visit % 11 == 0 else "payment_pending" if visit % 17 == 0
                  else "pending" if visit % 5 == 0 else "approved")
        patient = 1 + rng.randrange(PATIENTS)
        booked = site_now - timedelta(days=(25 if past else 2) + visit % 9, minutes=visit)
        cursor.execute("INSERT INTO wp_latepoint_bookings (id, booking_code, start_date, end_date, start_time, "
                       "end_time, start_datetime_utc, end_datetime_utc, buffer_before, buffer_after, duration, "
                       "status, customer_id, service_id, agent_id, location_id, total_attendees, customer_timezone, "
                       "server_timezone, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, 5, %s, "
                       "%s, %s, %s, %s, 1, 1, %s, %s, %s, %s)",
                       (visit, f"{rng.randrange(36**7):07X}"[:7], day, day, start_minutes, start_minutes + minutes,
                        utc_naive(start), utc_naive(end), minutes, status, patient, service, agent,
                        "America/Chicago" if visit % 6 == 0 else ZONE, ZONE, booked, booked))
        cursor.execute("INSERT INTO wp_latepoint_activities (agent_id, booking_id, service_id, customer_id, "
                       "location_id, code, description, initiated_by, created_at) VALUES (%s, %s, %s, %s, 1, "
                       "'booking_created', '{}', 'customer', %s)", (agent, visit, service, patient, booked))
        name, phone, email = patients[patient]
        truth[str(visit)] = {"start": utc_naive(start).strftime("%Y-%m-%dT%H:%M:%SZ"), "status": STATUS[status],
                             "in_window": start >= now - BACK,  # by the UTC instant
                             "in_day_window": day >= (now - BACK).date(),  # by the site's day: whole days
                             "patient_id": str(patient), "name": name, "phone": phone, "email": email or None,
                             "doctor_id": str(agent), "doctor_name": f"{first} {last}"}
    for block in range(1, 41):  # agents' time off: lunch breaks and half days, no customer
        agent = DOCTORS[block % len(DOCTORS)][0]
        day = today + timedelta(days=block % 28 - 3)
        start_minutes = 12 * 60 if block % 3 else 13 * 60
        span = 60 if block % 3 else 240
        start = local(day, start_minutes)
        cursor.execute("INSERT INTO wp_latepoint_blocked_periods (summary, start_date, end_date, start_time, "
                       "end_time, start_datetime_utc, end_datetime_utc, service_id, agent_id, location_id, "
                       "server_timezone, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s, 0, %s, "
                       "%s, %s)", ("Lunch" if block % 3 else "Out of office", day, day, start_minutes,
                                   start_minutes + span, utc_naive(start), utc_naive(start + timedelta(minutes=span)),
                                   agent, ZONE, site_now - timedelta(days=30), site_now - timedelta(days=30)))
    return truth


def expected(truth: dict[str, dict[str, Any]], window: str = "in_window") -> dict[str, real.Want]:
    """The visits the sync window holds (the booking table keeps its history before it): by the
    UTC instant, or (``in_day_window``) by the site's day when the window is on the date column."""
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t[window]}


@pytest.mark.mariadb
def test_latepoint_bookings_by_their_utc_instant_and_agents(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The start is the UTC column (not the day with the minutes read in some zone); the patient
    and the doctor are the rows the booking's numbers name; the blocked periods are not visits."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "FROM wp_latepoint_bookings AS a" in connector["query"] and "blocked" not in connector["query"]
    assert connector["stored_times"] == "utc"
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    doctors = [k for k in found if (found[k].get("practitioner") or {}).get("name") != truth[k]["doctor_name"]]
    assert doctors == []
    written = (settings.read_text(encoding="utf-8")
               + "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert "password" not in written and "activation_key" not in written


@pytest.mark.mariadb
def test_latepoint_without_the_utc_columns_reads_the_day_and_its_minutes(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """An install that keeps only the site's day and MINUTES SINCE MIDNIGHT: the start is that
    day at that many minutes, in the clinic's zone (never the day at midnight, never 540 read as
    a clock), the window on the day column."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    real.built(mariadb_database, lambda cursor: [cursor.execute(
        f"ALTER TABLE {table} DROP COLUMN start_datetime_utc, DROP COLUMN end_datetime_utc")
        for table in ("wp_latepoint_bookings", "wp_latepoint_blocked_periods")])
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "a.start_date BETWEEN CAST(:window_start AS DATE)" in connector["query"]
    real.sync_and_compare(run, connector, expected(truth, "in_day_window"), ZONE)


@pytest.mark.mariadb
def test_latepoint_minutes_that_could_be_a_clock_are_left_out(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The same install whose bookings all start on the hour or at half past before 16:00 (540,
    570, 600 ... 930: each could be 09:30 written as HHMM too): the start is left out with the
    reason, and `check` (run by discover) fails rather than guess."""
    _, _, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    real.built(mariadb_database, lambda cursor: [cursor.execute(sql) for sql in (
        "ALTER TABLE wp_latepoint_bookings DROP COLUMN start_datetime_utc, DROP COLUMN end_datetime_utc",
        "UPDATE wp_latepoint_bookings SET start_time = 600 + 100 * (id % 5), end_time = 630 + 100 * (id % 5)")])
    code, out, _ = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(out)
    assert code == 1, out
    assert "start: left out, not guessed: 'start_date' with 'start_time' as minutes since midnight: every " \
           "value could be a clock written as HHMM" in out, out
    assert "would quarantine x" in out and ": start: missing" in out, out


@pytest.mark.mariadb
def test_latepoint_without_a_customer_contact_cannot_remind_anyone(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """A form that asks no phone and leaves the email empty: the agents' phones and emails must
    not stand in for the customers', so `check` (run by discover) fails."""
    _, _, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    real.built(mariadb_database, lambda cursor: cursor.execute(
        "UPDATE wp_latepoint_customers SET phone = NULL, email = ''"))
    code, out, _ = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(out)
    assert code == 1, out
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "patient.phone, patient.email: only 0 of" in errors[0], out
    assert "agent" not in errors[0], errors[0]
