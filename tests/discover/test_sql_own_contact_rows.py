"""A patient's phones and emails kept as rows of a child table named after the patient
(``patient_phones``, ``client_phones``, ``person_contacts``): the table's name says whose rows
they are, its keys and values say they are contact rows, and discover reads the patient's phone
from it: the mobile before the home number, never a spouse's emergency number. Schemas built
here (MariaDB and PostgreSQL), no product's tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text

from clinicsync.mappings.transforms import phone_parser
from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

ZONE = "Europe/London"
PATIENTS = range(1, 31)


def home(p: int) -> str:
    return f"020 7946 {p:04d}"


def mobile(p: int) -> str:
    return f"07911 1{p:05d}"


def spouse(p: int) -> str:
    return f"07842 3{p:05d}"


def has_home(p: int) -> bool:
    return p % 6 != 0


def has_mobile(p: int) -> bool:
    return p % 4 != 0


def expected_phone(p: int) -> str | None:
    return mobile(p) if has_mobile(p) else home(p) if has_home(p) else None


def _visits() -> list[tuple[int, int, datetime, datetime]]:
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    return [(n, PATIENTS[n % len(PATIENTS)], now + timedelta(days=1 + n % 9, hours=n % 5),
             now + timedelta(days=1 + n % 9, hours=n % 5, minutes=30)) for n in range(1, 61)]


def _phone_rows(kinds: tuple[str, str, str], flagged: bool = False) -> list[tuple[Any, ...]]:
    """(id, person, kind, number, primary[, emergency]): the home number primary where it is
    kept, a mobile for most, a spouse's number as an emergency row for a few."""
    home_kind, mobile_kind, spouse_kind = kinds
    rows: list[tuple[Any, ...]] = []
    for p in PATIENTS:
        if has_home(p):
            rows.append((len(rows) + 1, p, home_kind, home(p), True, False))
        if has_mobile(p):
            rows.append((len(rows) + 1, p, mobile_kind, mobile(p), not has_home(p), False))
        if p % 5 == 0:
            rows.append((len(rows) + 1, p, spouse_kind, spouse(p), False, True))
    return rows if flagged else [r[:-1] for r in rows]


def _placed(url: str, person: str) -> tuple[dict[int, str | None], str]:
    """Each person's phone as discover's proposal reads it (the first of its columns with a
    value), and the proposal's reason for it."""
    proposal = discover_sql(url, stored_times="local", clinic_zone=ZONE, region="GB")
    fields = (proposal.mapping or {})["fields"]
    assert "patient.phone" in fields, sorted(fields)
    why = next(g.why for g in proposal.guesses if g.field == "patient.phone")
    spec = fields["patient.phone"]["from"]
    columns = [spec] if isinstance(spec, str) else spec
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(proposal.connector["query"]), {
                "window_start": "2000-01-01", "window_end": "2100-01-01", "cursor": "1970-01-01"}).mappings().all()
    finally:
        engine.dispose()
    key = next(k for k in rows[0] if k.endswith(f"{person}_id") or k == "patient_id")
    return {int(r[key]): next((r[c] for c in columns if r[c]), None) for r in rows}, why


def _assert_each(placed: dict[int, str | None], expected: Callable[[int], str | None]) -> None:
    """Each person's phone as the mapping reads the cell (a cell of several numbers: its first
    mobile) is the number expected."""
    read = phone_parser("GB")
    wrong = {p: (phone, expected(p)) for p, phone in placed.items()
             if (phone and read(phone)) != (expected(p) and read(expected(p)))}
    assert not wrong, wrong


MARIADB_DDL = """
CREATE TABLE patients (id INT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), birth_date DATE);
CREATE TABLE patient_phones (id INT PRIMARY KEY, patient_id INT NOT NULL, kind VARCHAR(16), number VARCHAR(32),
  is_primary TINYINT(1), FOREIGN KEY (patient_id) REFERENCES patients(id));
CREATE TABLE patient_emergency_contacts (id INT PRIMARY KEY, patient_id INT NOT NULL, contact_name VARCHAR(80),
  phone VARCHAR(32), FOREIGN KEY (patient_id) REFERENCES patients(id));
CREATE TABLE visits (id INT PRIMARY KEY, patient_id INT NOT NULL, starts_at DATETIME, ends_at DATETIME,
  status VARCHAR(16), FOREIGN KEY (patient_id) REFERENCES patients(id));
"""


