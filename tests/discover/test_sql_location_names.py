"""A visit's place kept as a code (SIMRS Khanza's ``kd_poli`` -> ``poliklinik.nm_poli``, a room
or site code): the location is the referenced row's name, not the code, whether the reference
is declared (a foreign key) or only found by its values. A code column that refers to nothing
with a name stays the location. Schemas built here, in MariaDB, with discover run on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

ZONE = "Europe/Berlin"
ROOMS = [("R01", "Innere Medizin"), ("R02", "Allgemeinmedizin"), ("R03", "Kinderheilkunde")]


def ddl(declared: bool, named: bool) -> str:
    reference = ", FOREIGN KEY (room_code) REFERENCES rooms(room_code)" if declared else ""
    name = ", room_name VARCHAR(60)" if named else ", floor INT"
    return f"""
CREATE TABLE rooms (room_code VARCHAR(5) PRIMARY KEY{name});
CREATE TABLE doctor (doctor_id INT PRIMARY KEY, doctor_name VARCHAR(60), email VARCHAR(80));
CREATE TABLE patient (patient_id INT PRIMARY KEY, vorname VARCHAR(40), nachname VARCHAR(40), handy VARCHAR(30));
CREATE TABLE termin (termin_id INT PRIMARY KEY, patient_id INT NOT NULL, doctor_id INT, room_code VARCHAR(5),
  beginn DATETIME, dauer_minuten INT, FOREIGN KEY (patient_id) REFERENCES patient(patient_id),
  FOREIGN KEY (doctor_id) REFERENCES doctor(doctor_id){reference});
"""


def build(database: dict[str, Any], declared: bool, named: bool = True) -> str:
    connection = data.mysql(database)
    data.run_sql(connection, ddl(declared, named))
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO rooms VALUES (%s, %s)",
                           ROOMS if named else [(code, 1 + i) for i, (code, _) in enumerate(ROOMS)])
        cursor.executemany("INSERT INTO doctor VALUES (%s, %s, %s)",
                           [(d, f"Dr. Arzt{d}", f"arzt{d}@praxis.example.de") for d in (1, 2, 3)])
        cursor.executemany("INSERT INTO patient VALUES (%s, %s, %s, %s)",
                           [(p, f"Vorname{p}", f"Nachname{p}", f"+49 151 2345 {p:04d}") for p in range(1, 21)])
        cursor.executemany("INSERT INTO termin VALUES (%s, %s, %s, %s, %s, 20)",
                           [(n, 1 + n % 20, 1 + n % 3, ROOMS[n % 3][0],
                             (now + timedelta(days=1 + n % 25)).replace(hour=8 + n % 8, minute=0, second=0))
                            for n in range(1, 61)])
    connection.close()
    return str(database["url"])


@pytest.mark.mariadb
@pytest.mark.parametrize("declared", [True, False], ids=["foreign-key", "by-values"])
def test_a_location_code_reads_the_referenced_name(mariadb_database: dict[str, Any], declared: bool) -> None:
    proposal = discover_sql(build(mariadb_database, declared), stored_times="local", clinic_zone=ZONE)
    fields = (proposal.mapping or {})["fields"]
    assert fields["location"] == {"from": "room_code_room_name"}, fields.get("location")
    assert "rooms" in proposal.connector["query"] and "room_name" in proposal.connector["query"]


@pytest.mark.mariadb
def test_a_location_code_without_a_named_row_stays_the_location(mariadb_database: dict[str, Any]) -> None:
    proposal = discover_sql(build(mariadb_database, declared=True, named=False), stored_times="local",
                            clinic_zone=ZONE)
    assert (proposal.mapping or {})["fields"]["location"] == {"from": "room_code"}
