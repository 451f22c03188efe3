"""A recurring series kept as ONE row, its repeat rule as RRULE text (a groupware calendar's
weekly therapy series): built here on the real PostgreSQL and MariaDB, discover must propose the
expansion and ``sync --once`` must store every session inside the window, each at its own wall
time in the clinic's zone (across a DST change), nothing else.

The schema: ``bookings`` (naive local date-times) with ``repeat_rule`` (RRULE text, empty on a
single visit), ``skip_dates`` (EXDATE text on the series row), a row replacing one session of a
series (``parent_booking_id`` naming it, ``first_start`` the session's original start), a state
word; ``clients`` and ``staff`` referred to. The series: six weekly sessions across the next DST
change (COUNT), five weekly sessions ending by UNTIL with one taken out (EXDATE), a weekly one
without end begun ten weeks before the window with one session moved to the next afternoon (its
own row), and a cancelled series (none of its sessions a live visit)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

server = ehr.server
ZONE = "Europe/Berlin"
DDL = """
CREATE TABLE clients (client_id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  mobile VARCHAR(30), email VARCHAR(80));
CREATE TABLE staff (staff_id INTEGER PRIMARY KEY, display_name VARCHAR(60) NOT NULL, email VARCHAR(80));
CREATE TABLE bookings (booking_id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL REFERENCES clients(client_id),
  staff_id INTEGER NOT NULL REFERENCES staff(staff_id), starts_at {TS} NOT NULL, ends_at {TS} NOT NULL,
  state VARCHAR(20) NOT NULL, repeat_rule VARCHAR(200), skip_dates VARCHAR(400), parent_booking_id INTEGER,
  first_start {TS}, created {TS} NOT NULL)
"""
STAFF = {1: ("Dr. Anna Weber", "weber@praxis.example.org"), 2: ("Dr. Jonas Keller", "keller@praxis.example.org")}


def _utc(local: datetime) -> str:
    return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(local: datetime) -> str:
    return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def next_change(after: date) -> date:
    """The first day after ``after`` on which Europe/Berlin's offset differs from the day before."""
    zone, day = ZoneInfo(ZONE), after
    while True:
        nxt = day + timedelta(days=1)
        if datetime(nxt.year, nxt.month, nxt.day, 12, tzinfo=zone).utcoffset() != \
                datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset():
            return nxt
        day = nxt


