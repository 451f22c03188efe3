"""A visit whose fields are key/value rows (metarows.py, metapeople.py, metavisits.py), on a
generic shape built here in PostgreSQL, MariaDB and SQLite: one ``records`` table holds rows of
every kind (invoices, staff cards, visits, told apart by ``kind``), their fields are
``record_attributes`` rows (``record_id``, ``attribute``, ``value``), and the registered
members are ``members`` rows with ``member_attributes`` of their own. No column of the visit is
a date, a patient or a phone: every field is an attribute, and a column reading finds none.

What the proposal must get right: the visits are the records of the kind whose attributes hold
dates ahead (never the invoices, whose dates are all past); each attribute is read as a column;
the member a visit names is the patient (name and mobile from the member's attributes), a
guest is the visit's own name and phone; the doctor is the staff record the visit's
``practitioner`` attribute names (its name and email attributes); a record whose ``state`` is
``deleted`` is left out. Then a key/value table whose dated type neither reaches ahead nor is
named for visits is no diary (a kind named for visits wins over one whose dates merely reach
ahead), and Unix seconds with no time of day beside them are instants."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

server = ehr.server

DDL = """
CREATE TABLE records (id INTEGER PRIMARY KEY, kind VARCHAR(30), state VARCHAR(20), title VARCHAR(200));
CREATE TABLE record_attributes (id INTEGER PRIMARY KEY, record_id INTEGER, attribute VARCHAR(80), value TEXT);
CREATE TABLE members (id INTEGER PRIMARY KEY, login VARCHAR(60), email VARCHAR(120), password VARCHAR(80));
CREATE TABLE member_attributes (id INTEGER PRIMARY KEY, member_id INTEGER, attribute VARCHAR(80), value TEXT)
"""
STAFF = {1: ("Lena Brandt", "l.brandt@praxis.example.org"), 2: ("Omar Haddad", "o.haddad@praxis.example.org")}


class _Rows:
    """Inserts through a DB-API cursor, ids counted here (``%s`` or SQLite's ``?``)."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self.cursor, self.mark, self.attribute_id = cursor, "?" if dialect == "sqlite" else "%s", 0

    def run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        self.cursor.execute(sql.replace("%s", self.mark), args)

    def record(self, record: int, kind: str, state: str, title: str, attributes: dict[str, Any]) -> None:
        self.run("INSERT INTO records VALUES (%s, %s, %s, %s)", (record, kind, state, title))
        self.attributes("record_attributes", record, attributes)

    def attributes(self, table: str, owner: int, attributes: dict[str, Any]) -> None:
        for attribute, value in attributes.items():
            self.attribute_id += 1
            self.run(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", (self.attribute_id, owner, attribute, value))


def _fill(cursor: Any, dialect: str, start_of: str = "iso", due_ahead: bool = False) -> follow.Want:
    """The records and members; what the store must hold per visit (with its UTC start)."""
    for statement in DDL.split(";"):
        cursor.execute(statement)
    rows = _Rows(cursor, dialect)
    for member in range(100, 130):
        rows.run("INSERT INTO members VALUES (%s, %s, %s, %s)",
                 (member, f"user{member}", f"given{member}@mail.example.org", "$2y$10$hash"))
        rows.attributes("member_attributes", member, {"given_name": f"Given{member}", "family_name": f"Family{member}",
                                                      "mobile": f"(917) 555-{member:04d}"})
    for staff, (name, email) in STAFF.items():
        rows.record(staff, "staff", "active", name, {"display_name": name, "email": email})
    past = datetime.now().replace(microsecond=0) - timedelta(days=40)
    for invoice in range(10, 40):  # dates, amounts and a member: never a visit (all in the past)
        rows.record(invoice, "invoice", "paid", f"Invoice {invoice}", {
            "issued_on": f"{past + timedelta(days=invoice % 9):%Y-%m-%d}", "member": str(100 + invoice % 30),
            "amount": f"{invoice * 3}.00", **({"due_on": f"{past + timedelta(days=50 + invoice):%Y-%m-%d}"}
                                             if due_ahead else {})})
    want: follow.Want = {}
    for n, start in enumerate(follow.slots(60, seed=91), 1):
        record, doctor = 1000 + n, 1 + n % 2
        state = "deleted" if n % 11 == 0 else "cancelled" if n % 7 == 0 else "confirmed"
        written = (f"{start:%Y-%m-%d %H:%M:%S}" if start_of == "iso" else
                   str(int(start.replace(tzinfo=UTC if start_of == "wall" else ZoneInfo(follow.ZONE)).timestamp())))
        attributes: dict[str, Any] = {"starts_at": written, "practitioner": str(doctor), "note": "Check-up"}
        if start_of == "wall":  # the wall clock written as if UTC, its slot beside it
            attributes["slot"] = f"{start:%H%M}-{start + timedelta(minutes=20):%H%M}"
        if n % 3 == 0:  # a guest
            attributes |= {"guest_name": f"Guest{n} Visitor", "guest_phone": f"+1 646 555 {n:04d}"}
            patient, name, phone, email = f"+1646555{n:04d}", f"Guest{n} Visitor", f"+1646555{n:04d}", None
        else:
            member = 100 + n % 30
            attributes["member"] = str(member)
            patient, name, phone = str(member), f"Given{member} Family{member}", f"+1917555{member:04d}"
            email = f"given{member}@mail.example.org"
        rows.record(record, "visit", state, f"Visit {n}", attributes)
        if state == "deleted":
            continue
        want[str(record)] = {"status": "cancelled" if state == "cancelled" else "booked", "patient": patient,
                             "name": name, "phone": phone, "email": email, "doctor": str(doctor),
                             "doctor_name": STAFF[doctor][0], "doctor_email": STAFF[doctor][1],
                             "start": data.utc(start, follow.ZONE)}
    return want


def _checked(found: dict[str, dict[str, Any]], want: follow.Want) -> None:
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}
    assert [k for k, w in want.items() if found[k]["start"] != w["start"]] == []
    assert set(found) == set(want)


def test_visits_kept_as_attribute_rows_in_both_servers(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, fields, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert fields["start"] == {"from": "starts_at"}
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}
    _checked(found, want)


HOSTILE = "x\\' OR 1=1 -- "  # a meta key a plugin (or an attacker) wrote: quote, backslash


def _fill_hostile(cursor: Any, dialect: str) -> follow.Want:
    """The same records, every visit also carrying a key that would close a string literal on
    MySQL and MariaDB (where a backslash escapes the quote after it) were it written in."""
    want = _fill(cursor, dialect)
    mark = "?" if dialect == "sqlite" else "%s"
    cursor.execute("INSERT INTO record_attributes (id, record_id, attribute, value) SELECT id + 100000, record_id, "
                   f"{mark}, 'x' FROM record_attributes WHERE attribute = 'starts_at'", (HOSTILE,))
    return want


def test_a_key_that_is_no_plain_word_is_never_written_into_the_query(server: ehr.Server, tmp_path: Path,
                                                                     cli: Any) -> None:
    """A hostile key on every visit is passed over (metarows.plain): the proposal reads every
    other key as before, and the query holds no part of the hostile one."""
    want, _fields, found = follow.built_and_synced(server, _fill_hostile, tmp_path, cli)
    assert not [p for p in tmp_path.rglob("*.yaml") if "1=1" in p.read_text(encoding="utf-8")]
    _checked(found, want)


@contextmanager
def _sqlite(path: Path) -> Iterator[Any]:
    connection = sqlite3.connect(path)
    try:
        yield connection.cursor()
        connection.commit()
    finally:
        connection.close()


def test_visits_kept_as_attribute_rows_in_sqlite(tmp_path: Path, cli: Any) -> None:
    """The same shape in SQLite (every row is read: its dates are text no bound compares)."""
    with _sqlite(tmp_path / "records.db") as cursor:
        want = _fill(cursor, "sqlite")
    _fields, out, found = follow.discover_and_sync(f"sqlite:///{tmp_path / 'records.db'}", tmp_path, cli)
    assert "invoice" not in out.split("note:")[0], out
    assert "password" not in out
    _checked(found, want)


def test_the_kind_named_for_visits_over_another_whose_dates_reach_ahead(tmp_path: Path, cli: Any) -> None:
    """Invoices whose due dates reach ahead too: the records of the kind named for visits are
    read, never the invoices (whose members and amounts would read as patients and nothing)."""
    with _sqlite(tmp_path / "records.db") as cursor:
        want = _fill(cursor, "sqlite", due_ahead=True)
    _fields, out, found = follow.discover_and_sync(f"sqlite:///{tmp_path / 'records.db'}", tmp_path, cli)
    assert "whose kind is 'visit'" in out, out
    _checked(found, want)


@pytest.mark.mariadb
def test_unix_seconds_with_no_time_of_day_beside_them_are_instants(
        mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """A start kept as Unix seconds with no slot or clock key to compare: an instant (read as
    ``unix_seconds``), never turned into a wall clock."""
    with ehr._maria_cursor(mariadb_database) as cursor:
        want = _fill(cursor, "mariadb", start_of="unix")
    fields, _, found = follow.discover_and_sync(str(mariadb_database["url"]), tmp_path, cli)
    assert fields["start"] == {"from": "starts_at", "type": "unix_seconds"}
    _checked(found, want)



def test_unix_seconds_that_write_the_wall_clock_beside_their_slot(server: ehr.Server, tmp_path: Path,
                                                                  cli: Any) -> None:
    """Unix seconds whose clock in UTC is the slot's time on every row ("0900-0920" beside
    09:00 UTC): the wall clock written as if UTC, read as the clinic's local time (the query
    turns the number into that date-time in each server), the slot's length the visits'."""
    url, opener, dialect = server
    with opener() as cursor:
        want = _fill(cursor, dialect, start_of="wall")
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert fields["start"] == {"from": "starts_at"} and fields["duration_minutes"] == {"value": 20}, fields
    assert "the site's wall clock written as if UTC" in out, out
    _checked(found, want)


def test_a_person_key_holding_digits_of_another_kind_is_no_id(tmp_path: Path, cli: Any) -> None:
    """A member key written '²' on one visit and in Arabic-Indic digits on another: ``isdigit``
    calls both whole numbers, ``int()`` refuses the first (discover stopped with an error) and a
    query written with the second would not parse. Both are passed over as ids (metarows.whole_number);
    every other visit is read as before."""
    with _sqlite(tmp_path / "records.db") as cursor:
        want = _fill(cursor, "sqlite")
        visits = [r for (r,) in cursor.execute("SELECT record_id FROM record_attributes WHERE attribute = 'member' "
                                               "ORDER BY record_id") if str(r) in want][:2]
        for record, odd in zip(visits, ["\u00b2", "\u0661\u0662\u0663"], strict=True):
            cursor.execute("UPDATE record_attributes SET value = ? WHERE record_id = ? AND attribute = 'member'",
                           (odd, record))
            del want[str(record)]
    _fields, _out, found = follow.discover_and_sync(f"sqlite:///{tmp_path / 'records.db'}", tmp_path, cli)
    assert follow.wrong({k: v for k, v in found.items() if k in want}, want, follow.PEOPLE_FIELDS) == {}