@pytest.mark.mariadb
def test_a_patients_phone_rows_named_after_the_patient(mariadb_database: dict[str, Any]) -> None:
    """Rows typed by a ``kind``: the mobile first, then the home number; the 'emergency' rows (a
    spouse's mobile, which reads as a mobile as well) are never the patient's, nor are the rows
    of a table of emergency contacts beside it."""
    data.load_tables(mariadb_database, MARIADB_DDL, [
        ("INSERT INTO patients VALUES (%s, %s, %s, '1970-01-01')", [(p, f"Given{p}", f"Family{p}") for p in PATIENTS]),
        ("INSERT INTO patient_phones VALUES (%s, %s, %s, %s, %s)", _phone_rows(("home", "mobile", "emergency"))),
        ("INSERT INTO patient_emergency_contacts VALUES (%s, %s, %s, %s)",
         [(p, p, f"Partner{p}", spouse(p)) for p in PATIENTS if p % 3]),
        ("INSERT INTO visits VALUES (%s, %s, %s, %s, 'booked')", _visits()),
    ])
    placed, why = _placed(str(mariadb_database["url"]), "patient")
    _assert_each(placed, expected_phone)
    assert "'mobile'" in why and "'emergency' left out" in why, why


POSTGRES_DDL = """
CREATE TABLE clients (id INT PRIMARY KEY, given_name VARCHAR(60), family_name VARCHAR(60));
CREATE TABLE client_phones (id INT PRIMARY KEY, client_id INT NOT NULL REFERENCES clients(id),
  phone VARCHAR(32), preferred BOOLEAN, emergency BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE appointments (id INT PRIMARY KEY, client_id INT NOT NULL REFERENCES clients(id),
  start_time TIMESTAMP, end_time TIMESTAMP, status VARCHAR(16));
"""


def _untyped_rows() -> list[tuple[Any, ...]]:
    """(id, person, number, preferred, emergency): no type column; a few persons mark no row
    preferred, and their newest row is a spouse's emergency number."""
    return [(key, p, number, preferred and p % 10 != 0, emergency)
            for key, p, _, number, preferred, emergency in _phone_rows(("", "", ""), flagged=True)]


@pytest.mark.postgres
def test_a_clients_phone_rows_named_after_the_client(database: str) -> None:
    """Rows without a type: every one of the person's own in one cell, the preferred first, so
    the mapping reads its mobile even when the preferred row is the landline; never a row
    flagged an emergency contact's (which reads as a mobile, as the patient's own do)."""
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(POSTGRES_DDL)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO clients VALUES (%s, %s, %s)",
                               [(p, f"Given{p}", f"Family{p}") for p in PATIENTS])
            cursor.executemany("INSERT INTO client_phones VALUES (%s, %s, %s, %s, %s)", _untyped_rows())
            cursor.executemany("INSERT INTO appointments VALUES (%s, %s, %s, %s, 'booked')", _visits())
    placed, why = _placed(database, "client")
    _assert_each(placed, expected_phone)
    assert "'client_phones'" in why and "'preferred'" in why and "'emergency'" in why, why
    assert "first mobile" in why, why


PERSON_DDL = """
CREATE TABLE persons (id INT PRIMARY KEY, given VARCHAR(60), family VARCHAR(60));
CREATE TABLE person_contacts (id INT PRIMARY KEY, person_id INT NOT NULL, contact_type VARCHAR(16),
  value VARCHAR(80), valid_from DATE, valid_to DATE, FOREIGN KEY (person_id) REFERENCES persons(id));
CREATE TABLE visits (id INT PRIMARY KEY, person_id INT NOT NULL, starts_at DATETIME, ends_at DATETIME,
  status VARCHAR(16), FOREIGN KEY (person_id) REFERENCES persons(id));
"""


def _contact_rows() -> list[tuple[Any, ...]]:
    """(id, person, type, value, valid_from, valid_to): a phone and an email per person in rows
    typed by a column; an old mobile of a few closed by ``valid_to``."""
    rows: list[tuple[Any, ...]] = []
    for p in PATIENTS:
        if p % 7 == 0:
            rows.append((len(rows) + 1, p, "mobile", f"07723 8{p:05d}", "2015-01-01", "2020-01-01"))
        if has_home(p):
            rows.append((len(rows) + 1, p, "home", home(p), "2015-01-01", None))
        if has_mobile(p):
            rows.append((len(rows) + 1, p, "mobile", mobile(p), "2020-01-01", None))
        rows.append((len(rows) + 1, p, "email", f"given{p}@mail.example", "2015-01-01", None))
    return rows


@pytest.mark.mariadb
def test_a_persons_typed_contact_rows_named_after_the_person(mariadb_database: dict[str, Any]) -> None:
    """Phones and emails in one table, a type column telling which: the current mobile (an old
    one closed by ``valid_to``), else the home number."""
    data.load_tables(mariadb_database, PERSON_DDL, [
        ("INSERT INTO persons VALUES (%s, %s, %s)", [(p, f"Given{p}", f"Family{p}") for p in PATIENTS]),
        ("INSERT INTO person_contacts VALUES (%s, %s, %s, %s, %s, %s)", _contact_rows()),
        ("INSERT INTO visits VALUES (%s, %s, %s, %s, 'booked')", _visits()),
    ])
    placed, _ = _placed(str(mariadb_database["url"]), "person")
    _assert_each(placed, expected_phone)


TELECOM_DDL = """
CREATE TABLE person (id INT PRIMARY KEY, given VARCHAR(60), family VARCHAR(60));
CREATE TABLE person_telecom (id INT PRIMARY KEY, person_id INT NOT NULL REFERENCES person(id), system VARCHAR(16),
  use VARCHAR(16), value VARCHAR(80), period_end DATE);
CREATE TABLE encounter_booking (id INT PRIMARY KEY, person_id INT NOT NULL REFERENCES person(id),
  starts_at TIMESTAMP, ends_at TIMESTAMP, status VARCHAR(16));
"""


def _telecom_rows() -> list[tuple[Any, ...]]:
    """(id, person, system, use, value, period_end): phones and emails in one value column, told
    apart by ``system``; ``use`` says which phone (an email's use is 'home' as well); a few old
    mobiles closed by ``period_end``."""
    rows: list[tuple[Any, ...]] = []
    for p in PATIENTS:
        if p % 7 == 0:
            rows.append((len(rows) + 1, p, "phone", "mobile", f"07723 8{p:05d}", "2020-01-01"))
        if has_home(p):
            rows.append((len(rows) + 1, p, "phone", "home", home(p), None))
        if has_mobile(p):
            rows.append((len(rows) + 1, p, "phone", "mobile", mobile(p), None))
        rows.append((len(rows) + 1, p, "email", "home", f"given{p}@mail.example", None))
        if p % 3 == 0:
            rows.append((len(rows) + 1, p, "phone", "home", home(p).replace("7946", "7947"), None))  # a second landline
    return rows


@pytest.mark.postgres
def test_phone_and_email_rows_typed_by_a_column_not_named_for_a_type(database: str) -> None:
    """No column is named ``type`` or ``kind``: ``system`` is told by its values (its codes hold
    the phones apart from the emails), ``use`` by its word for a mobile, whose row goes first."""
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(TELECOM_DDL)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO person VALUES (%s, %s, %s)",
                               [(p, f"Given{p}", f"Family{p}") for p in PATIENTS])
            cursor.executemany("INSERT INTO person_telecom VALUES (%s, %s, %s, %s, %s, %s)", _telecom_rows())
            cursor.executemany("INSERT INTO encounter_booking VALUES (%s, %s, %s, %s, 'booked')", _visits())
    placed, why = _placed(database, "person")
    newest_home = {p: home(p).replace("7946", "7947") if p % 3 == 0 else home(p) if has_home(p) else None
                   for p in PATIENTS}
    _assert_each(placed, lambda p: mobile(p) if has_mobile(p) else newest_home[p])
    assert "'system'" in why and "'use' is 'mobile' first" in why, why


