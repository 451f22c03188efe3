"""A table whose text column holds whole FHIR resources of the type the table is named for (a
FHIR server's own store, one table per resource type): discover says what it is and stops,
pointing to the server's FHIR API, instead of reading it by its shape (which took a table of
references for the visits and found no start). A table of another name holding such JSON, and
JSON without a resource type, are read by their shape as before. Schemas built here, in SQLite
files, discover run on them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.resourcestore import holds_own_resources
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.sql_reading import DiscoverError

ZONE = "America/Chicago"


def _appointment(n: int, patient: str, doctor: str) -> dict[str, object]:
    start = datetime.now().replace(microsecond=0, second=0, minute=0) + timedelta(days=1 + n % 20, hours=n % 7)
    return {"resourceType": "Appointment", "id": str(uuid.uuid4()), "status": "booked",
            "start": start.isoformat() + "-06:00", "end": (start + timedelta(minutes=30)).isoformat() + "-06:00",
            "participant": [{"actor": {"reference": f"Patient/{patient}"}},
                            {"actor": {"reference": f"Practitioner/{doctor}"}}]}


def _store(folder: Path, table: str, links: bool = True) -> str:
    """Resources kept as JSON text, each type in its table, with an index column or two beside
    (and a table of the visits' references, ``links``)."""
    path = folder / "store.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        f'CREATE TABLE "{table}" (id TEXT PRIMARY KEY, body TEXT NOT NULL, updated DATETIME, start_at DATETIME, '
        'deleted BOOLEAN DEFAULT 0, patient TEXT);'
        'CREATE TABLE "Patient" (id TEXT PRIMARY KEY, body TEXT NOT NULL, deleted BOOLEAN DEFAULT 0);'
        + (f'CREATE TABLE "{table}_links" ("resourceId" TEXT, "targetId" TEXT, code TEXT);' if links else ""))
    patients = [str(uuid.uuid4()) for _ in range(10)]
    for number, pid in enumerate(patients):
        connection.execute('INSERT INTO "Patient" VALUES (?, ?, 0)', (pid, json.dumps({
            "resourceType": "Patient", "id": pid, "name": [{"given": ["Ana"], "family": f"Ruiz{number}"}],
            "telecom": [{"system": "phone", "value": f"(312) 555-{1000 + number}"}]})))
    for n in range(40):
        body = _appointment(n, patients[n % 10], "d1")
        connection.execute(f'INSERT INTO "{table}" VALUES (?, ?, ?, ?, 0, ?)',
                           (body["id"], json.dumps(body), str(datetime.now()), str(body["start"])[:19].replace(
                               "T", " "), f"Patient/{patients[n % 10]}"))
        if links:
            connection.execute(f'INSERT INTO "{table}_links" VALUES (?, ?, ?)',
                               (body["id"], patients[n % 10], "patient"))
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def test_a_store_of_resources_named_by_their_tables_is_named_not_guessed(tmp_path: Path) -> None:
    with pytest.raises(DiscoverError) as caught:
        discover_sql(_store(tmp_path, "Appointment"), stored_times="local", clinic_zone=ZONE, region="US")
    message = str(caught.value)
    assert "'Appointment'.'body' holds whole FHIR resources as JSON" in message, message
    assert "FHIR base URL" in message and "kind: fhir" in message, message


def test_the_same_json_in_a_table_of_another_name_is_read_by_its_shape(tmp_path: Path) -> None:
    """A table named for visits that caches Appointment JSON beside its own columns is no
    server's store: its own start column is read, as before."""
    proposal = discover_sql(_store(tmp_path, "visit_cache", links=False), stored_times="local", clinic_zone=ZONE,
                            region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["start"]["from"] == "start_at", fields


def test_the_resource_type_must_be_the_tables_own() -> None:
    own = [json.dumps({"resourceType": "AppointmentResponse", "id": str(n)}) for n in range(5)]
    assert holds_own_resources("appointment_response", own)
    assert holds_own_resources("AppointmentResponse", [*own, None, ""])
    assert not holds_own_resources("Appointment", own)  # another type's resources
    assert not holds_own_resources("AppointmentResponse", [*own[:2], "note", "call back", "{no json"])
    assert not holds_own_resources("Appointment", [json.dumps({"Name": "Ana", "Phone": "312 555 0100"})] * 6)
