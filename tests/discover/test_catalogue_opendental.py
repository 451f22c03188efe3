"""Open Dental in a real MariaDB: its own tables (tests/fixtures/ehr/opendental), a small
practice's synthetic rows, and the admin's path from a fresh settings file to the imported visits
(`discover --write`, `check`, `sync --once`) in at most six typed lines."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discover import catalogue_support as catalogue
from tests.discover import sql_support as data

SCHEMA = data.FIXTURES / "ehr" / "opendental" / "schema.sql"
ZONE = "America/Chicago"
GRANTS = ("appointment", "patient", "provider", "appointmenttype", "operatory")  # docs/connectors/sql.md: the login
# Open Dental's ApptStatus numbers and what the store makes of them; 6 Planned, 7 PtNote and
# 8 PtNoteCompleted are no visit on the schedule and are never imported.
STATUS = {1: "booked", 2: "fulfilled", 3: "cancelled", 4: "booked", 5: "cancelled"}
PROVIDERS = [(1, "DOC1", "Maria", "Alvarez"), (2, "DOC2", "James", "Okafor"), (3, "HYG1", "Lena", "Brooks")]
PATIENTS = 120
VISITS = 240


def opendental(connection: Any) -> list[catalogue.Visit]:
    """The schema and a practice: 3 providers (one a hygienist, on ProvHyg alone), patients with
    a cell, home or work phone as the front desk types them, visits of every length and status,
    and the rows that are not visits (planned appointments, patient notes)."""
    data.run_script(connection, SCHEMA)
    rng = random.Random(57)
    patients = []
    for n in range(PATIENTS):
        number = f"(312) 253-{1000 + n}"
        kind = n % 3  # cell, home only, work only
        patients.append((1 + n, f"Last{n}", f"First{n}", number if kind == 0 else "", number if kind == 1 else "",
                         number if kind == 2 else "", f"p{n}@example.org" if n % 4 else "", 2 if n % 7 == 0 else 1))
    visits = []
    rows = []
    for n, start in enumerate(data.future_slots(ZONE, VISITS, seed=57)):
        status = list(STATUS)[n % len(STATUS)]
        slots = rng.choice((2, 3, 4, 6, 9, 12))  # 10 min … 1 h, in Open Dental's 5-minute slots
        pattern = "/" + "X" * (slots - 2) + "/"
        patient = 1 + n % PATIENTS
        provider, hygienist = (0, 3) if n % 5 == 0 else (1 + n % 2, 0)
        rows.append((1000 + n, patient, status, pattern, provider, hygienist, start, "Ex, Pro"))
        end = start + timedelta(minutes=5 * slots)
        visits.append(catalogue.Visit(str(1000 + n), data.utc(start, ZONE), data.utc(end, ZONE), ZONE, STATUS[status],
                                      str(patient), f"+1312253{1000 + n % PATIENTS}", str(provider or hygienist)))
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO provider (ProvNum, Abbr, FName, LName, IsSecondary) VALUES (%s,%s,%s,%s,%s)",
                           [(*p, p[1].startswith("HYG")) for p in PROVIDERS])
        cursor.executemany(
            "INSERT INTO patient (PatNum, LName, FName, WirelessPhone, HmPhone, WkPhone, Email, TxtMsgOk, PriProv) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1)", patients)
        cursor.executemany(
            "INSERT INTO appointment (AptNum, PatNum, AptStatus, Pattern, ProvNum, ProvHyg, AptDateTime, ProcDescript) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        day = rows[0][6]
        cursor.executemany(  # a planned appointment (no date), a patient note on the schedule, a completed one
            "INSERT INTO appointment (AptNum, PatNum, AptStatus, Pattern, ProvNum, AptDateTime) "
            "VALUES (%s, 1, %s, 'XX', 1, %s)",
            [(9001, 6, datetime(1, 1, 1)), (9002, 7, day + timedelta(minutes=5)),
             (9003, 8, day + timedelta(days=1))])
    return visits



@pytest.fixture
def mariadb(mariadb_database: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    with catalogue.root_connection(mariadb_database) as built:
        yield built

@pytest.mark.mariadb
def test_open_dental_from_fresh_settings_to_every_visit(mariadb: tuple[dict[str, Any], Any], tmp_path: Path,
                                                        cli: Any) -> None:
    """Open Dental keeps no zone: the office's is clinic.timezone (a server naming another region
    would be taken for it, so the admin then gives --timezone)."""
    database, connection = mariadb
    expected = opendental(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@session.time_zone, @@system_time_zone")
        server = [z for z in cursor.fetchone() if "/" in z and not z.startswith("Etc/")]
    settings = catalogue.fresh_settings(tmp_path, ZONE, "US")
    with catalogue.mariadb_reader(connection, database, GRANTS) as url:  # the read-only login the docs ask for
        command = [url, "--timezone", ZONE] if server else [url]
        discovered, checked, report, run = catalogue.admin_path(cli, settings, command)
        found = data.stored(run)

    assert "known product opendental (confidence 1.00)" in discovered
    assert f"{VISITS} records" in checked and "0 would be quarantined" in checked
    assert (report["error"], report["created"], report["quarantined"]) == (None, VISITS, 0)
    catalogue.assert_visits(found, expected)
    assert {"9001", "9002", "9003"}.isdisjoint(found)  # planned appointments and notes are no visits
    # What discover wrote: the preset, incremental on the newest stamp of the three tables.
    connector = yaml.safe_load(settings.read_text())["connectors"][0]
    assert (connector["query_preset"], connector.get("timezone")) == ("opendental", ZONE if server else None)
    names = {v.external_id: found[v.external_id]["practitioner"]["name"] for v in expected[:5]}
    assert names["1000"] == "Lena Brooks" and names["1001"] == "James Okafor"  # 1000: the hygienist alone


@pytest.mark.mariadb
def test_open_dental_sees_a_new_phone_and_a_broken_visit_at_the_next_poll(
        mariadb: tuple[dict[str, Any], Any], tmp_path: Path, cli: Any) -> None:
    """The cursor is the newest DateTStamp of appointment, patient and provider: a phone changed
    on the patient's row (nothing on the appointment) reaches the store at the next poll."""
    database, connection = mariadb
    expected = opendental(connection)
    settings = catalogue.fresh_settings(tmp_path, ZONE, "US")
    _, _, report, run = catalogue.admin_path(cli, settings, [database["url"], "--timezone", ZONE])
    assert report["created"] == VISITS
    first = expected[1]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE patient SET WirelessPhone = '312-253-9999', DateTStamp = NOW() + INTERVAL 1 SECOND "
                       "WHERE PatNum = %s", (int(first.patient),))
        cursor.execute("UPDATE appointment SET AptStatus = 5, DateTStamp = NOW() + INTERVAL 1 SECOND "
                       "WHERE AptNum = 1000")
    run("sync", "--once", expect=0)
    found = data.stored(run)
    assert found[first.external_id]["patient"]["phone"] == "+13122539999"
    assert found["1000"]["status"] == "cancelled"
