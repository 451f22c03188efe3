"""Practices in real database servers for the SQL discover tests: each product's real schema
(OpenEMR, Easy!Appointments 1.5.2, OSCAR EMR) or the three-table schema, filled with
generated rows (3 providers, 80 patients, 200 appointments, every status word), and the
admin's own part of the configuration, counted line by line."""

from __future__ import annotations

import json
import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymysql
import sqlparse

PROVIDERS = 3
PATIENTS = 80
APPOINTMENTS = 200
FIXTURES = Path(__file__).parents[1] / "fixtures"


@dataclass(frozen=True)
class Expected:
    """One appointment as the store must hold it after the first sync."""

    external_id: str
    start_utc: str  # 2026-01-02T15:00:00Z
    status: str
    patient: str
    practitioner: str


def run_sql(connection: pymysql.Connection, script: str) -> None:  # type: ignore[type-arg]
    with connection.cursor() as cursor:
        for statement in sqlparse.split(script):
            if sqlparse.format(statement, strip_comments=True).strip():
                cursor.execute(statement)


def run_script(connection: pymysql.Connection, path: Path) -> None:  # type: ignore[type-arg]
    run_sql(connection, path.read_text(encoding="utf-8"))


def mysql(database: dict[str, Any]) -> pymysql.Connection:  # type: ignore[type-arg]
    return pymysql.connect(host=database["host"], port=database["port"], user=database["user"],
                           password=database["password"], database=database["database"], autocommit=True)


def utc(local: datetime, zone: str) -> str:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def future_slots(zone: str, count: int = APPOINTMENTS, seed: int = 7) -> list[datetime]:
    """``count`` distinct wall-clock starts from tomorrow over the next ~100 days, on the
    quarter hour between 08:00 and 17:45 (never in a DST gap: those are at night)."""
    rng = random.Random(seed)
    today = datetime.now(ZoneInfo(zone)).date()
    slots: set[datetime] = set()
    while len(slots) < count:
        day = today + timedelta(days=rng.randint(2, 100))
        slots.add(datetime.combine(day, time(rng.randint(8, 17), rng.choice((0, 15, 30, 45)))))
    return sorted(slots)


# -- Easy!Appointments 1.5.2 -------------------------------------------------------------------

EA_SCHEMA = FIXTURES / "easyappointments" / "schema" / "ea_1.5.2_schema.sql"
EA_STATUS = {"Booked": "booked", "Confirmed": "booked", "Rescheduled": "booked", "Draft": "pending",
             "Cancelled": "cancelled", "": "booked"}
EA_ZONES = ["America/New_York", "Europe/Madrid", "America/Chicago"]


