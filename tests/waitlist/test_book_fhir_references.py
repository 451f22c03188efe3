"""Issue 58: a FHIR server that checks references, as HAPI does by default, faked at the HTTP
boundary (respx) behind the connector's real client: it answers 400 with an OperationOutcome
(HAPI's wording) to an Appointment naming a resource it does not have. The booking references
the place by the id the server gave the freed Appointment's Location (the store keeps places by
name), so the server takes it; a freed Appointment the server no longer has leaves the place's
name as a display; a refusal tells the desk the server's words, without the patient."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from tests.connectors.fhir_fake import patient, practitioner
from tests.waitlist.book_rows import NOW, seed, slot_row

BASE = "https://ehr.example.org/fhir"
A = Appointment.__table__  # type: ignore[attr-defined]
CLINIC = {"resourceType": "Location", "id": "L1", "name": "Main Street Clinic"}


class CheckingEhr:
    """Knows Patient/p2, Practitioner/d1, Location/L1 and the freed Appointment; refuses a
    create that refers to anything else, as HAPI does (HAPI-1094)."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.known = {"Patient/p2": patient("p2", "+12125550142"), "Practitioner/d1": practitioner("d1"),
                      "Location/L1": CLINIC}
        self.freed_gone = False
        self.posts: list[dict[str, Any]] = []
        router.post(f"{BASE}/Appointment").mock(side_effect=self.create)
        router.get(f"{BASE}/Appointment").mock(return_value=httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", "entry": []}))
        router.get(url__regex=rf"^{BASE}/Appointment/freed-[\w-]+$").mock(side_effect=self.freed)
        router.get(url__regex=rf"^{BASE}/(Patient|Practitioner|Location)/[\w-]+$").mock(side_effect=self.read)

    def freed(self, request: httpx.Request) -> httpx.Response:
        if self.freed_gone:
            return httpx.Response(410, json={"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "deleted", "diagnostics": "Resource was deleted"}]})
        return httpx.Response(200, json={
            "resourceType": "Appointment", "id": request.url.path.rsplit("/", 1)[1], "status": "cancelled",
            "participant": [{"actor": {"reference": "Patient/p9"}, "status": "declined"},
                            {"actor": {"reference": f"{BASE}/Location/L1", "display": "Main Street Clinic"},
                             "status": "accepted"}]})

    def read(self, request: httpx.Request) -> httpx.Response:
        key = "/".join(request.url.path.rsplit("/", 2)[-2:])
        return httpx.Response(200, json=self.known[key]) if key in self.known else httpx.Response(404)

    def create(self, request: httpx.Request) -> httpx.Response:
        resource = json.loads(request.content)
        self.posts.append(resource)
        for index, participant in enumerate(resource["participant"]):
            ref = participant["actor"].get("reference")
            if ref is not None and ref not in self.known:
                return httpx.Response(400, json={"resourceType": "OperationOutcome", "issue": [{
                    "severity": "error", "code": "processing",
                    "diagnostics": f"HAPI-1094: Resource {ref} not found, specified in path: "
                                   f"Appointment.participant[{index}].actor (patient 'Mara Quint', +1 212 555 0142)"}]})
        resource.update(id="new1", meta={"versionId": "1", "lastUpdated": "2026-03-02T15:00:01Z"})
        return httpx.Response(201, json=resource)


@pytest.fixture
def ehr() -> Iterator[CheckingEhr]:
    with respx.mock(assert_all_called=False) as router:
        yield CheckingEhr(router)


@pytest.fixture
def settings(write_settings: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(FhirClient, "sleep", staticmethod(lambda seconds: None))
    return load_settings(write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          waitlist_book: true
          retry: {{attempts: 1}}
        """))


def test_the_booking_references_the_location_the_server_knows(ehr: CheckingEhr, settings: Settings,
                                                              store: Store) -> None:
    seeded = seed(store, "ehr", location_ref="Main Street Clinic")
    assert run_booking(settings, store, NOW)["written"] == 1
    [body] = ehr.posts
    assert [p["actor"] for p in body["participant"]] == [
        {"reference": "Patient/p2"}, {"reference": "Practitioner/d1"}, {"reference": "Location/L1"}]
    assert slot_row(store, seeded.slot_id).booked_external_id == "new1"
    with store.engine.connect() as connection:  # stored at once, named as the poll names it
        stored = connection.execute(select(A).where(A.c.external_id == "new1")).one()
    assert stored.location_ref == "Main Street Clinic"


def test_a_freed_appointment_the_server_no_longer_has_names_the_place_by_display(
        ehr: CheckingEhr, settings: Settings, store: Store) -> None:
    ehr.freed_gone = True
    seeded = seed(store, "ehr", location_ref="Main Street Clinic")
    assert run_booking(settings, store, NOW)["written"] == 1
    assert ehr.posts[0]["participant"][2]["actor"] == {"display": "Main Street Clinic"}
    assert slot_row(store, seeded.slot_id).booking_status == "written"


def test_a_refused_booking_tells_the_desk_why_without_the_patient(ehr: CheckingEhr, settings: Settings,
                                                                 store: Store) -> None:
    del ehr.known["Patient/p2"]  # the server does not know this patient
    seeded = seed(store, "ehr", location_ref="Main Street Clinic")
    assert run_booking(settings, store, NOW)["failed"] == 1
    error = slot_row(store, seeded.slot_id).booking_error
    assert error.startswith(
        "connector ehr: POST Appointment answered HTTP 400; the source said: error: HAPI-1094: "
        "Resource Patient/[redacted] not found, specified in path: Appointment.participant[0]"), error
    assert "Mara" not in error and "555" not in error and "p2" not in error
