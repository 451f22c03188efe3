"""One people table, two references into it: a booking names its patient and its doctor as two
keys into the same login table (``users``), the rows told apart by a role column, each reference
named after the login table first (``users_client_id``, ``users_doctor_id``); the row also keeps
when it was created and when it was booked beside when the visit starts, all three
``…_datetime``. Built here in both servers; what the proposal must get right: the second
reference is the doctor (name and email reached through it), the start is the visit's own
``start_datetime`` (never a creation or booking stamp), and neither reference's row lends the
other its phone or email (a doctor's number is never a patient's fallback)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

server = ehr.server

DDL = """
CREATE TABLE roles (id INTEGER PRIMARY KEY, name VARCHAR(40));
CREATE TABLE users (id INTEGER PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), email VARCHAR(120),
  mobile_number VARCHAR(40), role_id INTEGER REFERENCES roles (id));
CREATE TABLE bookings (id INTEGER PRIMARY KEY, create_datetime {TS}, book_datetime {TS}, start_datetime {TS},
  end_datetime {TS}, status VARCHAR(20), users_client_id INTEGER REFERENCES users (id),
  users_doctor_id INTEGER REFERENCES users (id), update_datetime {TS})
"""
DOCTORS = {1: ("Lena", "Brandt", "l.brandt@praxis.example.org", "+1 212 555 0101"),
           2: ("Omar", "Haddad", "o.haddad@praxis.example.org", "+1 212 555 0102")}


def _fill(cursor: Any, dialect: str) -> tuple[follow.Want, dict[str, str]]:
    follow.create(cursor, dialect, DDL)
    cursor.execute("INSERT INTO roles VALUES (1, 'provider'), (2, 'customer')")
    for user, (first, last, email, mobile) in DOCTORS.items():
        cursor.execute("INSERT INTO users VALUES (%s, %s, %s, %s, %s, 1)", (user, first, last, email, mobile))
    for p in range(10, 40):  # some patients without a mobile or an email: the doctor's never fills them
        cursor.execute("INSERT INTO users VALUES (%s, %s, %s, %s, %s, 2)",
                       (p, f"Given{p}", f"Family{p}", None if p % 4 == 0 else f"given{p}@mail.example.org",
                        None if p % 5 == 0 else f"+1 917 555 {p:04d}"))
    now = follow.stamp()
    want: follow.Want = {}
    starts: dict[str, str] = {}
    for n, start in enumerate(follow.slots(80, seed=65), 1):
        patient, doctor = 10 + (n * 7) % 30, 1 + n % 2
        created = now - timedelta(days=30 + n % 9)
        cursor.execute("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, 'booked', %s, %s, %s)",
                       (n, created, created + timedelta(minutes=5), start, start + timedelta(minutes=20), patient,
                        doctor, now - timedelta(minutes=n)))
        first, last, email, _ = DOCTORS[doctor]
        want[str(n)] = {"status": "booked", "patient": str(patient), "name": f"Given{patient} Family{patient}",
                        "phone": None if patient % 5 == 0 else f"+1917555{patient:04d}",
                        "email": None if patient % 4 == 0 else f"given{patient}@mail.example.org",
                        "doctor": str(doctor), "doctor_name": f"{first} {last}", "doctor_email": email}
        starts[str(n)] = data.utc(start, follow.ZONE)
    return want, starts


def test_two_references_into_one_users_table(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    (want, starts), fields, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert fields["start"] == {"from": "start_datetime"}
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}
    assert [k for k, start in starts.items() if found[k]["start"] != start] == []
