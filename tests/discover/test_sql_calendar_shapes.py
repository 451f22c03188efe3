"""A practice system's calendar beside its records of what happened, as OpenEMR's forks keep them
(LibreHealth EHR: tests/discover/test_real_librehealth.py): an ``encounters`` table with a date,
the patient, the provider, the facility and a category, all declared, scores as more
appointment-like by its shape than the calendar whose provider is an opaque text column; the
calendar's status is a glued ``apptstatus`` of one-character codes whose words are a shared
option list, beside an ``eventstatus`` that is 1 on every row; its provider is ``aid``, a text
column holding a handful of the users table's ids, which no name points at. Each class on a small
SQLite file:

* the book with days ahead is the source, not the past-only records (daysahead.py);
* ``apptstatus`` is a status column (vocab's glued owner word), the codes read through the list,
  and a status column with one code on every row gives way to one that varies;
* ``aid`` is the doctor: a few numbers that are all the users table's keys, on a visit that
  names no staff otherwise (valuerefs' opaque staff column; doctors' stand-in kept);
* a ``location`` holding PHP's serialize() text is no place (values.py's structures);
* the category the visit names (``catid`` -> ``categories.catname``) is its type: ``cat`` is
  how PHP schedulers abbreviate category (vocab)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.vocab import name_tokens

ZONE = "America/Chicago"
CODES = {"-": "booked", "x": "cancelled", "?": "noshow", ">": "fulfilled"}
# The calendar's location as PHP's serialize() keeps it (every field empty): no place's name.
LOCATION = 'a:3:{s:14:"event_location";s:0:"";s:13:"event_street1";s:0:"";s:10:"event_city";s:0:"";}'
DOCTORS = {4: ("Grace", "Holloway"), 5: ("Samuel", "Okoye"), 6: ("Irene", "Castillo")}


def _build(path: Path) -> dict[str, tuple[str, str]]:
    """The file; per visit the status and the doctor's id the mapping must give."""
    now = datetime.now().replace(second=0, microsecond=0)
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE patients (id INTEGER PRIMARY KEY, fname TEXT, lname TEXT, phone_cell TEXT, email TEXT);
            CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, fname TEXT, lname TEXT, email TEXT);
            CREATE TABLE facility (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE categories (id INTEGER PRIMARY KEY, catname TEXT);
            CREATE TABLE list_options (list_id TEXT, option_id TEXT, title TEXT, seq INTEGER,
                                       PRIMARY KEY (list_id, option_id));
            CREATE TABLE encounters (id INTEGER PRIMARY KEY, date DATETIME, reason TEXT,
                                     patient_id INTEGER REFERENCES patients(id),
                                     provider_id INTEGER REFERENCES users(id),
                                     facility_id INTEGER REFERENCES facility(id),
                                     category_id INTEGER REFERENCES categories(id));
            CREATE TABLE calendar_events (eid INTEGER PRIMARY KEY, aid TEXT, pid INTEGER REFERENCES patients(id),
                                          catid INTEGER REFERENCES categories(id),
                                          eventdate DATE, starttime TIME, endtime TIME, title TEXT,
                                          eventstatus INTEGER, apptstatus TEXT, location TEXT);
        """)
        db.executemany("INSERT INTO list_options VALUES (?, ?, ?, ?)",
                       [("apptstat", "-", "- None", 1), ("apptstat", "x", "x Canceled", 2),
                        ("apptstat", "?", "? No show", 3), ("apptstat", ">", "> Checked out", 4),
                        ("sex", "Female", "Female", 1), ("sex", "Male", "Male", 2)])
        db.execute("INSERT INTO facility VALUES (3, 'Riverside'), (4, 'North')")
        db.executemany("INSERT INTO categories VALUES (?, ?)", [(1, "Office Visit"), (2, "New Patient")])
        db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                       [(1, "admin", "Admin", "Admin", None), (2, "desk", "Front", "Desk", "desk@clinic.example"),
                        *((u, f"{f[0]}{last}".lower(), f, last, f"{last.lower()}@clinic.example")
                          for u, (f, last) in DOCTORS.items())])
        db.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?)",
                       [(p, ["Maria", "James", "Linda"][p % 3], ["Garcia", "Brown"][p % 2], f"(312) 555-{1000 + p}",
                         f"p{p}@mail.example") for p in range(1, 41)])
        db.executemany("INSERT INTO encounters (date, reason, patient_id, provider_id, facility_id, category_id) "
                       "VALUES (?, 'Follow-up', ?, ?, ?, ?)",
                       [(f"{now - timedelta(days=1 + n, hours=n % 6):%Y-%m-%d %H:%M:%S}", 1 + n % 40, 4 + n % 3,
                         3 + n % 2, 1 + n % 2) for n in range(90)])
        truth = {}
        for n in range(1, 81):
            start = (now + timedelta(days=1 + n % 30)).replace(hour=8 + n % 8, minute=15 * (n % 4))
            code, doctor = list(CODES)[n % 4 if n % 3 else 0], 4 + n % 3
            db.execute("INSERT INTO calendar_events VALUES (?, ?, ?, ?, ?, ?, ?, 'Office Visit', 1, ?, ?)",
                       (n, str(doctor), 1 + n % 40, 1 + n % 2, f"{start:%Y-%m-%d}", f"{start:%H:%M:%S}",
                        f"{start + timedelta(minutes=15):%H:%M:%S}", code, LOCATION))
            truth[str(n)] = (CODES[code], str(doctor))
    return truth


def test_a_glued_owner_word_is_split_from_the_attribute_it_ends_with() -> None:
    assert name_tokens("pc_apptstatus") == ["pc", "appt", "status"]
    assert name_tokens("patientname") == ["patient", "name"]
    assert name_tokens("username") == ["username"]  # a login's, no person's name
    assert name_tokens("catname") == ["catname"]  # whose name is unknown: not split


def test_the_book_with_days_ahead_is_read_not_the_past_records(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _build(path)
    with sqlite3.connect(path) as db:  # a calendar whose provider is not recorded: its shape alone scores lower
        db.execute("UPDATE calendar_events SET aid = NULL")
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE)
    assert "FROM calendar_events AS a" in proposal.connector["query"], proposal.connector["query"]


def _rows(path: Path, query: str) -> list[dict[str, object]]:
    """The proposed query's rows over a wide window, by column name."""
    wide = query.replace(":window_start", "'2000-01-01'").replace(":window_end", "'2200-01-01'")
    with sqlite3.connect(path) as db:
        cursor = db.execute(wide)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_glued_status_varying_beside_a_constant_one_is_read_through_its_list(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    truth = _build(path)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, table="calendar_events")
    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["status"] == {"from": "apptstatus"}, proposal.mapping["fields"].get("status")
    assert proposal.mapping["status_map"] == CODES
    got = {str(r["eid"]): CODES[str(r["apptstatus"])] for r in _rows(path, proposal.connector["query"])}
    assert got == {k: status for k, (status, _) in truth.items()}


def test_an_opaque_column_holding_a_few_user_ids_is_the_doctor(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    truth = _build(path)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, table="calendar_events")
    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    assert "practitioner.external_id" in fields and "practitioner.name" in fields, proposal.notes
    doctor, name = fields["practitioner.external_id"]["from"], fields["practitioner.name"]
    rows = _rows(path, proposal.connector["query"])
    assert {str(r["eid"]): str(r[doctor]) for r in rows} == {k: d for k, (_, d) in truth.items()}
    named = {str(r[doctor]): " ".join(str(r[c]) for c in name["concat"]) if "concat" in name else str(r[name["from"]])
             for r in rows}
    assert named == {str(u): f"{first} {last}" for u, (first, last) in DOCTORS.items()}


def test_a_serialized_structure_is_no_place(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, table="calendar_events")
    assert proposal.mapping is not None
    assert "location" not in proposal.mapping["fields"], proposal.mapping["fields"].get("location")


def test_the_category_abbreviated_cat_is_the_visits_type(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _build(path)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, table="calendar_events")
    assert proposal.mapping is not None
    spec = proposal.mapping["fields"].get("type")
    assert spec is not None and spec["from"].endswith("catname"), spec
    assert {str(r[spec["from"]]) for r in _rows(path, proposal.connector["query"])} == {"Office Visit", "New Patient"}
