"""Frappe Health (ERPNext Healthcare) in a real MariaDB: its doctypes' tables, table names with
spaces (tests/fixtures/catalogue/erpnext), the site's zone in tabSingles, a small hospital's
synthetic rows, and the admin's path from a fresh settings file to the imported visits
(`discover --write`, `check`, `sync --once`) in at most six typed lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import catalogue_support as catalogue
from tests.discover import sql_support as data

SCHEMA = data.FIXTURES / "catalogue" / "erpnext" / "schema.sql"
ZONE = "Asia/Kolkata"
GRANTS = ("tabPatient Appointment", "tabPatient", "tabHealthcare Practitioner", "tabSingles")  # the docs' login
STATUS = {"Scheduled": "booked", "Open": "booked", "Checked In": "checked-in", "Checked Out": "fulfilled",
          "Closed": "fulfilled", "Cancelled": "cancelled", "No Show": "noshow"}
PRACTITIONERS = [("HLC-PRAC-2026-00001", "Asha", "Rao", "asha.rao@hospital.example"),
                 ("HLC-PRAC-2026-00002", "Vikram", "Iyer", "vikram.iyer@hospital.example"),
                 ("HLC-PRAC-2026-00003", "Meera", "Nair", None)]  # no e-mail: common
PATIENTS = 100
VISITS = 220


def patient_id(n: int) -> str:
    return f"HLC-PAT-2026-{1 + n:05d}"


def erpnext(connection: Any, site_zone: str | None = ZONE) -> list[catalogue.Visit]:
    """The tables, the site's System Settings (its zone), 3 practitioners, patients with a
    mobile written internationally or only a local phone, and visits of every status and
    length; every 11th is booked for a department (no practitioner)."""
    data.run_script(connection, SCHEMA)
    saved = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    patients = []
    for n in range(PATIENTS):
        first, last = f"Patient{n}", "Kumar"
        mobile, phone = (f"+91 98450 {10000 + n}", None) if n % 2 == 0 else (None, f"098450 {20000 + n}")
        if n % 4 == 0:  # Frappe's own phone field writes +CC-number
            mobile = f"+91-98450{10000 + n}"
        patients.append((patient_id(n), saved, saved, first, last, f"{first} {last}", mobile, phone,
                         f"p{n}@example.in" if n % 3 else None))
    rows, visits = [], []
    words = list(STATUS)
    for n, start in enumerate(data.future_slots(ZONE, VISITS, seed=58)):
        word = words[n % len(words)]
        minutes = (15, 20, 30, 45)[n % 4]
        practitioner = None if n % 11 == 0 else PRACTITIONERS[n % len(PRACTITIONERS)]
        name = f"HLC-APP-2026-{1 + n:05d}"
        patient = n % PATIENTS
        rows.append((name, saved, saved, word, "Consultation", "Practitioner" if practitioner else "Department",
                     practitioner[0] if practitioner else None, practitioner and f"{practitioner[1]} {practitioner[2]}",
                     "General Medicine", patient_id(patient), f"Patient{patient} Kumar", minutes, start.date(),
                     start.time(), start))
        phone = f"+91984501{patient:04d}" if patient % 2 == 0 else f"+91984502{patient:04d}"
        end = start + timedelta(minutes=minutes)
        visits.append(catalogue.Visit(name, data.utc(start, ZONE), data.utc(end, ZONE), ZONE, STATUS[word],
                                      patient_id(patient), phone, practitioner[0] if practitioner else None))
    with connection.cursor() as cursor:
        if site_zone:
            cursor.execute("INSERT INTO `tabSingles` (doctype, field, value) VALUES ('System Settings', 'time_zone', "
                           "%s), ('System Settings', 'country', 'India')", (site_zone,))
        cursor.executemany(
            "INSERT INTO `tabHealthcare Practitioner` (name, creation, modified, practitioner_name, first_name, "
            "last_name, email_id, status) VALUES (%s, %s, %s, %s, %s, %s, %s, 'Active')",
            [(p[0], saved, saved, f"{p[1]} {p[2]}", p[1], p[2], p[3]) for p in PRACTITIONERS])
        cursor.executemany(
            "INSERT INTO `tabPatient` (name, creation, modified, first_name, last_name, patient_name, mobile, phone, "
            "email, sex, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'Female', 'Active')", patients)
        cursor.executemany(
            "INSERT INTO `tabPatient Appointment` (name, creation, modified, status, appointment_type, "
            "appointment_for, practitioner, practitioner_name, department, patient, patient_name, duration, "
            "appointment_date, appointment_time, appointment_datetime, company) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'City Hospital')", rows)
    return visits



@pytest.fixture
def mariadb(mariadb_database: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    with catalogue.root_connection(mariadb_database) as built:
        yield built

@pytest.mark.mariadb
def test_erpnext_healthcare_from_fresh_settings_to_every_visit(mariadb: tuple[dict[str, Any], Any],
                                                               tmp_path: Path, cli: Any) -> None:
    """No --timezone: the site's own zone (System Settings, in tabSingles) is the connector's."""
    database, connection = mariadb
    expected = erpnext(connection)
    settings = catalogue.fresh_settings(tmp_path, ZONE, "IN")
    with catalogue.mariadb_reader(connection, database, GRANTS) as url:  # the read-only login the docs ask for
        discovered, checked, report, run = catalogue.admin_path(cli, settings, [url])

    assert "known product erpnext_healthcare (confidence 1.00)" in discovered
    assert "System Settings' time_zone" in settings.read_text()  # the written note says where the zone came from
    assert f"{VISITS} records" in checked and "0 would be quarantined" in checked
    assert (report["error"], report["created"], report["quarantined"]) == (None, VISITS, 0)
    found = data.stored(run)
    catalogue.assert_visits(found, expected)
    connector = yaml.safe_load(settings.read_text())["connectors"][0]
    assert (connector["query_preset"], connector["timezone"]) == ("erpnext_healthcare", ZONE)
    assert found["HLC-APP-2026-00002"]["practitioner"] == {"id": "HLC-PRAC-2026-00002", "name": "Vikram Iyer",
                                                          "email": "vikram.iyer@hospital.example"}
    assert found["HLC-APP-2026-00002"]["patient"]["name"] == "Patient1 Kumar"


@pytest.mark.mariadb
def test_erpnext_sees_a_new_mobile_and_a_cancellation_at_the_next_poll(
        mariadb: tuple[dict[str, Any], Any], tmp_path: Path, cli: Any) -> None:
    """The cursor is the newest `modified` of the appointment, its patient and its practitioner:
    a mobile number saved on the patient (nothing saved on the appointment) reaches the store at
    the next poll, as does an appointment cancelled at the desk."""
    database, connection = mariadb
    expected = erpnext(connection)
    settings = catalogue.fresh_settings(tmp_path, ZONE, "IN")
    _, _, report, run = catalogue.admin_path(cli, settings, [database["url"]])
    assert report["created"] == VISITS
    visit = expected[3]  # patient 3: only a local phone so far
    with connection.cursor() as cursor:
        cursor.execute("UPDATE `tabPatient` SET mobile = '+91 99000 12345', modified = NOW(6) + INTERVAL 1 SECOND "
                       "WHERE name = %s", (visit.patient,))
        cursor.execute("UPDATE `tabPatient Appointment` SET status = 'Cancelled', "
                       "modified = NOW(6) + INTERVAL 1 SECOND WHERE name = 'HLC-APP-2026-00001'")
    run("sync", "--once", expect=0)
    found = data.stored(run)
    assert found[visit.external_id]["patient"]["phone"] == "+919900012345"
    assert (expected[0].status, found["HLC-APP-2026-00001"]["status"]) == ("booked", "cancelled")


@pytest.mark.mariadb
def test_erpnext_without_its_zone_setting_takes_the_clinics(mariadb: tuple[dict[str, Any], Any], tmp_path: Path,
                                                             cli: Any) -> None:
    """A site whose System Settings name no zone, or a login that may not read them: discover
    does not take the server's UTC for the clinic's zone; the server's zone when it names a
    region, else the visits take clinic.timezone (the connector names none), and every visit
    is imported at its right instant."""
    database, connection = mariadb
    expected = erpnext(connection, site_zone=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@session.time_zone, @@system_time_zone")
        server = [z for z in cursor.fetchone() if "/" in z and not z.startswith("Etc/")]
    first = catalogue.fresh_settings(tmp_path, ZONE, "IN")
    _, _, report, run = catalogue.admin_path(cli, first, [database["url"]])
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO `tabSingles` (doctype, field, value) VALUES ('System Settings', 'time_zone', %s)",
                       (ZONE,))
    (tmp_path / "second").mkdir()
    second = catalogue.fresh_settings(tmp_path / "second", ZONE, "IN")
    with catalogue.mariadb_reader(connection, database, GRANTS[:3]) as url:  # no grant on tabSingles
        cli(second)("discover", url, "--write", expect=0)
    for settings in (first, second):
        connector = yaml.safe_load(settings.read_text())["connectors"][0]
        assert connector.get("timezone") == (server[0] if server else None)
    if not server:
        assert (report["created"], report["quarantined"]) == (VISITS, 0)
        catalogue.assert_visits(data.stored(run), expected)
