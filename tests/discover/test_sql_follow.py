"""`discover` follows a visit to the people it is for and with, in the real PostgreSQL and
MariaDB, on schemas written for these tests, one per class of real products: references kept as
text UIDs or numbers without a declared key (found by their values) with the phone in an address table kept
with history (``stop IS NULL``); slot -> resource -> user; a booking's attendees as child rows
with the booking's owner user as the doctor; a patient's direct party reference beside an
optional one through its current address, with an emergency contact's number beside the
patient's; and a ward that owns the visit where the product has no practitioner. Each: the
proposal written, `check` clean, one sync, and every visit's patient, phone and doctor right
(the goal is >= 95 %)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

server = ehr.server  # the fixture: an empty database in each of the two servers

UID_DDL = """
CREATE TABLE person (uid {ID} PRIMARY KEY, given_name VARCHAR(50) NOT NULL, family_name VARCHAR(50) NOT NULL,
                     birth_date DATE);
CREATE TABLE app_user (uid {ID} PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                       email VARCHAR(100));
CREATE TABLE address (id INT PRIMARY KEY, person_{REF} {ID} NOT NULL, street VARCHAR(100), city VARCHAR(50),
                      phone VARCHAR(40), start {TS} NOT NULL, stop {TS} NULL);
CREATE TABLE visit (id INT PRIMARY KEY, patient_{REF} {ID} NOT NULL, user_{REF} {ID} NOT NULL,
                    start_time {TS} NOT NULL, end_time {TS} NOT NULL, status VARCHAR(20) NOT NULL,
                    updated_at {TS} NOT NULL)
"""


@pytest.mark.parametrize("ids", ["text UIDs", "numbers"])
def test_references_without_keys_and_a_history_kept_address(server: ehr.Server, tmp_path: Path, cli: Any,
                                                             ids: str) -> None:
    """No key is declared and no name says where a reference points: ``patient_uid`` holds
    person.uid and ``user_uid`` app_user.uid (UIDs kept as text), or ``patient_ref`` and
    ``user_ref`` hold whole-number keys (1, 2, 3 … also the keys of the address and visit rows:
    the name decides), found by their values. The phone is the address row still open (``stop``
    NULL or in the future): for a third of the people a closed row has both the higher id and
    the newest start (a stay elsewhere that has ended)."""
    url, opener, dialect = server
    rng = random.Random(5)
    made = follow.stamp()
    text = ids == "text UIDs"
    people = [str(uuid.UUID(int=rng.getrandbits(128))) if text else str(1 + n) for n in range(40)]
    users = [str(uuid.UUID(int=rng.getrandbits(128))) if text else str(1 + n) for n in range(3)]
    want: follow.Want = {}
    with opener() as cursor:
        follow.create(cursor, dialect, UID_DDL.replace("{ID}", "VARCHAR(36)" if text else "INT")
                      .replace("{REF}", "uid" if text else "ref"))
        cursor.executemany("INSERT INTO person VALUES (%s, %s, %s, NULL)",
                           [(u, f"Given{n}", f"Family{n}") for n, u in enumerate(people)])
        cursor.executemany("INSERT INTO app_user VALUES (%s, %s, %s, %s)",
                           [(u, f"Doc{n}", "Provider", f"doc{n}@clinic.example") for n, u in enumerate(users)])
        rows: list[tuple[Any, ...]] = []
        for n, person in enumerate(people):
            old = (person, "1 Old Road", "Boston", f"617-324-{2000 + n:04d}", made - timedelta(days=900),
                   made - timedelta(days=30))
            new = (person, "2 New Street", "Boston", f"617-253-{1000 + n:04d}", made - timedelta(days=30), None)
            future_end = (person, "3 Lease Lane", "Boston", f"617-253-{1000 + n:04d}", made - timedelta(days=30),
                          made + timedelta(days=400))
            stay = (person, "4 Holiday Inn", "Miami", f"305-555-{1000 + n:04d}", made - timedelta(days=10),
                    made - timedelta(days=2))  # the newest start, already closed
            ordered = [new, old, stay] if n % 3 == 0 else [old, future_end if n % 5 == 0 else new]
            for row in ordered:
                rows.append((len(rows) + 1, *row))
        cursor.executemany("INSERT INTO address VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        visits = []
        for n, start in enumerate(follow.slots(90, 21), start=1):
            p, d = rng.randrange(40), n % 3
            visits.append((n, people[p], users[d], start, start + timedelta(minutes=20), follow.STATUS[n % 4],
                           made + timedelta(minutes=n)))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": people[p], "phone": f"+1617253{1000 + p:04d}",
                            "doctor": users[d], "doctor_name": f"Doc{d} Provider"}
        cursor.executemany("INSERT INTO visit VALUES (%s, %s, %s, %s, %s, %s, %s)", visits)
    _, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "by its values" in out, out
    assert not follow.wrong(found, want, ["status", "patient", "phone", "doctor", "doctor_name"])


SLOT_DDL = """
CREATE TABLE staff (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                    email VARCHAR(100));
CREATE TABLE resource (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, staff_id INT REFERENCES staff (id));
CREATE TABLE slot (id INT PRIMARY KEY, resource_id INT NOT NULL REFERENCES resource (id), slot_start {TS} NOT NULL,
                   slot_end {TS} NOT NULL);
