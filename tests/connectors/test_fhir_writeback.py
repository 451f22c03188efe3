"""Write-back of a patient's answer to the loopback FHIR server: If-Match on the
version read, one re-read on a concurrent change (412), passing faults retriable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from clinicsync.connectors.base import (
    FatalConnectorError,
    RetriableConnectorError,
    WritebackAction,
    WritebackUnsupported,
)
from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from tests.connectors.fhir_fake import FakeFhir, Seen, appointment, pem, rsa_key


@pytest.fixture
def fake(fhir_server: FakeFhir) -> FakeFhir:
    fhir_server.put(appointment("a1", fhir_server.clock + timedelta(days=1), "p1", "d1"))
    return fhir_server


def connector(fake: FakeFhir, **overrides: Any) -> FhirConnector:
    auth = {"kind": "smart_backend", "client_id": "clinicsync", "kid": "test-key", "private_key": pem(rsa_key()),
            "scope": "system/Appointment.rs system/Appointment.u system/Patient.r"}
    return FhirConnector(FhirSettings.model_validate(
        {"name": "ehr", "base_url": fake.base_url, "auth": auth, "writeback": True, **overrides}))


def patient_status(resource: dict[str, Any]) -> str:
    return next(p["status"] for p in resource["participant"] if p["actor"]["reference"].startswith("Patient/"))


def puts(fake: FakeFhir) -> list[Seen]:
    return fake.seen("PUT", "/fhir/Appointment/a1")


def test_an_answer_is_written_with_if_match(fake: FakeFhir) -> None:
    connector(fake).writeback(WritebackAction("a1", "accepted"))
    stored = fake.get("Appointment/a1")
    assert patient_status(stored) == "accepted" and stored["status"] == "booked"
    assert stored["meta"]["versionId"] == "2"
    [put] = puts(fake)
    assert put.headers["if-match"] == 'W/"1"' and put.headers["content-type"] == "application/fhir+json"
    assert put.headers["authorization"].startswith("Bearer ")
    assert fake.assertions[0][1]["iss"] == "clinicsync"


def test_a_decline_can_cancel_the_appointment(fake: FakeFhir) -> None:
    connector(fake).writeback(WritebackAction("a1", "declined", appointment_status="cancelled", patient_ref="p1"))
    stored = fake.get("Appointment/a1")
    assert (patient_status(stored), stored["status"]) == ("declined", "cancelled")


def test_an_answer_the_source_already_has_writes_nothing(fake: FakeFhir) -> None:
    ehr = connector(fake)
    ehr.writeback(WritebackAction("a1", "accepted"))
    ehr.writeback(WritebackAction("a1", "accepted"))
    assert len(puts(fake)) == 1 and fake.get("Appointment/a1")["meta"]["versionId"] == "2"


def test_a_concurrent_change_is_reread_and_kept(fake: FakeFhir) -> None:
    def staff_edits_first(seen: Seen) -> None:
        if seen.method == "PUT" and len(puts(fake)) == 1:  # between our read and our write
            fake.put(fake.get("Appointment/a1") | {"comment": "moved to room 2"})

    fake.before(staff_edits_first)
    connector(fake).writeback(WritebackAction("a1", "accepted"))

    assert [p.status for p in puts(fake)] == [412, 200]
    assert [p.headers["if-match"] for p in puts(fake)] == ['W/"1"', 'W/"2"']
    stored = fake.get("Appointment/a1")
    assert stored["comment"] == "moved to room 2" and patient_status(stored) == "accepted"
    assert stored["meta"]["versionId"] == "3"


def test_a_resource_that_keeps_changing_is_retried_later(fake: FakeFhir) -> None:
    def always_first(seen: Seen) -> None:
        if seen.method == "PUT":
            fake.put(fake.get("Appointment/a1"))

    fake.before(always_first)
    with pytest.raises(RetriableConnectorError, match="412 twice"):
        connector(fake).writeback(WritebackAction("a1", "accepted"))
    assert len(puts(fake)) == 2


def test_a_server_error_on_write_is_retriable_and_not_repeated_inline(fake: FakeFhir) -> None:
    fake.fail(lambda seen: seen.method == "PUT", 503, times=5)
    with pytest.raises(RetriableConnectorError, match="PUT Appointment/a1 answered HTTP 503"):
        connector(fake).writeback(WritebackAction("a1", "accepted"))
    assert len(puts(fake)) == 1  # the outbox retries later; a blind repeat could race a human edit


def test_refusals(fake: FakeFhir) -> None:
    with pytest.raises(WritebackUnsupported, match="write-back is off"):
        connector(fake, writeback=False).writeback(WritebackAction("a1", "accepted"))
    with pytest.raises(FatalConnectorError, match="no participant for patient p9"):
        connector(fake).writeback(WritebackAction("a1", "accepted", patient_ref="p9"))
    reads = len(fake.seen("GET", "/fhir/Appointment/a1"))
    with pytest.raises(FatalConnectorError, match="participant status 'maybe'"):
        connector(fake).writeback(WritebackAction("a1", "maybe"))
    assert len(fake.seen("GET", "/fhir/Appointment/a1")) == reads  # refused before reading
    with pytest.raises(FatalConnectorError, match="GET Appointment/nope answered HTTP 404"):
        connector(fake).writeback(WritebackAction("nope", "accepted"))
    assert puts(fake) == []
