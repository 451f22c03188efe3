"""`discover` v2 on a normalized EHR schema no preset knows (issue 57), in the real PostgreSQL and
MariaDB: it follows the patient over several hops (appointment -> patient -> person), reads the
preferred non-voided name from a names table, the phone from a typed attribute table (mobile
before home, voided rows aside), the doctor through a link table, leaves voided visits out, keys
visits by the primary key (not the clock-made number), and its cursor sees a phone changed in the
joined attribute table. A stand-in for the patient (the row's creator, the row's own key) is
refused with the reason, never filled in."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from clinicsync.sync.discover.sql import DiscoverError, discover_sql
from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

ZONE = "America/New_York"
ADMIN_LIMIT = 10


Source = tuple[str, Callable[[], Any], list[ehr.Visit], datetime]
Server = ehr.Server
server = ehr.server  # the fixture: an empty database in each of the two servers


@pytest.fixture
def source(server: Server) -> Source:
    """The EHR schema filled in one server: its URL, a way to open a cursor on it (to change
    it later), the visits the store must hold, and a moment after every stamp written."""
    url, opener, dialect = server
    with opener() as cursor:
        expected, newest = ehr.build(cursor, dialect, ZONE)
    return url, opener, expected, newest


def _wrong(found: dict[str, dict[str, Any]], visit: ehr.Visit) -> list[str]:
    """The fields of one visit the store holds differently (names of fields, no values)."""
    got = found.get(visit.external_id)
    if got is None:
        return ["missing"]
    patient, doctor = got["patient"] or {}, got["practitioner"] or {}
    checks = {"start": (got["start"], visit.start_utc), "status": (got["status"], visit.status),
              "patient": (patient.get("id"), visit.patient), "name": (patient.get("name"), visit.name),
              "phone": (patient.get("phone"), visit.phone), "doctor": (doctor.get("id"), visit.doctor),
              "doctor name": (doctor.get("name"), visit.doctor_name),
              "doctor email": (doctor.get("email"), visit.doctor_email)}
    return [field for field, (have, want) in checks.items() if have != want]


def test_discover_follows_the_person_and_sync_imports_it_right(source: Source, tmp_path: Path, cli: Any) -> None:
    url, _, expected, _ = source
    settings = data.admin_settings(tmp_path, ZONE)
    before = settings.read_text(encoding="utf-8")
    command = [url, "--timezone", ZONE]
    run = cli(settings)
    _, out, _ = run("discover", *command, "--write")
    # `check` ran on what discover wrote: a change stamp NULL on never-changed rows refuses none.
    assert "0 would be quarantined, 0 problems" in out, out
    assert data.admin_lines(before, command) <= ADMIN_LIMIT
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    fields = yaml.safe_load((tmp_path / "mappings" / f"{connector['name']}.yaml").read_text())["fields"]
    assert fields["external_id"]["from"] == "patient_appointment_id"  # the key, not appointment_number
    assert fields["patient.external_id"] == {"from": "patient_id"}
    assert "voided" in connector["query"] and connector["mode"] == "incremental"
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert (report["error"], report["quarantined"]) == (None, 0)
    found = data.stored(run)
    assert len(found) == len(expected) == 180  # the 20 voided visits left out
    wrong = {v.external_id: w for v in expected if (w := _wrong(found, v))}
    assert not wrong, list(wrong.items())[:5]  # every visit, every field (the goal was >= 95 %)


def test_a_phone_changed_in_the_attribute_table_is_seen_at_the_next_poll(source: Source, tmp_path: Path,
                                                                          cli: Any) -> None:
    url, opener, expected, newest = source
    settings = data.admin_settings(tmp_path, ZONE)
    run = cli(settings)
    run("discover", url, "--timezone", ZONE, "--write")
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "GREATEST(" in connector["query"] and "COALESCE(" in connector["query"]
    run("sync", "--once")
    patient = next(v for v in expected if v.phone == ehr.mobile(int(v.patient)))
    visits = {v.external_id for v in expected if v.patient == patient.patient}
    assert {data.stored(run)[v]["patient"]["phone"] for v in visits} == {patient.phone}
    with opener() as cursor:
        ehr.new_mobile(cursor, int(patient.patient), "617-253-7777", newest + timedelta(hours=1))
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"][connector["name"]]["error"] is None
    stored = data.stored(run)
    assert {stored[v]["patient"]["phone"] for v in visits} == {"+16172537777"}
    others = [v for v in expected if v.patient != patient.patient]
    assert all(stored[v.external_id]["patient"]["phone"] == v.phone for v in others)


WEAK_DDL = """
CREATE TABLE users (id INT PRIMARY KEY, login VARCHAR(40) NOT NULL);
CREATE TABLE services (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE visits (
  id INT PRIMARY KEY,
  visit_no VARCHAR(20) NOT NULL,
  patient_id INT NOT NULL,
  user_id INT NOT NULL REFERENCES users (id),
  service_id INT REFERENCES services (id),
  starts_at {TS} NOT NULL,
  status VARCHAR(20) NOT NULL,
  updated_at {TS} NOT NULL
)
"""


def test_a_stand_in_for_the_patient_is_refused_with_the_reason(server: Server, tmp_path: Path, cli: Any) -> None:
    """``patient_id`` has no patients table and is every visit's own id again; ``user_id`` refers
    to users but holds the two front-desk logins that booked; the service has a ``name``. None of
    them is the patient: the fields are left out, and the settings block says why."""
    url, opener, dialect = server
    slots = data.future_slots(ZONE, 60)
    made = datetime.now().replace(microsecond=0) - timedelta(days=1)
    with opener() as cursor:
        for statement in WEAK_DDL.replace("{TS}", ehr.TYPES[dialect]["TS"]).split(";"):
            cursor.execute(statement)
        cursor.executemany("INSERT INTO users (id, login) VALUES (%s, %s)", [(1, "frontdesk"), (2, "nurse")])
        cursor.executemany("INSERT INTO services (id, name) VALUES (%s, %s)",
                           [(1, "General Medicine"), (2, "Dental Care")])
        cursor.executemany(
            "INSERT INTO visits (id, visit_no, patient_id, user_id, service_id, starts_at, status, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(n, f"V{n:05d}", n, 1 + n % 2, 1 + n % 2, start, "scheduled", made) for n, start in enumerate(slots, 1)])
    proposal = discover_sql(url, timezone=ZONE)
    fields = {g.field for g in proposal.guesses}
    assert not {f for f in fields if f.startswith("patient.")}, fields  # never the creator, the key, the service
    notes = " | ".join(proposal.notes)
    assert "'user_id' has 2 distinct value(s) over 60 visits" in notes
    assert "'patient_id' equals the appointment's own key 'id' on 100% of visits" in notes
    assert "patient.external_id: left out, not guessed" in notes
    assert (proposal.mapping or {})["fields"]["external_id"] == {"from": "id"}
    assert (proposal.mapping or {})["fields"]["type"] == {"from": "service_name"}  # the service's name: the type
    settings = data.admin_settings(tmp_path, ZONE)
    _, out, _ = cli(settings)("discover", url, "--timezone", ZONE, "--write", expect=1)  # nobody to remind
    assert "error: patient.phone, patient.email: only 0 of 60 (0%) upcoming visits" in " ".join(out.split())
    written = (tmp_path / "settings.yaml").read_text(encoding="utf-8")
    assert "note: patient.external_id: left out, not guessed: no column names the patient:" in written


@pytest.mark.mariadb
def test_a_change_column_empty_on_rows_never_changed_refuses_no_row(mariadb_database: dict[str, Any],
                                                                     tmp_path: Path, cli: Any) -> None:
    """A ``date_changed`` set only on update: NULL on most rows. MariaDB's GREATEST is NULL when an
    argument is, so the cursor reads COALESCE(date_changed, date_created): `check` refuses none."""
    connection = data.mysql(mariadb_database)
    slots = data.future_slots(ZONE, 40)
    made = datetime.now().replace(microsecond=0) - timedelta(days=3)
    with connection.cursor() as cursor:
        data.run_sql(connection, """
            CREATE TABLE clients (id INT PRIMARY KEY, full_name VARCHAR(80), mobile VARCHAR(30),
                                  updated_at DATETIME NOT NULL);
            CREATE TABLE bookings (id INT PRIMARY KEY, client_id INT NOT NULL, starts_at DATETIME NOT NULL,
                                   status VARCHAR(20) NOT NULL, date_created DATETIME NOT NULL,
                                   date_changed DATETIME NULL,
                                   FOREIGN KEY (client_id) REFERENCES clients (id));
            """)
        cursor.executemany("INSERT INTO clients VALUES (%s, %s, %s, %s)",
                           [(c, f"Client {c}", f"617-253-{1000 + c}", made) for c in range(1, 11)])
        cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, 'booked', %s, %s)",
                           [(n, 1 + n % 10, start, made, made + timedelta(hours=1) if n % 8 == 0 else None)
                            for n, start in enumerate(slots, 1)])
    connection.close()
    settings = data.admin_settings(tmp_path, ZONE, agendas=False)
    run = cli(settings)
    _, out, _ = run("discover", mariadb_database["url"], "--timezone", ZONE, "--write")
    assert "checked: 1 sources, 40 records sampled, 0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["cursor_column"] == "changed_at"
    assert "COALESCE(a.date_changed, a.date_created)" in connector["query"].replace("`", "")
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert (report["error"], report["created"], report["quarantined"]) == (None, 40, 0)


@pytest.mark.postgres
def test_table_is_found_in_a_database_of_over_300_tables(postgres_url: str) -> None:
    """``--table`` names a table past the 300th: it is found (and the graph read in bulk)."""
    tables = ";\n".join(f"CREATE TABLE aa_{n:03d} (id integer, label text, updated_at timestamp)"
                        for n in range(320))
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(tables + """;
            CREATE TABLE zz_patients (id serial PRIMARY KEY, first_name text, last_name text, phone text);
            CREATE TABLE zz_visits (id serial PRIMARY KEY, zz_patient_id integer REFERENCES zz_patients(id),
                                    starts_at timestamp NOT NULL, status text, updated_at timestamp NOT NULL);
            INSERT INTO zz_patients VALUES (1, 'Ana', 'Silva', '617-253-1000');
            INSERT INTO zz_visits VALUES (1, 1, '2030-01-02 10:00', 'booked', now());
            """)
    started = time.monotonic()
    proposal = discover_sql(postgres_url, timezone=ZONE, table="zz_visits")
    assert time.monotonic() - started < 10
    assert "FROM zz_visits AS a" in proposal.connector["query"]
    assert "LEFT JOIN zz_patients" in proposal.connector["query"]
    with pytest.raises(DiscoverError, match=r"--table: no table 'zz_visit' in this database \(322 tables; names "
                                            r"like it: zz_visits\)"):
        discover_sql(postgres_url, timezone=ZONE, table="zz_visit")


@pytest.mark.postgres
def test_a_read_the_server_refuses_falls_back_to_the_appointments_own_tables(postgres_url: str) -> None:
    """PostgreSQL compares no text with a number: a phone table whose person column is text
    (a reference only its name says) makes the followed read fail. discover says so and proposes
    the read without it, which works, instead of stopping."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("""
            CREATE TABLE patients (id integer PRIMARY KEY, first_name text, last_name text);
            CREATE TABLE patient_contact (id integer PRIMARY KEY, patient_id varchar(20), kind text, value text);
            CREATE TABLE visits (id integer PRIMARY KEY, patient_id integer REFERENCES patients(id),
                                 starts_at timestamp NOT NULL, status text, updated_at timestamp NOT NULL);
            INSERT INTO patients SELECT n, 'Given' || n, 'Family' || n FROM generate_series(1, 30) AS n;
            INSERT INTO patient_contact SELECT n, n::text, 'mobile', '617-253-' || (1000 + n)
              FROM generate_series(1, 30) AS n;
            INSERT INTO visits SELECT n, 1 + n % 30, now() + n * interval '1 day', 'booked', now()
              FROM generate_series(1, 40) AS n;
            """)
    proposal = discover_sql(postgres_url, timezone=ZONE)
    notes = " | ".join(proposal.notes)
    assert "the read that follows the patient and doctor failed (UndefinedFunction: operator does not exist" in notes
    assert "patient_contact" not in proposal.connector["query"]
    fields = {g.field: g.source for g in proposal.guesses}
    assert fields["patient.external_id"] == "patient_id"
    assert fields["patient.name"] == "patient_first_name + patient_last_name"


@pytest.mark.postgres
def test_a_contacts_table_with_a_country_code_is_still_read_by_its_type(postgres_url: str) -> None:
    """``contact_type`` is the type column, not ``country_code``; 'cell' before 'home'; an
    ``is_primary`` flag and a ``deleted_at`` date respected."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("""
            CREATE TABLE clients (id integer PRIMARY KEY, full_name text);
            CREATE TABLE client_contacts (id integer PRIMARY KEY, client_id integer REFERENCES clients(id),
                                          contact_type text, country_code text, number text, is_primary boolean,
                                          deleted_at timestamp);
            CREATE TABLE bookings (id integer PRIMARY KEY, client_id integer REFERENCES clients(id),
                                   starts_at timestamp NOT NULL, status text NOT NULL);
            INSERT INTO clients SELECT n, 'Client ' || n FROM generate_series(1, 30) AS n;
            INSERT INTO client_contacts SELECT n, n, 'home', '1', '617-324-' || (2000 + n), false, NULL
              FROM generate_series(1, 30) AS n;
            INSERT INTO client_contacts SELECT 100 + n, n, 'cell', '1', '617-253-' || (1000 + n), true, NULL
              FROM generate_series(1, 30) AS n;
            INSERT INTO client_contacts SELECT 200 + n, n, 'cell', '1', '617-253-' || (5000 + n), true, now()
              FROM generate_series(1, 30) AS n;
            INSERT INTO bookings SELECT n, 1 + n % 30, now() + n * interval '1 day', 'booked'
              FROM generate_series(1, 40) AS n;
            """)
    proposal = discover_sql(postgres_url, timezone=ZONE)
    phone = next(g for g in proposal.guesses if g.field == "patient.phone")
    assert phone.spec == {"from": ["patient_phone", "patient_phone_2"]}
    assert "type 'cell'" in phone.why and phone.why.index("'cell'") < phone.why.index("'home'")
    query = proposal.connector["query"]
    assert "cs_r.contact_type = 'cell'" in query and "cs_r.deleted_at IS NULL" in query
    assert "CASE WHEN cs_r.is_primary IS TRUE THEN 0 ELSE 1 END" in query


@pytest.mark.postgres
def test_a_few_patients_seen_often_are_patients_not_a_stand_in(postgres_url: str) -> None:
    """A therapist's 25 clients seen weekly: 600 visits, 25 distinct ``patient_id`` values. The
    column names the patient, so only one or two values over many visits would be a stand-in."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("""
            CREATE TABLE patients (id integer PRIMARY KEY, first_name text, last_name text);
            CREATE TABLE sessions (id integer PRIMARY KEY, patient_id integer REFERENCES patients(id),
                                   starts_at timestamp NOT NULL, status text NOT NULL);
            INSERT INTO patients SELECT n, 'Given' || n, 'Family' || n FROM generate_series(1, 25) AS n;
            INSERT INTO sessions SELECT n, 1 + n % 25, now() + n * interval '7 hours', 'booked'
              FROM generate_series(1, 600) AS n;
            """)
    proposal = discover_sql(postgres_url, timezone=ZONE, table="sessions")
    fields = {g.field: g.source for g in proposal.guesses}
    assert fields["patient.external_id"] == "patient_id", proposal.notes