CREATE TABLE person (id INT PRIMARY KEY, birth_date DATE);
CREATE TABLE person_address (id INT PRIMARY KEY, person_id INT NOT NULL REFERENCES person (id),
                             street VARCHAR(100), phone VARCHAR(40));
CREATE TABLE patient (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                      mobile VARCHAR(40), person_id INT REFERENCES person (id));
CREATE TABLE booking (id INT PRIMARY KEY, slot_id INT NOT NULL REFERENCES slot (id),
                      patient_id INT NOT NULL REFERENCES patient (id), starts_at {TS} NOT NULL, ends_at {TS} NOT NULL,
                      status VARCHAR(20) NOT NULL)
"""


def test_slot_resource_user_reaches_the_person(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    """The booking names a slot, the slot a schedulable resource (a room-like name), the resource
    the staff member: the doctor is the staff member, with a name and an email. The patient's
    own mobile column wins over the phone of its person's address rows."""
    url, opener, dialect = server
    want: follow.Want = {}
    with opener() as cursor:
        follow.create(cursor, dialect, SLOT_DDL)
        cursor.executemany("INSERT INTO staff VALUES (%s, %s, %s, %s)",
                           [(10 + d, f"Doc{d}", "Provider", f"doc{d}@clinic.example") for d in range(3)])
        cursor.executemany("INSERT INTO resource VALUES (%s, %s, %s)",
                           [(100 + d, f"Consulting room {d + 1}", 10 + d) for d in range(3)])
        cursor.executemany("INSERT INTO person VALUES (%s, NULL)", [(p,) for p in range(1, 41)])
        cursor.executemany("INSERT INTO person_address VALUES (%s, %s, 'Main St', %s)",  # an old landline
                           [(p, p, f"617-324-{2000 + p:04d}") for p in range(1, 41)])
        cursor.executemany("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)",
                           [(p, f"Given{p}", f"Family{p}", f"617-253-{1000 + p:04d}", p) for p in range(1, 41)])
        slot_rows, bookings = [], []
        for n, start in enumerate(follow.slots(90, 22), start=1):
            d, p = n % 3, 1 + n % 40
            slot_rows.append((500 + n, 100 + d, start, start + timedelta(minutes=15)))
            bookings.append((n, 500 + n, p, start, start + timedelta(minutes=15), follow.STATUS[n % 4]))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": str(p), "phone": f"+1617253{1000 + p:04d}",
                            "doctor": str(10 + d), "doctor_name": f"Doc{d} Provider",
                            "doctor_email": f"doc{d}@clinic.example"}
        cursor.executemany("INSERT INTO slot VALUES (%s, %s, %s, %s)", slot_rows)
        cursor.executemany("INSERT INTO booking VALUES (%s, %s, %s, %s, %s, %s)", bookings)
    _, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "booking -> slot -> resource -> staff" in out, out
    assert not follow.wrong(found, want, ["status", "patient", "phone", "doctor", "doctor_name", "doctor_email"])


