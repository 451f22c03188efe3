"""A booking schema built here, on the real PostgreSQL and MariaDB: the visit is one session of a
course (``course_sessions``: start, end, the course), while the course row holds only its stamps,
its state (a code of ``course_states``, whose title says 'Created' or 'Deleted') and nothing else
of a time; the patient is the session's first member through a link table (``session_members``:
session, member, role 1 the booker, 2 a companion) and the doctor is the room the course books
through another link table (``course_rooms``), its contact an email under a name that does not
say so. The proposal must read the session, the member, the room and the word of the state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server
DDL = """
CREATE TABLE course_states (state_id INTEGER PRIMARY KEY, title VARCHAR(40) NOT NULL);
CREATE TABLE members (member_id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  email VARCHAR(80) NOT NULL, mobile VARCHAR(30), created {TS}, modified {TS});
CREATE TABLE rooms (room_id INTEGER PRIMARY KEY, room_name VARCHAR(60) NOT NULL, contact VARCHAR(80));
CREATE TABLE course (course_id INTEGER PRIMARY KEY, created {TS} NOT NULL, modified {TS},
  state_id INTEGER NOT NULL REFERENCES course_states(state_id), owner_id INTEGER REFERENCES members(member_id));
CREATE TABLE course_sessions (session_id INTEGER PRIMARY KEY, sess_start {TS} NOT NULL, sess_end {TS} NOT NULL,
  course_id INTEGER NOT NULL REFERENCES course(course_id));
CREATE TABLE session_members (session_id INTEGER NOT NULL REFERENCES course_sessions(session_id),
  member_id INTEGER NOT NULL REFERENCES members(member_id), member_role INTEGER NOT NULL,
  PRIMARY KEY (session_id, member_id));
CREATE TABLE course_rooms (course_id INTEGER NOT NULL REFERENCES course(course_id),
  room_id INTEGER NOT NULL REFERENCES rooms(room_id), priority INTEGER NOT NULL, PRIMARY KEY (course_id, room_id))
"""
ROOMS = {1: ("Room A - Dr. Sato", "sato@clinic.example.org"), 2: ("Room B - Dr. Lind", None)}


def _fill(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, DDL)
    stamp = follow.stamp()
    cursor.execute("INSERT INTO course_states VALUES (1, 'Created'), (2, 'Deleted')")
    for room, (name, contact) in ROOMS.items():
        cursor.execute("INSERT INTO rooms VALUES (%s, %s, %s)", (room, name, contact))
    for m in range(1, 31):
        cursor.execute("INSERT INTO members VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (m, f"Ana{m}", f"Kim{m}", f"ana{m}@mail.example.org",
                        None if m % 5 == 0 else f"+1 212 555 {1000 + m}", stamp, stamp))
    want: follow.Want = {}
    for n, start in enumerate(follow.slots(60, seed=73), 1):
        member, room, state = 1 + n % 30, 1 + n % 2, 2 if n % 9 == 0 else 1
        cursor.execute("INSERT INTO course VALUES (%s, %s, %s, %s, %s)", (n, stamp, stamp, state, member))
        cursor.execute("INSERT INTO course_rooms VALUES (%s, %s, 1)", (n, room))
        cursor.execute("INSERT INTO course_sessions VALUES (%s, %s, %s, %s)",
                       (n, start, start + timedelta(minutes=30), n))
        cursor.execute("INSERT INTO session_members VALUES (%s, %s, 1)", (n, member))
        if n % 4 == 0:  # a companion with a lower id: never the patient
            cursor.execute("INSERT INTO session_members VALUES (%s, %s, 2)", (n, 1 + (member + 10) % 30))
        want[str(n)] = {"status": "cancelled" if state == 2 else "booked", "patient": str(member),
                        "name": f"Ana{member} Kim{member}",
                        "phone": None if member % 5 == 0 else f"+1212555{1000 + member}",
                        "email": f"ana{member}@mail.example.org", "doctor": str(room),
                        "doctor_name": ROOMS[room][0], "doctor_email": ROOMS[room][1]}
    return want


def test_sessions_of_a_course_link_members_and_booked_rooms(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url, opener, dialect = server
    with opener() as cursor:
        want = _fill(cursor, dialect)
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "table 'course_sessions' (" in out  # the sessions, not the course that holds only stamps
    assert fields["status"]["from"].endswith("title")  # the state's word, not its code
    checked = ["status", "patient", "name", "phone", "email", "doctor", "doctor_name", "doctor_email"]
    assert follow.wrong(found, want, checked) == {}