def easyappointments(connection: pymysql.Connection, prefix: str = "ea_") -> list[Expected]:  # type: ignore[type-arg]
    """The 1.5.2 schema under ``prefix`` (its installer asks for one; `ea_` is the default)."""
    def named(sql: str) -> str:
        return sql.replace("ea_", prefix)

    run_sql(connection, named(EA_SCHEMA.read_text(encoding="utf-8")))
    saved = datetime.now().replace(microsecond=0) - timedelta(hours=3)
    words = list(EA_STATUS)
    expected = []
    with connection.cursor() as cursor:
        cursor.executemany(
            named("INSERT INTO ea_users (id, first_name, last_name, email, timezone, id_roles) "
                  "VALUES (%s,%s,%s,%s,%s,2)"),
            [(1 + p, f"Doc{p}", "Provider", f"doc{p}@clinic.example", EA_ZONES[p]) for p in range(PROVIDERS)])
        cursor.executemany(
            named("INSERT INTO ea_users (id, first_name, last_name, email, mobile_number, language, id_roles) "
                  "VALUES (%s, %s, %s, %s, %s, 'english', 3)"),
            [(100 + n, f"Patient{n}", "Example", f"patient{n}@example.org", f"+1 617 253 {1000 + n}")
             for n in range(PATIENTS)])
        cursor.execute(named("INSERT INTO ea_services (id, name, duration) VALUES (1, 'Check-up', 30)"))
        rows = []
        slots = {z: future_slots(z, APPOINTMENTS) for z in EA_ZONES}
        for n in range(APPOINTMENTS):
            provider = n % PROVIDERS
            start = slots[EA_ZONES[provider]][n]
            word = words[n % len(words)]
            rows.append((1 + n, saved, saved + timedelta(seconds=n), saved, start, start + timedelta(minutes=30),
                         str(n), word, 1 + provider, 100 + n % PATIENTS))
            expected.append(Expected(str(1 + n), utc(start, EA_ZONES[provider]), EA_STATUS[word],
                                     str(100 + n % PATIENTS), str(1 + provider)))
        cursor.executemany(named(
            "INSERT INTO ea_appointments (id, create_datetime, update_datetime, book_datetime, start_datetime, "
            "end_datetime, hash, status, is_unavailability, id_users_provider, id_users_customer, id_services) "
            "VALUES (%s, %s, %s, %s, %s, %s, MD5(%s), %s, 0, %s, %s, 1)"), rows)
        cursor.execute(named(  # a provider's unavailability: a row of the same table, no appointment
            "INSERT INTO ea_appointments (id, update_datetime, book_datetime, start_datetime, end_datetime, "
            "is_unavailability, id_users_provider) VALUES (900, %s, %s, %s, %s, 1, 1)"),
            (saved, saved, rows[0][4], rows[0][4] + timedelta(hours=2)))
    return expected


# -- OpenEMR ------------------------------------------------------------------------------------

OPENEMR_STATUS = {
    "-": "booked", "*": "booked", "+": "booked", "x": "cancelled", "?": "noshow", "@": "arrived",
    "~": "arrived", "!": "noshow", "#": "booked", "<": "checked-in", ">": "fulfilled", "$": "fulfilled",
    "%": "cancelled", "^": "pending", "AVM": "booked", "SMS": "booked", "EMAIL": "booked", "CALL": "booked",
}
OPENEMR_SITE_WORD = "Confirmed"  # a site's own list option: a known synonym, discover maps it (booked)


def openemr(connection: pymysql.Connection, shared_fixtures: Path, zone: str) -> list[Expected]:  # type: ignore[type-arg]
    run_script(connection, shared_fixtures / "openemr" / "openemr_appointment_schema.sql")
    words = [*OPENEMR_STATUS, OPENEMR_SITE_WORD]
    expected = []
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO facility (id, name) VALUES (3, 'Main Street Clinic')")
        cursor.executemany(
            "INSERT INTO users (id, username, fname, lname, email, authorized, calendar) VALUES (%s,%s,%s,%s,%s,1,1)",
            [(5 + p, f"doc{p}", f"Doc{p}", "Provider", f"doc{p}@clinic.example") for p in range(PROVIDERS)])
        cursor.executemany(
            "INSERT INTO patient_data (pid, pubpid, fname, lname, phone_cell, email, language, hipaa_allowsms, "
            "hipaa_allowemail) VALUES (%s, %s, %s, %s, %s, %s, 'english', 'YES', 'YES')",
            [(1 + n, str(1 + n), f"Patient{n}", "Example", f"(617) 253-{1000 + n}", f"p{n}@example.org")
             for n in range(PATIENTS)])
        rows = []
        for n, start in enumerate(future_slots(zone)):
            word = words[n % len(words)]
            rows.append((1000 + n, (5, 9, 10)[n % 3], str(5 + n % PROVIDERS), str(1 + n % PATIENTS), start.date(),
                         1200, start.time(), (start + timedelta(minutes=20)).time(), word))
            expected.append(Expected(str(1000 + n), utc(start, zone), OPENEMR_STATUS.get(word, "booked"),
                                     str(1 + n % PATIENTS), str(5 + n % PROVIDERS)))
        cursor.executemany(
            "INSERT INTO openemr_postcalendar_events (pc_eid, pc_catid, pc_aid, pc_pid, pc_title, pc_eventDate, "
            "pc_duration, pc_startTime, pc_endTime, pc_apptstatus, pc_facility, pc_recurrtype, pc_multiple, pc_time) "
            "VALUES (%s, %s, %s, %s, 'visit', %s, %s, %s, %s, %s, 3, 0, 0, NOW())", rows)
        # A provider's lunch block (category 8, cattype 1) is no appointment of a patient.
        cursor.execute(
            "INSERT INTO openemr_postcalendar_events (pc_eid, pc_catid, pc_aid, pc_pid, pc_title, pc_eventDate, "
            "pc_duration, pc_startTime, pc_endTime, pc_apptstatus, pc_facility, pc_recurrtype, pc_multiple, pc_time) "
            "VALUES (5000, 8, '5', '', 'Lunch', %s, 3600, '12:00', '13:00', '-', 3, 0, 0, NOW())",
            (rows[0][4],))
    return expected


