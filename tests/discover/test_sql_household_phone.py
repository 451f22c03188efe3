"""A patient row that belongs to a household (a family's file, a CRM contact's company) keeps the
home number on the household's row: discover reads it as the last fallback of the patient's
phone, after the person's own numbers, never before them; a pharmacy the patient row names
is never a way to reach the patient. A schema built here, in MariaDB, discover run on it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

ZONE = "Europe/Madrid"
DDL = """
CREATE TABLE familia (familia_id INT PRIMARY KEY, apellidos VARCHAR(60), telefono VARCHAR(30));
CREATE TABLE farmacia (farmacia_id INT PRIMARY KEY, nombre VARCHAR(60), telefono VARCHAR(30));
CREATE TABLE medico (medico_id INT PRIMARY KEY, nombre VARCHAR(60), email VARCHAR(80));
CREATE TABLE paciente (paciente_id INT PRIMARY KEY, familia_id INT, farmacia_id INT, nombre VARCHAR(40),
  apellidos VARCHAR(40), movil VARCHAR(30), FOREIGN KEY (familia_id) REFERENCES familia(familia_id),
  FOREIGN KEY (farmacia_id) REFERENCES farmacia(farmacia_id));
CREATE TABLE cita (cita_id INT PRIMARY KEY, paciente_id INT NOT NULL, medico_id INT, inicio DATETIME,
  duracion_minutos INT, FOREIGN KEY (paciente_id) REFERENCES paciente(paciente_id),
  FOREIGN KEY (medico_id) REFERENCES medico(medico_id));
"""


@pytest.mark.mariadb
def test_household_phone_is_the_last_fallback_and_a_pharmacy_never(mariadb_database: dict[str, Any]) -> None:
    connection = data.mysql(mariadb_database)
    data.run_sql(connection, DDL)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO familia VALUES (%s, %s, %s)",
                           [(f, f"Familia{f}", f"91 555 {f:02d} {f:02d}") for f in range(1, 11)])
        cursor.executemany("INSERT INTO farmacia VALUES (%s, %s, %s)",
                           [(1, "Farmacia Central", "91 444 00 00"), (2, "Farmacia Sol", "91 444 00 11")])
        cursor.executemany("INSERT INTO medico VALUES (%s, %s, %s)",
                           [(m, f"Dra. Medica{m}", f"medica{m}@clinica.example.es") for m in (1, 2)])
        cursor.executemany("INSERT INTO paciente VALUES (%s, %s, %s, %s, %s, %s)",
                           [(p, 1 + p % 10, 1 + p % 2, f"Nombre{p}", f"Apellido{p}",
                             None if p % 3 == 0 else f"612 34 {p:02d} {p:02d}") for p in range(1, 31)])
        cursor.executemany("INSERT INTO cita VALUES (%s, %s, %s, %s, 20)",
                           [(n, 1 + n % 30, 1 + n % 2,
                             (now + timedelta(days=1 + n % 20)).replace(hour=9 + n % 8, minute=0, second=0))
                            for n in range(1, 61)])
    connection.close()
    proposal = discover_sql(str(mariadb_database["url"]), stored_times="local", clinic_zone=ZONE, region="ES")
    phone = (proposal.mapping or {})["fields"]["patient.phone"]
    assert phone["from"][0] == "paciente_movil" and len(phone["from"]) == 2, phone  # the person's own first
    assert phone["from"][1].endswith("telefono") and "familia" in phone["from"][1], phone
    query = proposal.connector["query"]
    assert "familia" in query and "farmacia AS" not in query.replace("`", "")  # the pharmacy is never joined
