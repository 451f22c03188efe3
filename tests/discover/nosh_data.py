"""A NOSH ChartingSystem 2 practice's database, filled the way NOSH writes it (tests/fixtures/ehr/nosh,
with its SOURCE note): visit starts and ends as Unix seconds (``strtotime`` in the practice's zone),
the patient by ``pid`` and the doctor by ``provider_id`` without any foreign key, ``user_id`` the
front-desk user who saved the row, events with no patient (``pid`` 0, empty status) blocking a
doctor's time, and NOSH's status words. Synthetic people: fiction phone numbers (555-01xx)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE = "America/Chicago"
STATUS = {"Pending": "pending", "Attended": "fulfilled", "DNKA": "noshow", "LMC": "cancelled"}
GIVEN = ["Ava", "Liam", "Mia", "Noah", "Emma", "Ethan", "Olivia", "Lucas", "Amelia", "Mason", "Harper"]
FAMILY = ["Nguyen", "Patel", "Okafor", "Schmidt", "Rossi", "Kowalski", "Haddad", "Silva", "Tanaka", "Murphy"]
PATIENTS, VISITS, BLOCKED = 60, 180, 10
TYPES = {"Follow-up": 1200, "New Patient": 3600, "Physical": 1800}  # NOSH keeps durations in seconds
DOCTORS = {2: ("Grace", "Hopper"), 3: ("Alan", "Turing"), 4: ("Ada", "Lovelace")}
DESK = 5  # the front-desk user who saves most visits: NOSH's user_id


def build(cursor: Any) -> dict[str, real.Want]:
    """The schema, filled; per visit id what the store must hold (blocked events: nothing)."""
    real.load_schema(cursor, "nosh")
    put = real.insert_rows
    put(cursor, "INSERT INTO users (id, username, displayname, firstname, lastname, title, group_id, active, "
                "practice_id) VALUES (%s, %s, %s, %s, %s, %s, %s, 1, 1)",
        [(1, "admin", "Administrator", None, None, None, 1), (DESK, "frontdesk", "Front Desk", "Pat", "Desk", None, 3)]
        + [(i, f"dr{i}", f"{g} {f}, MD", g, f, "MD", 2) for i, (g, f) in DOCTORS.items()])
    put(cursor, "INSERT INTO providers (id, npi, specialty, practice_id) VALUES (%s, %s, %s, 1)",
        [(i, f"10000000{i}", "Family Medicine") for i in DOCTORS])
    put(cursor, "INSERT INTO calendar (visit_type, duration, classname, active, practice_id) "
                "VALUES (%s, %s, 'colorblue', 'y', 1)", list(TYPES.items()))
    phones: dict[int, str | None] = {}
    patients = []
    for p in range(1, PATIENTS + 1):
        cell = f"(312) 555-01{p % 100:02d}" if p % 6 else ""  # every sixth: no cell, a home phone
        home = f"312-555-02{p % 100:02d}" if p % 3 == 0 else ""
        phones[p] = f"+1312555{('01' if cell else '02')}{p % 100:02d}" if cell or home else None
        patients.append((p, FAMILY[p % len(FAMILY)], GIVEN[p % len(GIVEN)], datetime(1960 + p % 40, 1 + p % 12, 1),
                         home, cell, f"patient{p}@example.org" if p % 2 else "", "Email" if p % 2 else "Text",
                         1, "English"))
    put(cursor, "INSERT INTO demographics (pid, lastname, firstname, DOB, phone_home, phone_cell, email, "
                "reminder_method, active, language) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", patients)
    zone, today = ZoneInfo(ZONE), datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    words = list(STATUS)
    expected: dict[str, real.Want] = {}
    rows = []
    for n in range(1, VISITS + BLOCKED + 1):
        day = today + timedelta(days=(n % 40) - 15)
        local = datetime(day.year, day.month, day.day, 8 + n % 9, 20 * (n % 3), tzinfo=zone)
        start = int(local.timestamp())
        if n > VISITS:  # a doctor's blocked hour: no patient, no status
            rows.append((n, 0, start, start + 3600, "Lunch", "", "Lunch", "", 2 + n % 3, DESK))
            continue
        pid, kind, doctor = 1 + n % PATIENTS, list(TYPES)[n % 3], 2 + n % 3
        status = "Pending" if local.date() >= today else words[n % 4]
        family, given = FAMILY[pid % len(FAMILY)], GIVEN[pid % len(GIVEN)]
        title = f"{family}, {given} (DOB: 01/01/{1960 + pid % 40}) (ID: {pid})"
        rows.append((n, pid, start, start + TYPES[kind], title, kind, "checkup", status, doctor,
                     DESK if n % 10 else doctor))
        utc = local.astimezone(UTC).isoformat().replace("+00:00", "Z")
        expected[str(n)] = (utc, STATUS[status], str(pid), f"{given} {family}", phones[pid], str(doctor))
    put(cursor, "INSERT INTO schedule (appt_id, pid, start, end, title, visit_type, reason, status, provider_id, "
                "user_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected
