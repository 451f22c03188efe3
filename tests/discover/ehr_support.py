"""A normalized EHR schema no preset knows, in the real PostgreSQL or MariaDB (issue 57): the
appointment names a patient, the patient a person; names in a ``person_name`` table (several rows
per person, ``preferred``/``voided``), phones and emails in a ``person_attribute`` table keyed by
a type code (home, mobile, some voided), the doctor through ``patient_appointment_provider`` (the
appointment's own ``provider_id`` a legacy column, mostly NULL), soft-deleted (voided)
appointments, a ``creator`` pointing at users, a clock-made ``appointment_number``, and a
``date_changed`` set only on update. Shaped after the classes of real EHR schemas (OpenMRS-like),
written for this test; the data is generated. The vendors' real table definitions (Bahmni on
OpenMRS, GNU Health on Tryton) are in tests/fixtures/ehr and tested in test_real_bahmni.py and
test_real_gnuhealth.py: they add what this schema idealizes away (users who are persons with
names, a related-appointment self-reference, bookkeeping columns on every table, no end column
and a login reference on the party in GNU Health)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.discover.sql_support import future_slots, mysql, utc

PATIENTS = 80
PROVIDERS = 3
VISITS = 200
STATUS = {"Scheduled": "booked", "CheckedIn": "checked-in", "Completed": "fulfilled", "Cancelled": "cancelled",
          "Missed": "noshow"}
SERVICES = ["General Medicine", "Dental Care", "Physiotherapy"]
GIVEN = ["Amara", "Bruno", "Chen", "Dolores", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena"]
FAMILY = ["Okafor", "Silva", "Nguyen", "Kowalski", "Haddad", "Moreau", "Tanaka", "Schmidt", "Rossi", "Ibrahim"]

DDL = """
CREATE TABLE users (user_id INT PRIMARY KEY, username VARCHAR(50), system_id VARCHAR(50),
                    date_created {TS} NOT NULL);
CREATE TABLE person (person_id INT PRIMARY KEY, gender VARCHAR(1), birthdate DATE,
                     creator INT NOT NULL REFERENCES users (user_id), date_created {TS} NOT NULL,
                     date_changed {TS} NULL, voided {BOOL} NOT NULL DEFAULT {FALSE});
CREATE TABLE patient (patient_id INT PRIMARY KEY REFERENCES person (person_id),
                      creator INT NOT NULL REFERENCES users (user_id), date_created {TS} NOT NULL,
                      date_changed {TS} NULL, voided {BOOL} NOT NULL DEFAULT {FALSE});
CREATE TABLE person_name (person_name_id INT PRIMARY KEY, preferred {BOOL} NOT NULL DEFAULT {FALSE},
                          person_id INT NOT NULL, prefix VARCHAR(50), given_name VARCHAR(50),
                          middle_name VARCHAR(50), family_name VARCHAR(50), creator INT NOT NULL,
                          date_created {TS} NOT NULL, date_changed {TS} NULL,
                          voided {BOOL} NOT NULL DEFAULT {FALSE}, date_voided {TS} NULL, void_reason VARCHAR(255));
CREATE TABLE person_attribute_type (person_attribute_type_id INT PRIMARY KEY, name VARCHAR(50) NOT NULL,
                                    format VARCHAR(50), description VARCHAR(255));
CREATE TABLE person_attribute (person_attribute_id INT PRIMARY KEY, person_id INT NOT NULL,
                               value VARCHAR(50) NOT NULL,
                               person_attribute_type_id INT NOT NULL
                                 REFERENCES person_attribute_type (person_attribute_type_id),
                               creator INT NOT NULL, date_created {TS} NOT NULL, date_changed {TS} NULL,
                               voided {BOOL} NOT NULL DEFAULT {FALSE}, date_voided {TS} NULL);
CREATE TABLE provider (provider_id INT PRIMARY KEY, person_id INT REFERENCES person (person_id), name VARCHAR(255),
                       identifier VARCHAR(255), retired {BOOL} NOT NULL DEFAULT {FALSE}, date_created {TS} NOT NULL,
                       date_changed {TS} NULL);
CREATE TABLE appointment_service (appointment_service_id INT PRIMARY KEY, name VARCHAR(50) NOT NULL,
                                  duration_mins INT, date_created {TS} NOT NULL,
                                  date_changed {TS} NULL);
CREATE TABLE patient_appointment (
  patient_appointment_id INT PRIMARY KEY,
  appointment_number VARCHAR(50) NOT NULL,
  patient_id INT NOT NULL REFERENCES patient (patient_id),
  provider_id INT NULL REFERENCES provider (provider_id),
  appointment_service_id INT REFERENCES appointment_service (appointment_service_id),
  start_date_time {TS} NOT NULL,
  end_date_time {TS} NOT NULL,
  appointment_kind VARCHAR(45) NOT NULL,
  status VARCHAR(45) NOT NULL,
  comments VARCHAR(255),
  creator INT NOT NULL REFERENCES users (user_id),
  date_created {TS} NOT NULL,
  date_changed {TS} NULL,
  voided {BOOL} NOT NULL DEFAULT {FALSE},
  voided_by INT NULL,
  date_voided {TS} NULL,
  uuid CHAR(38) NOT NULL);
CREATE TABLE patient_appointment_provider (
  patient_appointment_provider_id INT PRIMARY KEY,
  patient_appointment_id INT NOT NULL REFERENCES patient_appointment (patient_appointment_id),
  provider_id INT NOT NULL REFERENCES provider (provider_id),
  response VARCHAR(45),
  voided {BOOL} NOT NULL DEFAULT {FALSE},
  date_created {TS} NOT NULL,
  date_changed {TS} NULL);
"""
TYPES = {"postgresql": {"TS": "TIMESTAMP", "BOOL": "BOOLEAN", "FALSE": "false"},
         "mariadb": {"TS": "DATETIME", "BOOL": "TINYINT(1)", "FALSE": "0"}}
Server = tuple[str, Callable[[], Any], str]


@contextmanager
def _pg_cursor(url: str) -> Iterator[Any]:
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        yield cursor


@contextmanager
def _maria_cursor(database: dict[str, Any]) -> Iterator[Any]:
    """A cursor whose rows commit as one transaction when the block ends (the DDL commits
    itself): row by row in autocommit, each INSERT waited for InnoDB's log flush (~7 ms)."""
    connection = mysql(database)
    try:
        connection.autocommit(False)
        with connection.cursor() as cursor:
            yield cursor
        connection.commit()
    finally:
        connection.close()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def server(request: pytest.FixtureRequest) -> Server:
    """An empty database in one of the two servers: its URL, a way to open a cursor on it, and
    its kind ("postgresql" or "mariadb"). A test module takes it with ``server = ehr.server``."""
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        return url, lambda: _pg_cursor(url), request.param
    database = request.getfixturevalue("mariadb_database")
    return str(database["url"]), lambda: _maria_cursor(database), request.param


@dataclass(frozen=True)
class Visit:
    """One appointment as the store must hold it after the first sync (voided ones: never)."""

    external_id: str
    start_utc: str
    status: str
    patient: str
    name: str
    phone: str | None
    doctor: str
    doctor_name: str
    doctor_email: str


def mobile(n: int) -> str:
    return f"+1617253{1000 + n:04d}"


def home(n: int) -> str:
    return f"+1617324{2000 + n:04d}"


def build(cursor: Any, dialect: str, zone: str) -> tuple[list[Visit], datetime]:
    """Create and fill the schema through a DB-API cursor (psycopg or pymysql, both ``%s``);
    the visits the store must hold, and the newest stamp written (a later change is after it)."""
    ddl = DDL
    for key, value in TYPES[dialect].items():
        ddl = ddl.replace("{" + key + "}", value)
    for statement in ddl.split(";"):
        if statement.strip():
            cursor.execute(statement)
    base = datetime.now().replace(microsecond=0) - timedelta(days=20)
    cursor.executemany("INSERT INTO users (user_id, username, system_id, date_created) VALUES (%s, %s, %s, %s)",
                       [(1, "admin", "admin", base), (2, "frontdesk", "3-4", base)])
    people = PATIENTS + PROVIDERS
    cursor.executemany(
        "INSERT INTO person (person_id, gender, birthdate, creator, date_created, date_changed, voided) "
        "VALUES (%s, %s, %s, 1, %s, %s, %s)",
        [(p, "FM"[p % 2], datetime(1950 + p % 50, 1 + p % 12, 1 + p % 28).date(), base,
          base + timedelta(days=1) if p % 7 == 0 else None, False) for p in range(1, people + 1)])
    cursor.executemany("INSERT INTO patient (patient_id, creator, date_created, date_changed, voided) "
                       "VALUES (%s, %s, %s, NULL, %s)",
                       [(p, 1 + p % 2, base, False) for p in range(1, PATIENTS + 1)])
    names: list[tuple[Any, ...]] = []
    current: dict[int, str] = {}
    for p in range(1, people + 1):
        given, family = GIVEN[p % len(GIVEN)], f"{FAMILY[p % len(FAMILY)]}{p}"
        current[p] = f"{given} {family}"
        names.append((len(names) + 1, True, p, given, family, base, False))
        if p % 3 == 0:  # an older name, not preferred, written later (a maiden name entered afterwards)
            names.append((len(names) + 1, False, p, given, f"Old{p}", base + timedelta(days=2), False))
        if p % 5 == 0:  # a preferred name voided (a typo), newer than the right one
            names.append((len(names) + 1, True, p, f"Typo{p}", family, base + timedelta(days=3), True))
    cursor.executemany("INSERT INTO person_name (person_name_id, preferred, person_id, given_name, family_name, "
                       "creator, date_created, voided) VALUES (%s, %s, %s, %s, %s, 1, %s, %s)", names)
    cursor.executemany("INSERT INTO person_attribute_type (person_attribute_type_id, name, format) "
                       "VALUES (%s, %s, 'java.lang.String')",
                       [(1, "Birthplace"), (8, "Telephone Number"), (9, "Mother's Name"), (10, "Mobile Number"),
                        (11, "Email Address")])
    attributes: list[tuple[Any, ...]] = []
    phones: dict[int, str | None] = {}

    def attribute(person: int, kind: int, value: str, when: datetime, voided: bool = False) -> None:
        attributes.append((len(attributes) + 1, person, value, kind, when, voided))

    for p in range(1, PATIENTS + 1):
        attribute(p, 1, ["Boston", "Lagos", "Lisbon", "Hanoi"][p % 4], base)
        attribute(p, 9, f"Mother{p}", base)
        phone = None
        if p % 3 == 0:  # a home phone, written as people type it
            attribute(p, 8, f"(617) 324-{2000 + p:04d}", base)
            phone = home(p)
        if p % 4 != 0:  # a mobile phone: the one to text
            attribute(p, 10, f"617-253-{1000 + p:04d}", base + timedelta(hours=1))
            phone = mobile(p)
        if p % 5 == 0:  # an old mobile, voided later (newer than the current one)
            attribute(p, 10, f"617-253-{9000 + p:04d}", base + timedelta(days=4), voided=True)
        if p % 2 == 0:
            attribute(p, 11, f"patient{p}@example.org", base)
        phones[p] = phone
    for d in range(1, PROVIDERS + 1):  # the doctors' emails, in the same table (a calendar each)
        attribute(PATIENTS + d, 11, f"doctor{d}@clinic.example", base)
    cursor.executemany("INSERT INTO person_attribute (person_attribute_id, person_id, value, "
                       "person_attribute_type_id, creator, date_created, voided) VALUES (%s, %s, %s, %s, 1, %s, %s)",
                       attributes)
    cursor.executemany("INSERT INTO provider (provider_id, person_id, name, identifier, retired, date_created) "
                       "VALUES (%s, %s, NULL, %s, %s, %s)",
                       [(d, PATIENTS + d, f"PRV-{d}", False, base) for d in range(1, PROVIDERS + 1)])
    cursor.executemany("INSERT INTO appointment_service (appointment_service_id, name, duration_mins, date_created) "
                       "VALUES (%s, %s, 30, %s)", [(s + 1, name, base) for s, name in enumerate(SERVICES)])
    visits, links, expected = [], [], []
    words = list(STATUS)
    for n, start in enumerate(future_slots(zone, VISITS, seed=57)):
        visit_id, patient = 1 + n, 1 + n % PATIENTS
        doctor = 1 + n % PROVIDERS
        created = base + timedelta(days=5, minutes=n)
        voided = n % 10 == 7
        word = words[n % len(words)]
        number = str(int(created.timestamp() * 1000) + n)  # a clock-made number beside the key
        visits.append((visit_id, number, patient, doctor if n % 10 == 3 else None, 1 + n % len(SERVICES), start,
                       start + timedelta(minutes=30), "WalkIn" if n % 9 == 0 else "Scheduled", word, 1 + n % 2,
                       created, created + timedelta(days=1) if n % 6 == 0 else None, voided,
                       f"{visit_id:08d}-0000-4000-8000-000000000000"))
        links.append((len(links) + 1, visit_id, doctor, "ACCEPTED", False, created))
        if n % 10 == 0:  # a doctor assigned by mistake, voided (newer than the right one)
            links.append((len(links) + 1, visit_id, 1 + (doctor % PROVIDERS), "ACCEPTED", True,
                          created + timedelta(hours=1)))
        if not voided:
            expected.append(Visit(str(visit_id), utc(start, zone), STATUS[word], str(patient), current[patient],
                                  phones[patient], str(doctor), current[PATIENTS + doctor],
                                  f"doctor{doctor}@clinic.example"))
    cursor.executemany(
        "INSERT INTO patient_appointment (patient_appointment_id, appointment_number, patient_id, provider_id, "
        "appointment_service_id, start_date_time, end_date_time, appointment_kind, status, creator, date_created, "
        "date_changed, voided, uuid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", visits)
    cursor.executemany(
        "INSERT INTO patient_appointment_provider (patient_appointment_provider_id, patient_appointment_id, "
        "provider_id, response, voided, date_created) VALUES (%s, %s, %s, %s, %s, %s)", links)
    return expected, base + timedelta(days=7)


def new_mobile(cursor: Any, person: int, number: str, when: datetime) -> None:
    """The front desk replaces a patient's mobile: the old row voided, a new row written."""
    cursor.execute("UPDATE person_attribute SET voided = %s, date_voided = %s WHERE person_id = %s "
                   "AND person_attribute_type_id = 10", (True, when, person))
    cursor.execute("SELECT MAX(person_attribute_id) FROM person_attribute")
    (top,) = cursor.fetchone()
    cursor.execute("INSERT INTO person_attribute (person_attribute_id, person_id, value, person_attribute_type_id, "
                   "creator, date_created, voided) VALUES (%s, %s, %s, 10, 1, %s, %s)",
                   (top + 1, person, number, when, False))