RUN_TOGETHER_DDL = """
CREATE TABLE auth_user (id INT PRIMARY KEY, username VARCHAR(50) NOT NULL, first_name VARCHAR(50) NOT NULL,
                        last_name VARCHAR(50) NOT NULL, email VARCHAR(100) NOT NULL);
CREATE TABLE sched_bookableresource (id INT PRIMARY KEY, kind VARCHAR(20) NOT NULL,
                                     user_id INT REFERENCES auth_user (id));
CREATE TABLE sched_tokenslot (id INT PRIMARY KEY, resource_id INT NOT NULL REFERENCES sched_bookableresource (id),
                              start_at {TS} NOT NULL, end_at {TS} NOT NULL);
CREATE TABLE sched_patient (id INT PRIMARY KEY, full_name VARCHAR(100) NOT NULL, phone VARCHAR(40));
CREATE TABLE sched_tokenbooking (id INT PRIMARY KEY, token_slot_id INT NOT NULL REFERENCES sched_tokenslot (id),
                                 patient_id INT NOT NULL REFERENCES sched_patient (id),
                                 booked_by_id INT REFERENCES auth_user (id), booked_on {TS} NOT NULL,
                                 status VARCHAR(20) NOT NULL)
"""


def test_slot_resource_user_through_names_that_say_nothing(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    """Django's tables: words run together (``sched_tokenslot``, ``sched_bookableresource``),
    the resource has no name and names its user, the users table (a login: anyone's) holds the
    doctor's name and email, the clerk who booked is a user too, and the visit's time lives only
    on the slot. The doctor is the user two hops past the slot, with the user's email; the start
    and end are the slot's."""
    url, opener, dialect = server
    made = follow.stamp()
    want: follow.Want = {}
    with opener() as cursor:
        follow.create(cursor, dialect, RUN_TOGETHER_DDL)
        cursor.executemany("INSERT INTO auth_user VALUES (%s, %s, %s, %s, %s)",
                           [(1, "desk", "Front", "Desk", "desk@clinic.example")]
                           + [(10 + d, f"dr{d}", f"Doc{d}", "Provider", f"doc{d}@clinic.example") for d in range(3)])
        cursor.executemany("INSERT INTO sched_bookableresource VALUES (%s, 'practitioner', %s)",
                           [(100 + d, 10 + d) for d in range(3)])
        cursor.executemany("INSERT INTO sched_patient VALUES (%s, %s, %s)",
                           [(p, f"Given{p} Family{p}", f"617-253-{1000 + p:04d}") for p in range(1, 41)])
        slot_rows, bookings = [], []
        for n, start in enumerate(follow.slots(90, 23), start=1):
            d, p = n % 3, 1 + n % 40
            slot_rows.append((500 + n, 100 + d, start, start + timedelta(minutes=15)))
            bookings.append((n, 500 + n, p, 1, made - timedelta(days=n % 5), follow.STATUS[n % 4]))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": str(p), "phone": f"+1617253{1000 + p:04d}",
                            "doctor": str(10 + d), "doctor_name": f"Doc{d} Provider",
                            "doctor_email": f"doc{d}@clinic.example"}
        cursor.executemany("INSERT INTO sched_tokenslot VALUES (%s, %s, %s, %s)", slot_rows)
        cursor.executemany("INSERT INTO sched_tokenbooking VALUES (%s, %s, %s, %s, %s, %s)", bookings)
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "sched_tokenbooking -> sched_tokenslot -> sched_bookableresource -> auth_user" in out, out
    assert fields["start"] == {"from": "token_slot_start_at"}, fields
    assert not follow.wrong(found, want, ["status", "patient", "phone", "doctor", "doctor_name", "doctor_email"])
    assert all(found[k]["end"] > found[k]["start"] for k in want)


