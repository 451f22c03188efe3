"""The write-back outbox end to end: a reply to an appointment synced from the loopback
FHIR server reaches that server (If-Match), after an outage retried with backoff and
shown by `status --json`; sources without write-back are marked unsupported."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from clinicsync.common.types import utcnow
from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.responses.writeback import process_writebacks
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.connectors.csv_support import rows, write_drop
from tests.connectors.fhir_fake import FakeFhir, Seen, appointment, patient, pem, practitioner, rsa_key
from tests.connectors.test_fhir_writeback import patient_status

A = Appointment.__table__  # type: ignore[attr-defined]


@pytest.fixture
def config(fhir_server: FakeFhir, tmp_path: Path, write_settings: Callable[..., Path]) -> Path:
    key = tmp_path / "fhir-key.pem"
    key.write_text(pem(rsa_key()))
    return write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {fhir_server.base_url}
          writeback: true
          auth:
            kind: smart_backend
            client_id: clinicsync
            kid: test-key
            private_key_file: {key}
            scope: system/Appointment.rs system/Appointment.u system/Patient.r system/Practitioner.r
        """)


def writebacks(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(WRITEBACKS).order_by(WRITEBACKS.c.id)))


def test_a_yes_reaches_the_fhir_source_after_an_outage(fhir_server: FakeFhir, config: Path, cli: Any,
                                                       store: Store) -> None:
    fake = fhir_server
    fake.put(patient("p1", language="es"))
    fake.put(practitioner("d1"))
    fake.put(appointment("a1", fake.clock + timedelta(days=2), "p1", "d1"))
    run = cli(config)
    run("db", "upgrade")
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["writeback"] == {"done": 0, "retrying": 0, "unsupported": 0, "superseded": 0,
                                           "set_aside": 0}
    settings = load_settings(config)

    result = handle_reply(settings, store, "sms", "+12125550100", "Sí", "SM1")
    assert (result.outcome, result.language) == ("applied", "es")

    def is_put(seen: Seen) -> bool:
        return seen.method == "PUT"

    fake.fail(is_put, 503, times=100)  # the EHR is down for writes
    now = utcnow()
    assert process_writebacks(settings, store, now)["retrying"] == 1
    assert patient_status(fake.get("Appointment/a1")) == "needs-action"
    _, out, _ = run("status", "--json")
    section = json.loads(out)["writeback"]
    assert section["pending"] == 1 and section["done"] == 0
    [failing] = section["failing"]
    assert failing["appointment"] == "ehr:a1" and failing["attempts"] == 1 and "503" in failing["last_error"]
    # Not retried before its backoff has passed, then it goes through once the EHR is back.
    fake.faults.clear()
    assert process_writebacks(settings, store, now + timedelta(seconds=30))["done"] == 0
    assert process_writebacks(settings, store, now + timedelta(minutes=2))["done"] == 1
    stored = fake.get("Appointment/a1")
    assert patient_status(stored) == "accepted" and stored["status"] == "booked"
    assert [p.headers["if-match"] for p in fake.seen("PUT", "/fhir/Appointment/a1")][-1] == 'W/"1"'
    [row] = writebacks(store)
    assert (row.status, row.attempts, row.last_error) == ("done", 2, None)
    assert process_writebacks(settings, store, now + timedelta(hours=1))["done"] == 0  # nothing twice


def test_only_the_newest_answer_is_written(fhir_server: FakeFhir, config: Path, cli: Any, store: Store) -> None:
    fake = fhir_server
    fake.put(patient("p1", language="en"))
    fake.put(practitioner("d1"))
    fake.put(appointment("a1", fake.clock + timedelta(days=2), "p1", "d1"))
    run = cli(config)
    run("db", "upgrade")
    run("sync", "--once", "--json")
    settings = load_settings(config)
    handle_reply(settings, store, "sms", "+12125550100", "yes", "SM1")
    with store.engine.begin() as connection:  # the patient changes their mind before the write-back
        connection.execute(WRITEBACKS.insert().values(
            appointment_id=writebacks(store)[0].appointment_id, connector="ehr", external_id="a1",
            participant_status="declined", status="pending", attempts=0, next_at=utcnow(),
            created_at=utcnow()))
    report = process_writebacks(settings, store, utcnow())
    assert (report["superseded"], report["done"]) == (1, 1)
    assert patient_status(fake.get("Appointment/a1")) == "declined"
    assert [r.status for r in writebacks(store)] == ["superseded", "done"]


def csv_clinic(drop_dir: Path, cli: Any, write_settings: Callable[..., Path], extra: str = "") -> Path:
    row = {**rows(1)[0], "patient_phone": "(212) 555-0101", "patient_language": "en"}
    write_drop(drop_dir, "a.csv", [row])
    config = write_settings(f"- name: clinic\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n{extra}",
                            extra="responses:\n  decline_cancels: true\n")
    run = cli(config)
    run("db", "upgrade")
    run("sync", "--once", "--json")
    return config


def test_a_decline_is_appended_to_the_csv_responses_file(drop_dir: Path, cli: Any, store: Store, tmp_path: Path,
                                                         write_settings: Callable[..., Path]) -> None:
    export = tmp_path / "out" / "responses.csv"
    config = csv_clinic(drop_dir, cli, write_settings, f"  responses_file: {export}\n")
    settings = load_settings(config)
    assert handle_reply(settings, store, "sms", "+12125550101", "Cancel", "SM1").outcome == "applied"
    assert process_writebacks(settings, store, utcnow())["done"] == 1
    with export.open(newline="") as handle:
        [line] = list(csv.DictReader(handle))
    [appointment_row] = rows_of(store)
    assert (line["appointment_id"], line["patient_id"]) == (appointment_row.external_id, appointment_row.patient_ref)
    assert (line["participant_status"], line["appointment_status"]) == ("declined", "cancelled")
    assert line["answered_at"].endswith("Z")


def test_a_source_without_write_back_is_marked_unsupported(drop_dir: Path, cli: Any, store: Store,
                                                           write_settings: Callable[..., Path]) -> None:
    settings = load_settings(csv_clinic(drop_dir, cli, write_settings))
    handle_reply(settings, store, "sms", "+12125550101", "yes", "SM1")
    assert process_writebacks(settings, store, utcnow())["unsupported"] == 1
    [row] = writebacks(store)
    assert row.status == "unsupported" and "responses_file" in row.last_error


def test_the_responses_file_must_not_be_read_back(drop_dir: Path) -> None:
    with pytest.raises(ValidationError, match="read back"):
        CsvDropSettings.model_validate({"name": "c", "mapping": "csv_default", "drop_dir": str(drop_dir),
                                        "responses_file": str(drop_dir / "answers.csv")})


def rows_of(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(A)))