UNTYPED_DDL = """
CREATE TABLE {person}s (id INT PRIMARY KEY, given_name VARCHAR(60), family_name VARCHAR(60));
CREATE TABLE {person}_phones (id INT PRIMARY KEY, {person}_id INT NOT NULL REFERENCES {person}s(id),
  phone VARCHAR(32), preferred BOOLEAN, emergency BOOLEAN NOT NULL DEFAULT FALSE, created_at {stamp});
CREATE TABLE appointments (id INT PRIMARY KEY, {person}_id INT NOT NULL REFERENCES {person}s(id),
  start_time {stamp}, end_time {stamp}, status VARCHAR(16));
"""


def _newest_landline_rows() -> list[tuple[Any, ...]]:
    """(id, person, number, preferred, emergency, created_at): a mobile typed years ago, the
    landline added since (the newest row), none marked preferred for most; a spouse's mobile as
    the very newest row (an emergency contact's) for a few; a second, older landline for some."""
    rows: list[tuple[Any, ...]] = []
    for p in PATIENTS:
        if p % 3 == 0:
            rows.append((len(rows) + 1, p, home(p).replace("7946", "7947"), False, False, datetime(2012, 5, 1)))
        if has_mobile(p):
            rows.append((len(rows) + 1, p, mobile(p), False, False, datetime(2015, 3, 1)))
        if has_home(p):
            rows.append((len(rows) + 1, p, home(p), p % 7 == 0, False, datetime(2022, 9, 1)))
        if p % 5 == 0:
            rows.append((len(rows) + 1, p, spouse(p), False, True, datetime(2024, 1, 1)))
    return rows


def _newest_landline_expected(p: int) -> str | None:
    return mobile(p) if has_mobile(p) else home(p) if has_home(p) else home(p).replace("7946", "7947")


@pytest.mark.postgres
def test_untyped_phone_rows_give_the_mobile_under_a_newer_landline_postgres(database: str) -> None:
    """A patient whose newest (or preferred) row is a landline and an older row a mobile gets
    the mobile: the proposal reads every own number into one cell, the mapping its first mobile."""
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(UNTYPED_DDL.format(person="member", stamp="TIMESTAMP"))
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO members VALUES (%s, %s, %s)",
                               [(p, f"Given{p}", f"Family{p}") for p in PATIENTS])
            cursor.executemany("INSERT INTO member_phones VALUES (%s, %s, %s, %s, %s, %s)", _newest_landline_rows())
            cursor.executemany("INSERT INTO appointments VALUES (%s, %s, %s, %s, 'booked')", _visits())
    placed, why = _placed(database, "member")
    _assert_each(placed, _newest_landline_expected)
    assert "'member_phones'" in why and "first mobile" in why, why


@pytest.mark.mariadb
def test_untyped_phone_rows_give_the_mobile_under_a_newer_landline_mariadb(mariadb_database: dict[str, Any]) -> None:
    """The same on MariaDB (GROUP_CONCAT, in the rows' order)."""
    data.load_tables(mariadb_database, UNTYPED_DDL.format(person="member", stamp="DATETIME"), [
        ("INSERT INTO members VALUES (%s, %s, %s)", [(p, f"Given{p}", f"Family{p}") for p in PATIENTS]),
        ("INSERT INTO member_phones VALUES (%s, %s, %s, %s, %s, %s)", _newest_landline_rows()),
        ("INSERT INTO appointments VALUES (%s, %s, %s, %s, 'booked')", _visits()),
    ])
    placed, why = _placed(str(mariadb_database["url"]), "member")
    _assert_each(placed, _newest_landline_expected)
    assert "'member_phones'" in why and "first mobile" in why, why