# -- OSCAR EMR ----------------------------------------------------------------------------------

OSCAR_SCHEMA = FIXTURES / "oscar" / "oscar_appointment_schema.sql"
OSCAR_STATUS = {"t": "booked", "T": "booked", "h": "booked", "H": "arrived", "P": "checked-in",
                "E": "checked-in", "N": "noshow", "C": "cancelled", "B": "fulfilled", "HS": "arrived",
                "BV": "fulfilled", "a": "booked"}


def oscar(connection: pymysql.Connection, zone: str) -> list[Expected]:  # type: ignore[type-arg]
    run_script(connection, OSCAR_SCHEMA)
    words = list(OSCAR_STATUS)
    expected = []
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO provider (provider_no, last_name, first_name, provider_type, specialty, sex) "
            "VALUES (%s, 'Provider', %s, 'doctor', '', 'F')", [(str(100 + p), f"Doc{p}") for p in range(PROVIDERS)])
        cursor.executemany(
            "INSERT INTO demographic (demographic_no, last_name, first_name, phone, email, sex) "
            "VALUES (%s, 'Example', %s, %s, %s, 'F')",
            [(1 + n, f"Patient{n}", f"416-555-{1000 + n}", f"p{n}@example.org") for n in range(PATIENTS)])
        rows = []
        for n, start in enumerate(future_slots(zone)):
            word = words[n % len(words)]
            rows.append((1 + n, str(100 + n % PROVIDERS), start.date(), start.time(),
                         (start + timedelta(minutes=14)).time(), "Example,Patient", 1 + n % PATIENTS, word))
            expected.append(Expected(str(1 + n), utc(start, zone), OSCAR_STATUS[word], str(1 + n % PATIENTS),
                                     str(100 + n % PROVIDERS)))
        cursor.executemany(
            "INSERT INTO appointment (appointment_no, provider_no, appointment_date, start_time, end_time, name, "
            "demographic_no, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        # Blocked time: no patient (demographic_no 0), not an appointment.
        cursor.execute("INSERT INTO appointment (appointment_no, provider_no, appointment_date, start_time, end_time, "
                       "name, demographic_no, status) VALUES (999, '100', %s, '12:00', '12:59', 'LUNCH', 0, 't')",
                       (rows[0][2],))
    return expected


# -- the three-table schema (PostgreSQL) --------------------------------------------------------

CLINIC_TABLES_DDL = """
CREATE TABLE doctors (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE patients (id serial PRIMARY KEY, first_name text, last_name text, phone text, email text);
CREATE TABLE appointments (
  id serial PRIMARY KEY,
  patient_id integer NOT NULL REFERENCES patients(id),
  doctor_id integer REFERENCES doctors(id),
  starts_at timestamp NOT NULL,
  ends_at timestamp,
  status text NOT NULL DEFAULT 'scheduled',
  reason text,
  location text,
  updated_at timestamp NOT NULL DEFAULT now()
);
"""
CLINIC_STATUS = {"scheduled": "booked", "confirmed": "booked", "rescheduled": "booked", "pending": "pending",
                 "arrived": "arrived", "checked_in": "checked-in", "completed": "fulfilled",
                 "cancelled": "cancelled", "canceled": "cancelled", "no_show": "noshow"}


def clinic_tables(connection: Any, zone: str) -> list[Expected]:
    """``connection``: a psycopg connection (autocommit) on the test's schema."""
    connection.execute(CLINIC_TABLES_DDL)
    words = list(CLINIC_STATUS)
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO doctors (id, name, email) VALUES (%s, %s, %s)",
                           [(1 + p, f"Dr Doc{p}", f"doc{p}@clinic.example") for p in range(PROVIDERS)])
        cursor.executemany("INSERT INTO patients (id, first_name, last_name, phone, email) VALUES (%s,%s,%s,%s,%s)",
                           [(1 + n, f"Patient{n}", "Example", f"+34 91 555 {1000 + n:04d}", f"p{n}@example.org")
                            for n in range(PATIENTS)])
        rows, expected = [], []
        stamp = datetime.now().replace(microsecond=0) - timedelta(hours=1)
        for n, start in enumerate(future_slots(zone)):
            word = words[n % len(words)]
            rows.append((1 + n, 1 + n % PATIENTS, 1 + n % PROVIDERS, start, start + timedelta(minutes=30), word,
                         "Consulta", "Sala 1", stamp + timedelta(seconds=n)))
            expected.append(Expected(str(1 + n), utc(start, zone), CLINIC_STATUS[word], str(1 + n % PATIENTS),
                                     str(1 + n % PROVIDERS)))
        cursor.executemany("INSERT INTO appointments (id, patient_id, doctor_id, starts_at, ends_at, status, reason, "
                           "location, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


# -- an unknown schema: Spanish names, text dates, Spanish status words (PostgreSQL) ------------

SPANISH_DDL = """
CREATE TABLE pacientes (id serial PRIMARY KEY, nombre text, apellidos text, telefono text, correo text);
CREATE TABLE medicos (id serial PRIMARY KEY, nombre text, especialidad text);
CREATE TABLE citas (
  id serial PRIMARY KEY,
  paciente_id integer NOT NULL REFERENCES pacientes(id),
  medico_id integer REFERENCES medicos(id),
  fecha text NOT NULL,      -- 'DD/MM/YYYY'
  hora text NOT NULL,       -- 'HH:MM'
  estado text NOT NULL,
  motivo text
);
"""
SPANISH_STATUS = {"programada": "booked", "confirmada": "booked", "cancelada": "cancelled",
                  "no asistió": "noshow", "atendida": "fulfilled"}


def spanish(connection: Any, zone: str, count: int = 60) -> list[Expected]:
    connection.execute(SPANISH_DDL)
    words = list(SPANISH_STATUS)
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO medicos (id, nombre, especialidad) VALUES (%s, %s, 'General')",
                           [(1 + p, f"Dra. Medica{p}") for p in range(PROVIDERS)])
        cursor.executemany("INSERT INTO pacientes (id, nombre, apellidos, telefono, correo) VALUES (%s,%s,%s,%s,%s)",
                           [(1 + n, f"Paciente{n}", "Ejemplo", f"+34 600 000 {n:03d}", f"p{n}@ejemplo.es")
                            for n in range(30)])
        rows, expected = [], []
        for n, start in enumerate(future_slots(zone, count)):
            word = words[n % len(words)]
            rows.append((1 + n, 1 + n % 30, 1 + n % PROVIDERS, start.strftime("%d/%m/%Y"), start.strftime("%H:%M"),
                         word, "Revisión"))
            expected.append(Expected(str(1 + n), utc(start, zone), SPANISH_STATUS[word], str(1 + n % 30),
                                     str(1 + n % PROVIDERS)))
        cursor.executemany("INSERT INTO citas (id, paciente_id, medico_id, fecha, hora, estado, motivo) "
                           "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


# -- the admin's part ---------------------------------------------------------------------------

def admin_settings(folder: Path, zone: str, agendas: bool = True) -> Path:
    """What the admin writes before `discover` (getting-started's six lines): the clinic with its
    name, zone and phone region, and the store; no connectors list (discover adds the key).
    ``agendas=False``: a source that names no doctor at all, whose admin turns the doctors'
    agendas off as `check` asks (with them on, `check` fails: they would reach nobody)."""
    path = folder / "settings.yaml"
    path.write_text(textwrap.dedent(f"""\
        clinic:
          name: Riverside Family Practice
          timezone: {zone}
          default_region: US
        store:
          url: "sqlite:///{folder / 'store.db'}"
        """) + ("" if agendas else "reminders:\n  agenda: {enabled: false}\n"), encoding="utf-8")
    return path


def admin_lines(settings_before: str, command: Sequence[str], edits: int = 0) -> int:
    """Lines of configuration the admin typed: the settings file as they wrote it (blank and
    comment lines aside), each value typed on discover's command line (the URL, each option), and
    each line changed by hand afterwards."""
    typed = [line for line in settings_before.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    options = [arg for arg in command if not arg.startswith("--") or "=" in arg]
    return len(typed) + len(options) + edits


def stored(cli_run: Any) -> dict[str, dict[str, Any]]:
    _, out, _ = cli_run("appointments", "list", "--all", "--json")
    return {a["external_id"]: a for a in json.loads(out)["items"]}


def assert_imported(found: dict[str, dict[str, Any]], expected: Sequence[Expected]) -> None:
    """Every expected appointment, with its UTC start, status, patient and doctor — and no other."""
    assert set(found) == {e.external_id for e in expected}
    wrong = [(e.external_id, e.start_utc, found[e.external_id]["start"], e.status, found[e.external_id]["status"])
             for e in expected
             if (found[e.external_id]["start"], found[e.external_id]["status"]) != (e.start_utc, e.status)
             or found[e.external_id]["patient"]["id"] != e.patient
             or (found[e.external_id].get("practitioner") or {}).get("id") != e.practitioner]
    assert not wrong, wrong[:5]


def today_plus(days: int) -> date:
    return date.today() + timedelta(days=days)


def load_tables(database: dict[str, Any], ddl: str, inserts: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """Run ``ddl`` on the MariaDB ``database`` and insert each (statement, rows) of ``inserts``."""
    connection = mysql(database)
    try:
        run_sql(connection, ddl)
        with connection.cursor() as cursor:
            for sql, rows in inserts:
                cursor.executemany(sql, rows)
        connection.commit()
    finally:
        connection.close()


def berlin_proposal(database: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    """discover's proposal for ``database`` read in Berlin: (its fields, its query, the proposal)."""
    from clinicsync.sync.discover.sql import discover_sql

    proposal = discover_sql(str(database["url"]), name="c", timezone="Europe/Berlin", region="DE",
                            stored_times="local")
    assert proposal.mapping is not None
    return proposal.mapping["fields"], proposal.connector["query"], proposal


def visit_at(n: int) -> datetime:
    """The ``n``-th test visit's naive local start: 09:00 plus half hours, 1 to 20 days ahead."""
    return datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1 + n % 20,
                                                                                         minutes=30 * (n % 8))


def proposed_rows(database: dict[str, Any], sql: str) -> list[dict[str, Any]]:
    """A proposed query's rows in the MariaDB ``database`` over every date, by column name."""
    connection = mysql(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.replace(":window_start", "'2000-01-01'").replace(":window_end", "'2100-01-01'"))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()