def _fill(cursor: Any, dialect: str) -> dict[str, dict[str, Any]]:
    """The rows, and the visits the store must hold after the first sync, by id."""
    follow.create(cursor, dialect, DDL)
    created = datetime.now().replace(microsecond=0) - timedelta(days=120)
    for c in range(1, 21):
        cursor.execute("INSERT INTO clients VALUES (%s, %s, %s, %s, %s)",
                       (c, f"Lena{c}", f"Koch{c}", f"+49 151 2345 {6000 + c}", f"lena{c}@mail.example.org"))
    for s, (name, email) in STAFF.items():
        cursor.execute("INSERT INTO staff VALUES (%s, %s, %s)", (s, name, email))
    want: dict[str, dict[str, Any]] = {}
    today = datetime.now(ZoneInfo(ZONE)).date()
    booking = 0

    def row(client: int, staff: int, start: datetime, minutes: int, state: str = "booked", rule: str | None = None,
            skip: str | None = None, parent: int | None = None, first: datetime | None = None) -> int:
        nonlocal booking
        booking += 1
        cursor.execute("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (booking, client, staff, start, start + timedelta(minutes=minutes), state, rule, skip, parent,
                        first, created))
        return booking

    def truth(key: str, client: int, staff: int, start: datetime, minutes: int, state: str = "booked") -> None:
        want[key] = {"start": _utc(start), "end": _utc(start + timedelta(minutes=minutes)), "status": state,
                     "patient": str(client), "name": f"Lena{client} Koch{client}",
                     "phone": f"+491512345{6000 + client}",
                     "email": f"lena{client}@mail.example.org", "doctor": str(staff),
                     "doctor_name": STAFF[staff][0], "doctor_email": STAFF[staff][1]}

    for n in range(30):  # single visits
        day = today + timedelta(days=2 + n * 3)
        start = datetime(day.year, day.month, day.day, 8 + n % 8, (0, 30)[n % 2])
        client, staff = 5 + n % 15, 1 + n % 2
        key = row(client, staff, start, 30, "cancelled" if n % 7 == 3 else "booked")
        truth(str(key), client, staff, start, 30, "cancelled" if n % 7 == 3 else "booked")
    # six weekly sessions at 09:00 local across the next DST change (COUNT)
    change = next_change(today + timedelta(days=20))
    first = change - timedelta(days=14)
    first_start = datetime(first.year, first.month, first.day, 9, 0)
    series = row(1, 1, first_start, 45, rule="FREQ=WEEKLY;COUNT=6")
    for k in range(6):
        at = first_start + timedelta(weeks=k)
        truth(f"{series}/{_stamp(at)}", 1, 1, at, 45)
    # five weekly sessions at 10:30 ending by UNTIL (a trailing RRULE:), the second taken out (EXDATE)
    day = today + timedelta(days=4)
    start = datetime(day.year, day.month, day.day, 10, 30)
    until = (start + timedelta(weeks=4)).replace(hour=23, minute=59)
    skipped = start + timedelta(weeks=1)
    series = row(2, 2, start, 30, rule=f"RRULE:FREQ=WEEKLY;INTERVAL=1;UNTIL={_stamp(until)}",
                 skip=f"{skipped:%Y%m%dT%H%M%S}")
    for k in (0, 2, 3, 4):
        at = start + timedelta(weeks=k)
        truth(f"{series}/{_stamp(at)}", 2, 2, at, 30)
    # weekly at 14:00 without end, begun ten weeks before the window; its third session in the
    # window moved to the next day at 16:00 (a row of its own replacing it)
    day = today + timedelta(days=3) - timedelta(weeks=10)
    begun = datetime(day.year, day.month, day.day, 14, 0)
    series = row(3, 1, begun, 50, rule=f"FREQ=WEEKLY;BYDAY={begun.strftime('%a')[:2].upper()}")
    window_end = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None) + timedelta(days=180)
    sessions = [begun + timedelta(weeks=k) for k in range(10, 60) if begun + timedelta(weeks=k) < window_end]
    moved_from = sessions[2]
    moved_to = (moved_from + timedelta(days=1)).replace(hour=16)
    moved = row(3, 1, moved_to, 50, parent=series, first=moved_from)
    truth(str(moved), 3, 1, moved_to, 50)
    for at in sessions:
        if at != moved_from:
            truth(f"{series}/{_stamp(at)}", 3, 1, at, 50)
    # a cancelled series: none of its sessions is a live visit
    day = today + timedelta(days=6)
    row(4, 2, datetime(day.year, day.month, day.day, 11, 0), 30, "cancelled", rule="FREQ=WEEKLY;COUNT=4")
    return want


def test_series_rows_are_read_as_their_sessions(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url, opener, dialect = server
    with opener() as cursor:
        want = _fill(cursor, dialect)
    settings = data.admin_settings(tmp_path, ZONE)
    run = cli(settings)
    _, out, _ = run("discover", url, "--timezone", ZONE, "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert (report["error"], report["quarantined"]) == (None, 0), report
    found = data.stored(run)
    live = {k: v for k, v in found.items() if v["status"] != "cancelled"}
    # every live visit is one the source means, and every one it means is there, field by field
    assert sorted(set(live) - set(want)) == []
    checked = ["status", "patient", "name", "phone", "email", "doctor", "doctor_name", "doctor_email"]
    assert follow.wrong(found, want, checked) == {}
    times = {k: (found[k]["start"], found[k]["end"]) for k in want if k in found}
    assert times == {k: (w["start"], w["end"]) for k, w in want.items()}
    assert connector["series"]["rule"] == "repeat_rule" and connector["mode"] == "snapshot", connector
