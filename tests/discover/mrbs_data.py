"""Rows as MRBS (Meeting Room Booking System) writes them (tests/fixtures/ehr/mrbs, with its SOURCE
note), for the test of `discover` on its real shape: a medical centre in Madrid booking its
doctors' consulting rooms in MRBS. One area (the centre, its ``timezone`` set), one room per
doctor (``room_name`` the doctor, ``room_admin_email`` the doctor's email); a visit a
``mrbs_entry`` row whose ``start_time``/``end_time`` are Unix seconds (INT), ``name`` the
patient's name as the desk typed it, ``create_by`` the desk's login (``mrbs_users``), ``type``
'E' or 'I', ``status`` bit flags (0x01 private, 0x02 awaiting approval, 0x04 tentative); a weekly
series a ``mrbs_repeat`` row with one entry row per occurrence (``repeat_id``). MRBS keeps no
patient contact, and a cancelled booking is deleted."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Madrid", "ES"
FIXTURE = real.FIXTURES / "mrbs" / "schema.sql"
AREA = "Centro Médico Delicias"
DOCTORS = [("Dra. Lucía Ortega", "lucia.ortega@cmdelicias.example"),
           ("Dr. Javier Romero", "javier.romero@cmdelicias.example"),
           ("Dra. Carmen Vidal", "carmen.vidal@cmdelicias.example")]
GIVEN = ["María", "José", "Ana", "Antonio", "Laura", "Manuel", "Elena", "Francisco", "Paula", "David", "Marta"]
FAMILY = ["García López", "Martínez Ruiz", "Sánchez Gil", "Pérez Navarro", "Gómez Serrano", "Fernández Molina",
          "Jiménez Ortiz", "Díaz Castro", "Moreno Rubio"]
PATIENTS, VISITS = 50, 90


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(connection: psycopg.Connection[Any]) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field
    the store must hold, and three bookings ahead to delete later (MRBS's cancellation), by id,
    with their UTC starts (not in the truth: they are deleted visits then)."""
    connection.execute(FIXTURE.read_text(encoding="utf-8"))  # one script: its function body holds ';'
    ex = connection.execute
    rng = random.Random(4409)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    area = ex("INSERT INTO mrbs_area (area_name, sort_key, timezone, area_admin_email, resolution, default_duration, "
              "morningstarts, morningstarts_minutes, eveningends, eveningends_minutes) VALUES (%s, %s, %s, "
              "'recepcion@cmdelicias.example', 900, 1800, 8, 0, 20, 0) RETURNING id", (AREA, AREA, ZONE)).fetchone()
    assert area is not None
    rooms = []
    for name, email in DOCTORS:
        row = ex("INSERT INTO mrbs_room (area_id, room_name, sort_key, description, capacity, room_admin_email) "
                 "VALUES (%s, %s, %s, %s, 2, %s) RETURNING id",
                 (area[0], name, name, f"Consulta de {name}", email)).fetchone()
        assert row is not None
        rooms.append((row[0], name, email))
    for level, login, display in ((2, "admin", "Administración"), (1, "recepcion", "Recepción"),
                                  (1, "lortega", "Lucía Ortega")):
        ex("INSERT INTO mrbs_users (level, name, display_name, password_hash, email) VALUES (%s, %s, %s, %s, %s)",
           (level, login, display, "$2y$10$" + "x" * 53, f"{login}@cmdelicias.example"))
    patients = [f"{GIVEN[p % len(GIVEN)]} {FAMILY[(p * 4) % len(FAMILY)]}" for p in range(PATIENTS)]
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    ahead: dict[int, str] = {}

    def booking(start: datetime, minutes: int, room: tuple[int, str, str], name: str, status: int = 0,
                repeat: int | None = None) -> int:
        begin = int(start.timestamp())
        row = ex("INSERT INTO mrbs_entry (start_time, end_time, entry_type, repeat_id, room_id, create_by, "
                 "modified_by, name, type, description, status, ical_uid) VALUES (%s, %s, %s, %s, %s, %s, '', %s, "
                 "%s, %s, %s, %s) RETURNING id",
                 (begin, begin + 60 * minutes, 1 if repeat else 0, repeat, room[0],
                  "recepcion" if rng.random() < 0.8 else "lortega", name, "I" if status & 1 else "E",
                  rng.choice(["Revisión", "Primera visita", "Resultados analítica", ""]), status,
                  f"MRBS-{rng.getrandbits(64):x}@cmdelicias.example")).fetchone()
        assert row is not None
        return int(row[0])

    for n in range(VISITS):
        room = rooms[n % 3]
        past = n % 5 == 4
        day = today + timedelta(days=1 + n // 4) if not past else today - timedelta(days=2 + n // 3)
        start = datetime(day.year, day.month, day.day, 9 + (n % 4) * 2 + n % 3 // 2, (0, 20, 40)[n % 3],
                         tzinfo=clinic)
        minutes = (20, 30, 40)[n % 3]
        name = patients[(n * 7) % PATIENTS]
        status = 4 if n % 9 == 3 else 1 if n % 10 == 7 else 0
        entry = booking(start, minutes, room, name, status)
        if past:
            continue
        if len(ahead) < 3 and n % 7 == 2:  # deleted by the desk after the first sync
            ahead[entry] = _iso(start)
            continue
        truth[_iso(start)] = {"end": _iso(start + timedelta(minutes=minutes)),
                              "status": "pending" if status & 4 else "booked", "name": name,
                              "doctor": str(room[0]), "doctor_name": room[1], "doctor_email": room[2], "zone": ZONE,
                              "location": AREA}
    for s, room in enumerate(rooms[:2]):  # a weekly series of four, one entry row per occurrence
        first = today + timedelta(days=2 + s)
        start = datetime(first.year, first.month, first.day, 19, 0, tzinfo=clinic)
        name = patients[20 + s]
        repeat = ex("INSERT INTO mrbs_repeat (start_time, end_time, rep_type, end_date, rep_opt, room_id, create_by, "
                    "name, type, rep_interval, ical_uid) VALUES (%s, %s, 2, %s, '', %s, 'recepcion', %s, 'E', 1, %s) "
                    "RETURNING id", (int(start.timestamp()), int(start.timestamp()) + 1800,
                                     int((start + timedelta(weeks=3)).timestamp()), room[0], name,
                                     f"MRBS-series-{s}@cmdelicias.example")).fetchone()
        assert repeat is not None
        for week in range(4):
            at = start + timedelta(weeks=week)
            booking(at, 30, room, name, repeat=repeat[0])
            truth[_iso(at)] = {"end": _iso(at + timedelta(minutes=30)), "status": "booked", "name": name,
                               "doctor": str(room[0]), "doctor_name": room[1], "doctor_email": room[2], "zone": ZONE,
                               "location": AREA}
    return truth, ahead
