"""Column names abbreviated in CamelCase, as some practice systems name every column: a name
shortened to its initial (``FName``, ``LName``: one capital letter, then the word), a reference
named by a short stem and a number word after a hump (``PatNum``, ``ProvNum``, no underscore), a
row stamp glued to its letter (``DateTStamp``), and the US word for a mobile (``WirelessPhone``)
beside a home and a work line. Read before as a lone letter and "name" (any name, nobody's), a
joined ``PatNum_FName`` as an id, and the home line first, the patient's name and the doctor's
were never placed and every patient with a cell phone and a home line was texted at home. A
0/1 flag named with a time word (``TimeLocked``) is no time of day. A schema built here, in
SQLite, discover run on it."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.readplan import stem_of
from clinicsync.sync.discover.scoring import score_columns
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.vocab import column_roles, name_tokens

ZONE = "America/Chicago"
DDL = """
CREATE TABLE staff (StaffNum INTEGER PRIMARY KEY, FName TEXT, LName TEXT, Abbr TEXT);
CREATE TABLE client (ClientNum INTEGER PRIMARY KEY, FName TEXT, LName TEXT, HomePhone TEXT, WorkPhone TEXT,
  WirelessPhone TEXT, EMail TEXT);
CREATE TABLE booking (BookingNum INTEGER PRIMARY KEY, ClientNum INTEGER REFERENCES client(ClientNum),
  StaffNum INTEGER REFERENCES staff(StaffNum), Status TEXT, StartDateTime DATETIME, Minutes INTEGER,
  DateTStamp DATETIME);
"""


def _build(path: Path) -> None:
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
        db.executemany("INSERT INTO staff VALUES (?, ?, ?, ?)",
                       [(1, "Maria", "Alvarez", "DOC1"), (2, "James", "Okafor", "DOC2")])
        db.executemany("INSERT INTO client VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(c, f"Given{c}", f"Family{c}", f"(312)555-{1000 + c}" if c % 2 else "",
                         f"(312)555-{3000 + c}" if c % 5 == 0 else "", f"(773)555-{2000 + c}" if c % 3 else "",
                         f"c{c}@example.org") for c in range(1, 41)])
        db.executemany("INSERT INTO booking VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(n, 1 + n % 40, 1 + n % 2, "scheduled",
                         (start + timedelta(days=n // 6, minutes=40 * (n % 6))).isoformat(" "), 30,
                         datetime(2026, 1, 5, 10).isoformat(" ")) for n in range(1, 81)])


def test_an_initial_before_a_word_is_the_abbreviated_word() -> None:
    assert name_tokens("FName") == ["fname"] and column_roles(name_tokens("LName")) == {"last_name"}
    assert column_roles(name_tokens("EMail")) == {"email"}
    assert "updated" in column_roles(name_tokens("DateTStamp"))
    assert name_tokens("MiddleI") == ["middle", "i"]  # a letter after the word stays apart
    assert name_tokens("pName") == ["p", "name"]  # no word together: as it was


def test_a_number_word_after_a_hump_leaves_the_reference_its_stem() -> None:
    assert (stem_of("PatNum", "patient"), stem_of("ProvNum", "provider"), stem_of("ClinicNo", "clinic")) == \
        ("Pat", "Prov", "Clinic")
    assert stem_of("Number", "x") == "Number" and stem_of("OpNum", "operatory") == "operatory"  # too short: the table's


def test_abbreviated_names_wireless_first_and_the_row_stamp(tmp_path: Path) -> None:
    path = tmp_path / "practice.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", name="practice", timezone=ZONE, region="US")
    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    assert fields["patient.name"] == {"concat": ["Client_FName", "Client_LName"]}, fields
    assert fields["practitioner.name"] == {"concat": ["Staff_FName", "Staff_LName"]}, fields
    assert fields["patient.phone"]["from"][0] == "Client_WirelessPhone", fields  # the mobile first
    assert fields["patient.email"]["from"] == "Client_EMail", fields
    assert fields["source_updated_at"]["from"] == "DateTStamp", fields


def test_a_flag_named_with_a_time_word_is_no_time_of_day() -> None:
    """``TimeLocked`` 0/1 (the length may not be recomputed) says something of the time, and is
    none: no start time is placed from it, and no note says a time lacks its date."""
    scored = score_columns([ColumnSample("BookingNum", "INTEGER", [str(n) for n in range(20)]),
                            ColumnSample("StartDateTime", "DATETIME", [f"2026-03-0{1 + n % 9} 09:00:00"
                                                                       for n in range(20)]),
                            ColumnSample("TimeLocked", "TINYINT", ["0", "1", "0", "0"] * 5)])
    assert not any("TimeLocked" in n for n in scored.notes), scored.notes
    assert "TimeLocked" in scored.unplaced and all(g.source != "TimeLocked" for g in scored.guesses)