MIXED_DDL = """
CREATE TABLE auth_user (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                        email VARCHAR(100) NOT NULL);
CREATE TABLE room (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);
CREATE TABLE sched_resource (id INT PRIMARY KEY, kind VARCHAR(20) NOT NULL, user_id INT NULL REFERENCES auth_user (id),
                             room_id INT NULL REFERENCES room (id));
CREATE TABLE sched_slot (id INT PRIMARY KEY, resource_id INT NOT NULL REFERENCES sched_resource (id),
                         start_at {TS} NOT NULL, end_at {TS} NOT NULL);
CREATE TABLE sched_patient (id INT PRIMARY KEY, full_name VARCHAR(100) NOT NULL, phone VARCHAR(40));
CREATE TABLE sched_booking (id INT PRIMARY KEY, slot_id INT NOT NULL REFERENCES sched_slot (id),
                            patient_id INT NOT NULL REFERENCES sched_patient (id), status VARCHAR(20) NOT NULL,
                            booked_on {TS} NOT NULL)
"""


def test_a_resource_that_is_a_person_on_some_rows_and_a_room_on_others(server: ehr.Server, tmp_path: Path,
                                                                        cli: Any) -> None:
    """The slot's resource names a user (a doctor) on most rows and, with its user empty, a room:
    the doctor is the user where there is one, else the room owns the visit's calendar, under a
    key that never meets a user's ('room-1', not 1) and with the room's name."""
    url, opener, dialect = server
    want: follow.Want = {}
    with opener() as cursor:
        follow.create(cursor, dialect, MIXED_DDL)
        cursor.executemany("INSERT INTO auth_user VALUES (%s, %s, %s, %s)",
                           [(1 + d, f"Doc{d}", "Provider", f"doc{d}@clinic.example") for d in range(3)])
        cursor.execute("INSERT INTO room VALUES (1, 'Vaccination room')")
        cursor.executemany("INSERT INTO sched_resource VALUES (%s, %s, %s, %s)",
                           [(10 + d, "practitioner", 1 + d, None) for d in range(3)] + [(13, "location", None, 1)])
        cursor.executemany("INSERT INTO sched_patient VALUES (%s, %s, %s)",
                           [(p, f"Given{p} Family{p}", f"617-253-{1000 + p:04d}") for p in range(1, 41)])
        slot_rows, bookings = [], []
        for n, start in enumerate(follow.slots(80, 26), start=1):
            d, p = n % 4, 1 + n % 40
            slot_rows.append((500 + n, 10 + d, start, start + timedelta(minutes=15)))
            bookings.append((n, 500 + n, p, follow.STATUS[n % 4], follow.stamp()))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": str(p),
                            "doctor": str(1 + d) if d < 3 else "room-1",
                            "doctor_name": f"Doc{d} Provider" if d < 3 else "Vaccination room",
                            "doctor_email": f"doc{d}@clinic.example" if d < 3 else None}
        cursor.executemany("INSERT INTO sched_slot VALUES (%s, %s, %s, %s)", slot_rows)
        cursor.executemany("INSERT INTO sched_booking VALUES (%s, %s, %s, %s, %s)", bookings)
    fields, _, found = follow.discover_and_sync(url, tmp_path, cli)
    assert fields["practitioner.external_id"] == {"from": ["doctor_id", "owner_key"]}, fields
    assert not follow.wrong(found, want, ["status", "patient", "doctor", "doctor_name", "doctor_email"])


