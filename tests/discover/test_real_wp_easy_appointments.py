"""`discover` on the real shape of Easy Appointments, a WordPress booking plugin, in MariaDB
(tests/fixtures/ehr/wp_easy_appointments, with its SOURCE note). The customer has no table of
their own: name, email and phone are typed into the booking form and kept on each appointment
row (`user` is a WordPress user id for the few who log in, NULL for guests), so one patient is
the same email on several rows. A visit is the site's day (`date`) with a start and an end TIME
of that day; the worker (the doctor) and the service are rows of their own tables, linked by
declared foreign keys. The workers' working hours (`wp_ea_connections`: days, times, a worker,
no customer) are the look-alike. Status words: `confirmed`, `pending`, `reservation` (a slot
held while the customer fills in the form), `canceled` (one l).
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "America/Chicago"
REGION = "US"
WORKERS = [(1, "Dr. Laura Benson", "l.benson@smilecare.example.com", "(312) 555-0140"),
           (2, "Dr. Omar Haddad", "o.haddad@smilecare.example.com", "312-555-0141"),
           (3, "Kim Tran, RDH", "k.tran@smilecare.example.com", "3125550142")]
SERVICES = [(1, "Cleaning", 30), (2, "Exam and X-rays", 45), (3, "Filling", 60)]
STATUS = {"confirmed": "booked", "pending": "pending", "reservation": "pending", "canceled": "cancelled"}
FIRST = ["Ava", "Noah", "Mia", "Liam", "Zoe", "Ethan", "Chloe", "Lucas", "Ella", "Mason"]
LAST = ["Kowalski", "Reyes", "Okafor", "Lindqvist", "Moreau", "Sato", "Fischer", "Abbott"]
CUSTOMERS, VISITS = 60, 150
BACK = timedelta(days=1)


def typed(e164: str, style: int) -> str:
    """A US number as people type it into the booking form."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", f"{area}-{exchange}-{line}",
            f"+1 {area} {exchange} {line}", f"{area}{exchange}{line}"][style % 5]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The plugin's rows as the booking form writes them; what the store must then hold."""
    real.load_schema(cursor, "wp_easy_appointments")
    rng = random.Random(5120)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    cursor.execute("INSERT INTO wp_ea_locations (id, name, address, location) VALUES "
                   "(1, 'SmileCare Lakeview', '2900 N Broadway, Chicago, IL', 'Lakeview')")
    for key, value in (("mail.pending", "pending"), ("mail.reservation", "reservation"),
                       ("mail.canceled", "canceled"), ("mail.confirmed", "confirmed"), ("time_format", "00-24")):
        cursor.execute("INSERT INTO wp_ea_options (ea_key, ea_value, type) VALUES (%s, %s, 'default')", (key, value))
    for worker, name, email, phone in WORKERS:
        cursor.execute("INSERT INTO wp_ea_staff (id, name, description, email, phone) VALUES (%s, %s, '', %s, %s)",
                       (worker, name, email, phone))
    for service, name, minutes in SERVICES:
        cursor.execute("INSERT INTO wp_ea_services (id, name, duration, price) VALUES (%s, %s, %s, 90)",
                       (service, name, minutes))
    for worker, _, _, _ in WORKERS:
        for service, _, _ in SERVICES:
            cursor.execute("INSERT INTO wp_ea_connections (group_id, location, service, worker, day_of_week, "
                           "time_from, time_to, day_from, day_to, is_working) VALUES (%s, 1, %s, %s, "
                           "'Monday,Tuesday,Wednesday,Thursday,Friday', '08:00:00', '17:00:00', %s, %s, 1)",
                           (worker, service, worker, now.date() - timedelta(days=300),
                            now.date() + timedelta(days=365)))
    customers: list[tuple[str, str, str]] = []
    for c in range(CUSTOMERS):
        first, last = FIRST[c % len(FIRST)], LAST[(c * 3) % len(LAST)]
        e164 = f"+1{rng.choice(['312', '773', '872'])}{rng.randrange(202, 990)}{rng.randrange(10**4):04d}"
        customers.append((f"{first} {last}", f"{first.lower()}.{last.lower()}{c}@mail.example.com", e164))
    truth: dict[str, dict[str, Any]] = {}
    today = now.date()
    for visit in range(1, VISITS + 1):
        worker = WORKERS[visit % len(WORKERS)][0]
        service, _, minutes = SERVICES[visit % len(SERVICES)]
        past = visit % 4 == 0
        day = today - timedelta(days=1 + visit % 6) if past else today + timedelta(days=1 + visit % 25)
        start_minutes = 8 * 60 + 15 * (visit % 32)
        start = datetime.combine(day, time(start_minutes // 60, start_minutes % 60), ZoneInfo(ZONE))
        end = start + timedelta(minutes=minutes)
        status = ("canceled" if visit % 9 == 0 else "reservation" if visit % 23 == 0
                  else "pending" if visit % 7 == 0 else "confirmed")
        name, email, e164 = customers[rng.randrange(CUSTOMERS)]
        phone = typed(e164, visit) if visit % 29 else "call the front desk"  # retyped on every booking
        created = now.replace(tzinfo=None) - timedelta(days=(20 if past else 3) + visit % 9, minutes=visit)
        cursor.execute("INSERT INTO wp_ea_appointments (id, location, service, worker, name, email, phone, date, "
                       "start, end, description, status, user, created, price, ip, session) VALUES (%s, 1, %s, %s, "
                       "%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, 90, %s, %s)",
                       (visit, service, worker, name, email, phone, day, start.time(), end.time(),
                        "" if visit % 3 else "Sensitive tooth, lower left", status, created,
                        f"73.{visit % 200}.{visit % 50}.{visit % 254 + 1}", f"{rng.randrange(16**32):032x}"))
        truth[str(visit)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "status": STATUS[status], "in_window": day >= (now - BACK).date(),
                             "patient_id": e164 if visit % 29 else email,
                             "name": name, "phone": e164 if visit % 29 else None, "doctor_id": str(worker),
                             "doctor_name": WORKERS[worker - 1][1]}
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    """The visits the window holds (whole days on the `date` column). With no customer table the
    patient is known by the phone typed on the booking, read as +E.164 (else the email)."""
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["in_window"]}


@pytest.mark.mariadb
def test_easy_appointments_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Any,
                                                           cli: Any) -> None:
    """The start and end are the day with its two times of day, in the clinic's zone; the worker is
    the doctor (its id the booking's `worker`, not the email or the name standing in); the working
    hours are not visits; 'reservation' is the one word asked (a held slot, not a booking)."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    command = [str(mariadb_database["url"])]
    before = settings.read_text(encoding="utf-8")
    _, out, _ = run("discover", *command, "--write", expect=1)
    print(out)
    assert "'reservation'" in out and "(reasons: status x" in out, out
    mapping = real.written_mapping(tmp_path)
    assert mapping["status_map"] == {w: s for w, s in STATUS.items() if w != "reservation"}
    fields = mapping["fields"]
    assert fields["start"] == {"date": "date", "time": "start"} and fields["end"] == {"date": "date", "time": "end"}
    assert fields["practitioner.external_id"] == {"from": "worker"}, fields
    edits = real.words_mapped(real.mapping_file(tmp_path), {"reservation": "pending"})  # the form holds the slot
    assert data.admin_lines(before, command, edits) == 8  # getting-started's six, the URL, one word
    _, checked, _ = run("check")
    assert "0 would be quarantined, 0 problems" in checked, checked
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "wp_ea_connections" not in connector["query"]
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    doctors = [k for k in found if (found[k].get("practitioner") or {}).get("name") != truth[k]["doctor_name"]]
    assert doctors == []
