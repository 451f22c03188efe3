"""Everybody in one users table: the person a room is booked for and the doctor who owns the
consulting room alike (not any product's tables). ``bookings.room_id`` -> ``rooms.owner_id`` ->
``users``, ``bookings.booked_for_id`` -> ``users``, ``bookings.created_by_id`` the desk. An owner
in the patients' table was never taken for the doctor (a course's booker owns its course), so the
room was: its name on the agendas, no email. The rows tell a keeper from a booker: rooms owned by
several people, almost never booked for their own owner — the owner is the doctor (id, name,
email; diarykeeper.py), the room's name is where the visit is, and a booking made for one of the
owners (a doctor's own) is no patient's visit. On PostgreSQL and MariaDB: discover --write,
sync --once, every visit's patient, doctor and place, and no other visit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server  # the fixture: an empty database in each of the two servers

DDL = """
CREATE TABLE users (id INTEGER PRIMARY KEY, first_name VARCHAR(40) NOT NULL, last_name VARCHAR(40) NOT NULL,
  email VARCHAR(80), phone VARCHAR(30));
CREATE TABLE rooms (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, owner_id INTEGER NOT NULL REFERENCES users(id));
CREATE TABLE bookings (id INTEGER PRIMARY KEY, room_id INTEGER NOT NULL REFERENCES rooms(id),
  booked_for_id INTEGER NOT NULL REFERENCES users(id), created_by_id INTEGER NOT NULL REFERENCES users(id),
  starts_at {TS} NOT NULL, ends_at {TS} NOT NULL, status VARCHAR(20) NOT NULL);
"""
GIVEN = ["Ana", "Luis", "Marta", "Jonas", "Eva", "Karim", "Nadia", "Paul", "Sara", "Tomas", "Ines"]
FAMILY = ["Diaz", "Rey", "Novak", "Berg", "Costa", "Haddad", "Ivanova", "Moreau", "Lind"]
DOCTORS = {2: ("Helen", "Okafor"), 3: ("Pierre", "Lambert"), 4: ("Yuki", "Sato")}


def _fill(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, DDL)
    users = [(1, "Front", "Desk", "desk@clinic.example", "617 555 0100")]
    users += [(u, first, last, f"{first}.{last}@clinic.example".lower(), None) for u, (first, last) in DOCTORS.items()]
    users += [(p, GIVEN[p % 11], FAMILY[p % 9], f"{GIVEN[p % 11]}{p}@mail.example".lower(), f"617 555 {1000 + p}")
              for p in range(10, 50)]
    cursor.executemany("INSERT INTO users VALUES (%s, %s, %s, %s, %s)", users)
    cursor.executemany("INSERT INTO rooms VALUES (%s, %s, %s)",
                       [(r, f"Consulting room {r}", 1 + r) for r in (1, 2, 3)])
    rows, want = [], {}
    for n, start in enumerate(follow.slots(60, seed=12)):
        room, p = 1 + n % 3, 10 + (n * 7) % 40
        rows.append((n + 1, room, p, 1, start, start + timedelta(minutes=20), "booked"))
        first, last = DOCTORS[1 + room]
        want[str(n + 1)] = {"status": "booked", "patient": str(p), "name": f"{GIVEN[p % 11]} {FAMILY[p % 9]}",
                            "email": f"{GIVEN[p % 11]}{p}@mail.example".lower(), "doctor": str(1 + room),
                            "doctor_name": f"{first} {last}", "doctor_email": f"{first}.{last}@clinic.example".lower()}
    for w, start in enumerate(follow.slots(5, seed=13)):  # the doctors' own bookings: no patient's visits
        rows.append((100 + w, 1 + w % 3, 2 + (w + 1) % 3, 2, start, start + timedelta(hours=1), "booked"))
    cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    return want


def test_the_rooms_owner_is_the_doctor(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, fields, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert fields["patient.external_id"] == {"from": "booked_for_id"}, fields
    assert follow.wrong(found, want, ["status", "patient", "name", "email", "doctor", "doctor_name",
                                      "doctor_email"]) == {}
    assert set(found) == set(want)  # a booking for a room's owner is the staff's own
    rooms = {k: v.get("location") for k, v in found.items()}
    assert rooms == {str(n + 1): f"Consulting room {1 + n % 3}" for n in range(60)}  # where the patient goes