UNSTAMPED_DDL = """
CREATE TABLE staff (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                    email VARCHAR(100) NOT NULL);
CREATE TABLE patient (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                      mobile VARCHAR(40), updated_at {TS} NOT NULL);
CREATE TABLE visit (id INT PRIMARY KEY, patient_id INT NOT NULL REFERENCES patient (id),
                    staff_id INT NOT NULL REFERENCES staff (id), start_time {TS} NOT NULL, end_time {TS} NOT NULL,
                    status VARCHAR(20) NOT NULL, updated_at {TS} NOT NULL)
"""


def test_a_joined_table_without_a_change_stamp_makes_the_read_a_snapshot(server: ehr.Server, tmp_path: Path,
                                                                          cli: Any) -> None:
    """The visit and the patient stamp their changes, the staff table holding the doctor's
    email does not: a cursor on the stamps would never see a doctor's new email, so the
    proposal is snapshot, said why, and the next sync carries the new email."""
    url, opener, dialect = server
    made = follow.stamp()
    with opener() as cursor:
        follow.create(cursor, dialect, UNSTAMPED_DDL)
        cursor.executemany("INSERT INTO staff VALUES (%s, %s, %s, %s)",
                           [(10 + d, f"Doc{d}", "Provider", f"doc{d}@clinic.example") for d in range(3)])
        cursor.executemany("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)",
                           [(p, f"Given{p}", f"Family{p}", f"617-253-{1000 + p:04d}", made) for p in range(1, 41)])
        cursor.executemany("INSERT INTO visit VALUES (%s, %s, %s, %s, %s, 'booked', %s)",
                           [(n, 1 + n % 40, 10 + n % 3, start, start + timedelta(minutes=20), made)
                            for n, start in enumerate(follow.slots(60, 24), start=1)])
    settings = data.admin_settings(tmp_path, follow.ZONE)
    run = cli(settings)
    _, out, _ = run("discover", url, "--timezone", follow.ZONE, "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["mode"] == "snapshot" and "table 'staff' supplies" in out, out
    run("sync", "--once")
    with opener() as cursor:
        cursor.execute("UPDATE staff SET email = 'doc0.new@clinic.example' WHERE id = 10")
    run("sync", "--once")
    found = data.stored(run)
    assert {v["practitioner"]["email"] for v in found.values() if v["practitioner"]["id"] == "10"} == \
        {"doc0.new@clinic.example"}


ATTENDEE_DDL = """
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL);
CREATE TABLE booking (id INT PRIMARY KEY, user_id INT REFERENCES users (id), title VARCHAR(200),
                      start_time {TS} NOT NULL, end_time {TS} NOT NULL, status VARCHAR(20) NOT NULL,
                      updated_at {TS} NOT NULL);
CREATE TABLE attendee (id INT PRIMARY KEY, booking_id INT NOT NULL REFERENCES booking (id),
                       name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL, phone_number VARCHAR(40),
                       time_zone VARCHAR(50))
"""


def test_attendees_are_the_patient_and_the_owner_user_the_doctor(server: ehr.Server, tmp_path: Path,
                                                                 cli: Any) -> None:
    """A booking tool: the booking names its owner user (the practitioner) and no patient; the
    patients are attendee rows pointing at the booking. The first attendee by key is the patient
    (a guest added later is not), said so in the proposal."""
    url, opener, dialect = server
    made = follow.stamp()
    want: follow.Want = {}
    with opener() as cursor:
        follow.create(cursor, dialect, ATTENDEE_DDL)
        cursor.executemany("INSERT INTO users VALUES (%s, %s, %s)",
                           [(1 + d, f"Doc{d} Provider", f"doc{d}@clinic.example") for d in range(3)])
        bookings, people = [], []
        for n, start in enumerate(follow.slots(90, 23), start=1):
            d, p = n % 3, 1 + n % 40
            bookings.append((n, 1 + d, "30 min meeting", start, start + timedelta(minutes=30), follow.STATUS[n % 4],
                             made + timedelta(minutes=n)))
            people.append((n, f"Given{p} Family{p}", f"given{p}@example.org", f"617-253-{1000 + p:04d}"))
            if n % 4 == 0:  # a guest the patient added: a later row of the same booking
                people.append((n, f"Guest{n}", f"guest{n}@example.org", f"617-999-{1000 + n:04d}"))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": f"given{p}@example.org",
                            "phone": f"+1617253{1000 + p:04d}", "name": f"Given{p} Family{p}",
                            "doctor": str(1 + d), "doctor_name": f"Doc{d} Provider"}
        cursor.executemany("INSERT INTO booking VALUES (%s, %s, %s, %s, %s, %s, %s)", bookings)
        cursor.executemany("INSERT INTO attendee VALUES (%s, %s, %s, %s, %s, 'America/New_York')",
                           [(1000 + i, *row) for i, row in enumerate(people)])
    _, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "first attendee" in out and "not imported" in out, out
    assert not follow.wrong(found, want, ["status", "patient", "name", "phone", "doctor", "doctor_name"])


