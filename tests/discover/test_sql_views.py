"""A login granted reporting views and no tables (``v_appointments``, ``v_patients``,
``v_doctors`` over tables in a schema it may not read), on the real PostgreSQL: discover reads the
views by their shape, gives each view the id column proven unique over it, follows the visit's
patient and doctor to their views by name, and `check` maps every visit. Before, reflection
listed no table and discover stopped at "no table with dates". A database with tables named like
appointments keeps reading its tables: a report view never outranks the table it reports. On
MariaDB the same login, granted SELECT alone, is read too."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.views import with_views
from tests.conftest import POSTGRES_URL
from tests.discover import sql_support as data
from tests.discover.files_support import check_proposal

ZONE = "America/New_York"
VISITS = 72


@pytest.fixture
def reporter(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(the admin's URL on the test's schema, a URL of a login that may read only its views)."""
    schema = make_url(postgres_url).query["options"].split("search_path=")[-1]
    base, role = f"{schema}_base", f"cs_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {base}")
        connection.execute(f"CREATE ROLE {role} LOGIN")
        connection.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    login = make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    try:
        yield postgres_url, login
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {base} CASCADE")
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def _build(url: str, base: str, schema: str, role: str) -> None:
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE TABLE {base}.patients (id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                                          mobile text);
            CREATE TABLE {base}.doctors (id serial PRIMARY KEY, full_name text NOT NULL, email text);
            CREATE TABLE {base}.appointments (id serial PRIMARY KEY, patient_id integer NOT NULL, doctor_id integer,
                                              starts_at timestamp NOT NULL, ends_at timestamp NOT NULL,
                                              status text NOT NULL);
            CREATE VIEW {schema}.v_appointments AS SELECT id AS appointment_id, patient_id, doctor_id, starts_at,
                ends_at, status FROM {base}.appointments;
            CREATE VIEW {schema}.v_patients AS SELECT id AS patient_id, first_name, last_name, mobile
                FROM {base}.patients;
            CREATE VIEW {schema}.v_doctors AS SELECT id AS doctor_id, full_name, email FROM {base}.doctors;
            GRANT SELECT ON {schema}.v_appointments, {schema}.v_patients, {schema}.v_doctors TO {role};
        """)
        cursor.executemany(f"INSERT INTO {base}.doctors (full_name, email) VALUES (%s, %s)",
                           [(f"Dr. Doc{n} Hart", f"doc{n}@clinic.example") for n in range(3)])
        cursor.executemany(f"INSERT INTO {base}.patients (first_name, last_name, mobile) VALUES (%s, %s, %s)",
                           [(f"Ana{n}", "Lopez", f"617 555 {1000 + n}") for n in range(30)])
        cursor.executemany(
            f"INSERT INTO {base}.appointments (patient_id, doctor_id, starts_at, ends_at, status) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(1 + n % 30, 1 + n % 3, start + timedelta(days=n // 8, hours=n % 8),
              start + timedelta(days=n // 8, hours=n % 8, minutes=30), "booked") for n in range(VISITS)])


@pytest.mark.postgres
def test_a_login_with_views_only_is_read_through_its_views(reporter: tuple[str, str], tmp_path: Path) -> None:
    admin, login = reporter
    schema = make_url(admin).query["options"].split("search_path=")[-1]
    _build(admin, f"{schema}_base", schema, str(make_url(login).username))

    proposal = discover_sql(login, name="views", timezone=ZONE)

    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    assert fields["external_id"] == {"from": "appointment_id"}
    assert fields["patient.phone"] == {"from": "patient_mobile"}
    assert fields["practitioner.email"] == {"from": "doctor_email"}
    assert "FROM v_appointments AS a" in " ".join(proposal.connector["query"].split())
    assert any("the login reads no table named like appointments, and views" in n for n in proposal.notes)
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined


@pytest.mark.mariadb
def test_views_granted_select_only_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path) -> None:
    """MariaDB reflects a view through SHOW CREATE, which a login granted SELECT alone may not
    run: the views' columns come from information_schema, and nothing else reads them."""
    name = str(mariadb_database["database"])
    base, user = f"{name}_base", f"cs_rep_{uuid.uuid4().hex[:8]}"
    admin = data.mysql(mariadb_database)
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    try:
        data.run_sql(admin, f"""
            CREATE DATABASE `{base}`;
            CREATE TABLE `{base}`.patients (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
                                            mobile VARCHAR(30));
            CREATE TABLE `{base}`.doctors (id INT PRIMARY KEY, full_name VARCHAR(80), email VARCHAR(80));
            CREATE TABLE `{base}`.appointments (id INT PRIMARY KEY, patient_id INT, doctor_id INT, starts_at DATETIME,
                                                ends_at DATETIME, status VARCHAR(20));
            CREATE VIEW v_appointments AS SELECT id AS appointment_id, patient_id, doctor_id, starts_at, ends_at,
                status FROM `{base}`.appointments;
            CREATE VIEW v_patients AS SELECT id AS patient_id, first_name, last_name, mobile FROM `{base}`.patients;
            CREATE VIEW v_doctors AS SELECT id AS doctor_id, full_name, email FROM `{base}`.doctors;
            CREATE USER '{user}'@'%';
            GRANT SELECT ON `{name}`.* TO '{user}'@'%';
        """)
        with admin.cursor() as cursor:
            cursor.executemany(f"INSERT INTO `{base}`.doctors VALUES (%s, %s, %s)",
                               [(n, f"Dr. Doc{n} Hart", f"doc{n}@clinic.example") for n in range(1, 4)])
            cursor.executemany(f"INSERT INTO `{base}`.patients VALUES (%s, %s, %s, %s)",
                               [(n, f"Ana{n}", "Lopez", f"617 555 {1000 + n}") for n in range(1, 31)])
            cursor.executemany(f"INSERT INTO `{base}`.appointments VALUES (%s, %s, %s, %s, %s, %s)",
                               [(n, 1 + n % 30, 1 + n % 3, start + timedelta(days=n // 8, hours=n % 8),
                                 start + timedelta(days=n // 8, hours=n % 8, minutes=30), "booked")
                                for n in range(1, VISITS + 1)])
        login = f"mysql+pymysql://{user}@127.0.0.1:3306/{name}?charset=utf8mb4"

        proposal = discover_sql(login, name="views", timezone=ZONE, stored_times="local")

        assert proposal.mapping is not None
        fields = proposal.mapping["fields"]
        assert fields["external_id"] == {"from": "appointment_id"}
        assert fields["patient.phone"] == {"from": "patient_mobile"}
        assert fields["practitioner.email"] == {"from": "doctor_email"}
        result = check_proposal(proposal, tmp_path, ZONE, "US")
        assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined
    finally:
        data.run_sql(admin, f"DROP USER IF EXISTS '{user}'@'%'; DROP DATABASE IF EXISTS `{base}`")
        admin.close()


def test_tables_named_like_visits_keep_their_views_unread() -> None:
    """The choice itself: views come in only when no table looks like the visits, or --table
    names one; a report view beside the visit table is never a candidate."""
    class Reflection:  # what with_views asks of SQLAlchemy's inspector
        def get_view_names(self) -> list[str]:
            return ["v_appointments_today", "v_patients"]

    looks = re.compile(r"appoint", re.I).search
    assert with_views(Reflection(), ["appointments", "patients"], None, looks).views == []
    assert with_views(Reflection(), ["settings"], None, looks).names == ["settings", "v_appointments_today",
                                                                          "v_patients"]
    assert with_views(Reflection(), ["appointments"], "v_patients", looks).views == ["v_patients"]
