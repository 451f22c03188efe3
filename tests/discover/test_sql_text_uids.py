"""A hospital-shaped schema built here, on MariaDB (which compares a text column of digits with
a whole-number key, as such products rely on): the visit table declares no primary key (a node id
and a sequence that repeats across nodes make one) and sits beside a populated archive copy; the
patient and the user are text UID columns with no declared key and ALL-CAPITAL glued names
(``BK_SLOTS_CLIENTUID``, ``BK_SLOTS_USERUID``); staff and patients share one person table that no
name calls a person table (``Registry``), whose address rows (kept with history, a ``type`` for
the address, a phone and an email column each) have keys that overlap the persons'; the end is
often empty beside an 'H:MM' estimated length; a cancellation is a date. Each class is what the
proposal must get right; the assertions say which."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import follow_support as follow
from tests.discover import sql_support as data

DDL = """
CREATE TABLE Registry (regid INTEGER PRIMARY KEY, lastname VARCHAR(60) NOT NULL, firstname VARCHAR(60),
  updatetime DATETIME);
CREATE TABLE Addresses (addrid INTEGER PRIMARY KEY, regid INTEGER, type VARCHAR(20), start DATETIME, stop DATETIME,
  city VARCHAR(40), landline VARCHAR(30), cell VARCHAR(30), mail VARCHAR(80), updatetime DATETIME);
CREATE TABLE Users (userid INTEGER PRIMARY KEY, regid INTEGER, project VARCHAR(20), updatetime DATETIME);
CREATE TABLE BK_SLOTS (BK_SLOTS_CLIENTUID VARCHAR(40), BK_SLOTS_USERUID VARCHAR(40), BK_SLOTS_NODEID INTEGER,
  BK_SLOTS_SEQID INTEGER, BK_SLOTS_BEGIN DATETIME, BK_SLOTS_PLANNEDEND DATETIME, BK_SLOTS_ESTIMATE VARCHAR(10),
  BK_SLOTS_CANCELLEDAT DATETIME, BK_SLOTS_NOTE TEXT, BK_SLOTS_UPDATETIME DATETIME);
CREATE TABLE BK_SLOTS_ARCHIVE (BK_SLOTS_CLIENTUID VARCHAR(40), BK_SLOTS_USERUID VARCHAR(40),
  BK_SLOTS_NODEID INTEGER, BK_SLOTS_SEQID INTEGER, BK_SLOTS_BEGIN DATETIME, BK_SLOTS_PLANNEDEND DATETIME,
  BK_SLOTS_ESTIMATE VARCHAR(10), BK_SLOTS_CANCELLEDAT DATETIME, BK_SLOTS_NOTE TEXT, BK_SLOTS_UPDATETIME DATETIME)
"""
STAFF = {2: (801, "Ines", "Varga", "i.varga@hospital.example.org"), 3: (802, "Tomas", "Reyes", None)}


def _fill(cursor: Any) -> tuple[follow.Want, dict[str, str]]:
    follow.create(cursor, "mariadb", DDL)
    now = datetime.now(ZoneInfo(follow.ZONE)).replace(tzinfo=None, microsecond=0)  # the clinic's wall clock
    address = 1
    for login, (person, first, last, email) in STAFF.items():
        cursor.execute("INSERT INTO Registry VALUES (%s, %s, %s, %s)", (person, last, first, now))
        cursor.execute("INSERT INTO Users VALUES (%s, %s, 'main', %s)", (login, person, now))
        cursor.execute("INSERT INTO Addresses VALUES (%s, %s, 'work', %s, NULL, 'Lyon', NULL, NULL, %s, %s)",
                       (address, person, now - timedelta(days=900), email, now))
        address += 1
    for p in range(1, 41):
        cursor.execute("INSERT INTO Registry VALUES (%s, %s, %s, %s)", (p, f"Family{p}", f"Given{p}", now))
        if p % 3 == 0:  # a closed address row: its number is no longer the patient's
            cursor.execute("INSERT INTO Addresses VALUES (%s, %s, 'home', %s, %s, 'Lyon', NULL, %s, NULL, %s)",
                           (address, p, now - timedelta(days=800), now - timedelta(days=60),
                            f"+33 6 11 00 {p:02d} 00", now))
            address += 1
        cursor.execute("INSERT INTO Addresses VALUES (%s, %s, 'home', %s, NULL, 'Lyon', %s, %s, %s, %s)",
                       (address, p, now - timedelta(days=50), "+33 4 78 00 00 00" if p % 4 == 0 else None,
                        None if p % 7 == 0 else f"+33 6 22 00 {p:02d} 00",
                        f"given{p}@mail.example.org" if p % 2 else None, now))
        address += 1
    want: follow.Want = {}
    ends: dict[str, str] = {}
    rows = []
    for n, start in enumerate(follow.slots(120, seed=71)):
        node, seq = 1 + n % 2, 1 + n // 2  # the sequence repeats across the two nodes
        patient, login = 1 + (n * 7) % 40, 2 + n % 2
        minutes = (20, 45)[n % 2]
        planned = start + timedelta(minutes=minutes) if n % 3 else None
        cancelled = now - timedelta(days=1) if n % 13 == 0 else None
        rows.append((str(patient), str(login), node, seq, start, planned, f"0:{minutes}", cancelled, "control",
                     now - timedelta(minutes=n)))
        if cancelled is None:
            person, first, last, email = STAFF[login]
            key = f"{node} {seq}"
            want[key] = {"status": "booked", "patient": str(patient), "name": f"Given{patient} Family{patient}",
                         # the cell, else the landline beside it (the address row's phones read in turn)
                         "phone": f"+3362200{patient:02d}00" if patient % 7 else "+33478000000" if patient % 4 == 0
                         else None,
                         "email": f"given{patient}@mail.example.org" if patient % 2 else None,
                         "doctor": str(person), "doctor_name": f"{first} {last}", "doctor_email": email}
            ends[key] = data.utc(start + timedelta(minutes=minutes), follow.ZONE)
    insert = "INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    cursor.executemany(insert.format("BK_SLOTS"), rows)
    cursor.executemany(insert.format("BK_SLOTS_ARCHIVE"), rows[:30])  # older versions kept by the product
    return want, ends


@pytest.mark.mariadb
def test_text_uids_shared_person_table_and_two_column_id(mariadb_database: dict[str, Any], tmp_path: Path,
                                                         cli: Any) -> None:
    connection = data.mysql(mariadb_database)
    try:
        with connection.cursor() as cursor:
            want, ends = _fill(cursor)
    finally:
        connection.close()
    fields, out, found = follow.discover_and_sync(str(mariadb_database["url"]), tmp_path, cli)
    assert "FROM `BK_SLOTS` AS a" in out or "table 'BK_SLOTS' (" in out  # not its archive copy
    assert fields["external_id"] == {"concat": ["BK_SLOTS_NODEID", "BK_SLOTS_SEQID"]}  # never a UID beside a seq
    assert fields["patient.external_id"] == {"from": "BK_SLOTS_CLIENTUID"}  # to Registry, not to Addresses
    assert fields["duration_minutes"] == {"from": "BK_SLOTS_ESTIMATE", "type": "duration"}  # '0:45' is a length
    assert fields["end"] == {"from": "BK_SLOTS_PLANNEDEND"}
    checked = ["status", "patient", "name", "phone", "email", "doctor", "doctor_name", "doctor_email"]
    assert follow.wrong(found, want, checked) == {}
    assert set(found) == set(want)  # the cancelled rows (a cancellation date) are left out
    assert [k for k, end in ends.items() if found[k]["end"] != end] == []