PARTY_DDL = """
CREATE TABLE party (id INT PRIMARY KEY, given_name VARCHAR(50) NOT NULL, family_name VARCHAR(50) NOT NULL);
CREATE TABLE party_address (id INT PRIMARY KEY, party_id INT NOT NULL REFERENCES party (id), street VARCHAR(100),
                            city VARCHAR(50));
CREATE TABLE contact_mechanism (id INT PRIMARY KEY, party_id INT NOT NULL REFERENCES party (id),
                                address_id INT NULL REFERENCES party_address (id), kind VARCHAR(20) NOT NULL,
                                value VARCHAR(100) NOT NULL, emergency {BOOL} NOT NULL DEFAULT {FALSE},
                                relationship VARCHAR(20) NULL);
CREATE TABLE patient (id INT PRIMARY KEY, current_address_id INT NULL REFERENCES party_address (id),
                      party_id INT NOT NULL REFERENCES party (id), mrn VARCHAR(20));
CREATE TABLE doctor (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100));
CREATE TABLE appointment (id INT PRIMARY KEY, patient_id INT NOT NULL REFERENCES patient (id),
                          doctor_id INT REFERENCES doctor (id), start_at {TS} NOT NULL, end_at {TS} NOT NULL,
                          status VARCHAR(20) NOT NULL)
"""


def test_direct_party_over_address_and_no_emergency_number(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    """The patient names its party directly (NOT NULL) and, optionally, its current address, which
    names a party too: the phones come from the patient's own party, not from the address's rows
    (set on a fifth of them). An emergency contact's mobile and a mother's email (its
    relationship says so), entered last, are never the patient's."""
    url, opener, dialect = server
    want: follow.Want = {}
    true, false = (True, False) if dialect == "postgresql" else (1, 0)
    with opener() as cursor:
        follow.create(cursor, dialect, PARTY_DDL)
        cursor.executemany("INSERT INTO party VALUES (%s, %s, %s)",
                           [(p, f"Given{p}", f"Family{p}") for p in range(1, 41)])
        cursor.executemany("INSERT INTO party_address VALUES (%s, %s, 'Main St', 'Boston')",
                           [(500 + p, p) for p in range(1, 41)])
        contacts: list[tuple[Any, ...]] = []
        for p in range(1, 41):
            at = 500 + p if p % 5 == 0 else None
            contacts.append((len(contacts) + 1, p, at, "mobile", f"617-253-{1000 + p:04d}", false,
                             "self" if p % 2 else None))
            contacts.append((len(contacts) + 1, p, at, "email", f"given{p}@example.org", false, "home"))
            if p % 2 == 0:  # the spouse's mobile, to call in an emergency
                contacts.append((len(contacts) + 1, p, None, "mobile", f"617-999-{1000 + p:04d}", true, "spouse"))
            if p % 3 == 0:  # a child's mother's email: a relative's row, not flagged
                contacts.append((len(contacts) + 1, p, None, "email", f"mother{p}@example.org", false, "Mother"))
        cursor.executemany("INSERT INTO contact_mechanism VALUES (%s, %s, %s, %s, %s, %s, %s)", contacts)
        cursor.executemany("INSERT INTO patient VALUES (%s, %s, %s, %s)",
                           [(100 + p, 500 + p if p % 3 == 0 else None, p, f"MRN{p}") for p in range(1, 41)])
        cursor.executemany("INSERT INTO doctor VALUES (%s, %s, %s)",
                           [(1 + d, f"Dr Doc{d}", f"doc{d}@clinic.example") for d in range(3)])
        rows = []
        for n, start in enumerate(follow.slots(90, 24), start=1):
            d, p = n % 3, 1 + n % 40
            rows.append((n, 100 + p, 1 + d, start, start + timedelta(minutes=20), follow.STATUS[n % 4]))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": str(100 + p), "name": f"Given{p} Family{p}",
                            "phone": f"+1617253{1000 + p:04d}", "email": f"given{p}@example.org",
                            "doctor": str(1 + d)}
        cursor.executemany("INSERT INTO appointment VALUES (%s, %s, %s, %s, %s, %s)", rows)
    _, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "'emergency'" in out, out
    assert not follow.wrong(found, want, ["status", "patient", "name", "phone", "email", "doctor"])


WARD_DDL = """
CREATE TABLE ward (id INT PRIMARY KEY, ward_name VARCHAR(100) NOT NULL, floor INT);
CREATE TABLE staff (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL);
CREATE TABLE patient (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                      phone VARCHAR(40));
CREATE TABLE appointment (id INT PRIMARY KEY, patient_id INT NOT NULL REFERENCES patient (id),
                          ward_id INT NOT NULL REFERENCES ward (id), start_at {TS} NOT NULL, end_at {TS} NOT NULL,
                          status VARCHAR(20) NOT NULL, referring_staff_id INT NULL REFERENCES staff (id))
"""


def test_a_ward_owns_the_calendar_where_there_is_no_practitioner(server: ehr.Server, tmp_path: Path,
                                                                 cli: Any) -> None:
    """Visits name a ward, no doctor (the staff member they name is the GP who referred the
    patient): the ward is proposed as the calendar owner (its id and name as the doctor's), and
    the reason says so."""
    url, opener, dialect = server
    want: follow.Want = {}
    wards = ["Cardiology Outpatients", "Fracture Clinic", "Diabetes Day Unit"]
    with opener() as cursor:
        follow.create(cursor, dialect, WARD_DDL)
        cursor.executemany("INSERT INTO ward VALUES (%s, %s, %s)", [(7 + w, name, w) for w, name in enumerate(wards)])
        cursor.executemany("INSERT INTO patient VALUES (%s, %s, %s, %s)",
                           [(p, f"Given{p}", f"Family{p}", f"617-253-{1000 + p:04d}") for p in range(1, 41)])
        rows = []
        for n, start in enumerate(follow.slots(90, 25), start=1):
            w, p = n % 3, 1 + n % 40
            rows.append((n, p, 7 + w, start, start + timedelta(minutes=20), follow.STATUS[n % 4], 1 + n % 5))
            want[str(n)] = {"status": follow.STATUS[n % 4], "patient": str(p), "phone": f"+1617253{1000 + p:04d}",
                            "doctor": str(7 + w), "doctor_name": wards[w]}
        cursor.executemany("INSERT INTO staff VALUES (%s, %s, %s)", [(s, f"Referrer{s}", "Gp") for s in range(1, 6)])
        cursor.executemany("INSERT INTO appointment VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert "no practitioner in this schema" in out, out
    assert fields["practitioner.external_id"] == {"from": "ward_id"}
    assert not follow.wrong(found, want, ["status", "patient", "phone", "doctor", "doctor_name"])

