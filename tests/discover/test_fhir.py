"""`discover` for a FHIR R4 server (issue 34): the CapabilityStatement decides the cursor,
the includes and the fan-out, a sample search says which fields carry what, and the proposal
passes the real `check` against the same (respx-faked) server. Resources are HL7's official
R4 examples (tests/fixtures/third_party/fhir) and its Base CapabilityStatement."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from clinicsync.sync.discover.fhir import declared_includes, discover_fhir, required_actor
from tests.discover.files_support import check_proposal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = "https://ehr.example.org/fhir/r4"


def load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
    return data


CAPABILITY = load("discover/fhir/capabilitystatement-base-r4.json")
APPOINTMENTS = [load("third_party/fhir/appointment-example.json"),
                load("third_party/fhir/appointment-example2doctors.json")]
INCLUDED = [load("third_party/fhir/patient-example.json"), load("third_party/fhir/practitioner-example.json"),
            load("third_party/fhir/location-1.json")]


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match" if r["resourceType"] == "Appointment" else "include"}}
                      for r in resources]}


def fhir_json(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"Content-Type": "application/fhir+json"})


NOT_FOUND = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}


def serve(router: respx.MockRouter, appointments: Any) -> None:
    router.get(f"{BASE}/metadata").mock(return_value=fhir_json(CAPABILITY))
    router.get(f"{BASE}/Appointment").mock(side_effect=appointments)
    router.get(f"{BASE}/Practitioner/f202").mock(return_value=fhir_json(NOT_FOUND, 404))  # not included
    for resource in INCLUDED:  # a real server also answers reads of what it included
        router.get(f"{BASE}/{resource['resourceType']}/{resource['id']}").mock(return_value=fhir_json(resource))


def test_a_full_r4_server_gets_a_last_updated_connector_that_passes_check(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        serve(router, lambda request: fhir_json(searchset(APPOINTMENTS + INCLUDED)))
        proposal = discover_fhir(BASE, timezone="America/New_York")
        sample = next(r for r in router.calls if r.request.url.path.endswith("/Appointment")).request
        result = check_proposal(proposal, tmp_path, "America/New_York", "US")

    assert proposal.kind == "fhir" and proposal.mapping_preset == "fhir_r4" and proposal.mapping is None
    assert proposal.name == "ehr"
    assert proposal.connector == {"name": "ehr", "kind": "fhir", "base_url": BASE, "cursor": "last-updated",
                                  "timezone": "America/New_York"}  # include: all three declared: the default
    params = urllib.parse.parse_qs(sample.url.query.decode())
    assert sorted(params["_include"]) == ["Appointment:location", "Appointment:patient", "Appointment:practitioner"]
    assert [p[:2] for p in params["date"]] == ["ge", "lt"]
    placed = {g.field: g.source for g in proposal.guesses}
    assert placed["type"] == "serviceType[0].coding[0].display"  # serviceType before appointmentType
    assert placed["patient.phone"].startswith("_patient.telecom[system=phone]")
    assert placed["practitioner.name"] == "_practitioner.name[0].prefix"  # given/family/prefix, no text
    assert placed["location"] == "_location.name"
    assert all(0.6 <= g.confidence <= 1.0 for g in proposal.guesses)
    assert [(w.value, w.status, w.count) for w in proposal.status_words] == [("booked", "booked", 2)]
    assert any("SMART-on-FHIR" in n for n in proposal.notes)
    assert any(n.startswith("no sampled appointment carries patient.email") for n in proposal.notes)
    assert "fhir_r4 maps 2 of 2 sampled appointment(s)" in proposal.notes

    assert result.problems == [] and result.ok, (result.problems, result.findings)
    assert result.mapped == 2 and result.quarantined_count == 0


def test_a_server_that_refuses_a_search_without_an_actor_gets_fan_out(tmp_path: Path) -> None:
    refusal = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "required",
        "diagnostics": "Appointment search requires a patient, practitioner or location parameter"}]}

    def appointments(request: httpx.Request) -> httpx.Response:
        if "practitioner" not in request.url.params:
            return fhir_json(refusal, 400)
        return fhir_json(searchset(APPOINTMENTS + INCLUDED))

    with respx.mock(assert_all_called=False) as router:
        serve(router, appointments)
        router.get(f"{BASE}/Practitioner").mock(return_value=fhir_json(searchset([INCLUDED[1]])))
        proposal = discover_fhir(BASE, name="hospital")
        result = check_proposal(proposal, tmp_path, "America/New_York", "US")

    assert proposal.connector["cursor"] == "date-window"
    assert proposal.connector["fan_out"] == {"by": "practitioner", "discover": "Practitioner?active=true"}
    assert "refused a search without one (400)" in proposal.connector_notes["fan_out"]
    assert proposal.guesses == []  # nothing sampled yet: said so, not guessed
    assert any("returned no Appointment" in n for n in proposal.notes)
    assert result.problems == [] and result.ok, (result.problems, result.findings)
    assert result.quarantined_count == 0 and result.mapped == 2


def test_includes_and_required_actors_read_from_the_statement() -> None:
    entry = next(r for r in CAPABILITY["rest"][0]["resource"] if r["type"] == "Appointment")
    assert declared_includes(entry) == ["patient", "practitioner", "location"]
    assert declared_includes({"searchInclude": ["Appointment:patient"]}) == ["patient"]
    assert declared_includes({}) is None
    assert required_actor(entry) is None
    combination = {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/capabilitystatement-search-parameter-combination",
        "extension": [{"url": "required", "valueString": "date"}, {"url": "required", "valueString": "patient"}]}]}
    assert required_actor(combination) == "patient"


def test_a_url_that_is_no_fhir_base_is_refused_with_the_reason() -> None:
    with respx.mock() as router:
        router.get("https://www.example.org/metadata").mock(return_value=httpx.Response(404, text="<html>"))
        with pytest.raises(ValueError, match="without a CapabilityStatement"):
            discover_fhir("https://www.example.org")


def test_a_server_that_wants_credentials_is_named_and_the_given_client_is_used() -> None:
    """The caller's client (its transport) is used as given, and left open for the caller."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/metadata"):
            return fhir_json(CAPABILITY)
        return fhir_json({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}, 401)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    proposal = discover_fhir(BASE + "/", client=client, timezone="Europe/Berlin")

    assert seen == ["/fhir/r4/metadata", "/fhir/r4/Appointment"]
    assert not client.is_closed
    client.close()
    assert proposal.connector["base_url"] == BASE  # the trailing slash dropped
    assert proposal.connector["timezone"] == "Europe/Berlin" and "fan_out" not in proposal.connector
    assert any("refused (401): the server wants credentials" in n for n in proposal.notes)
    assert proposal.guesses == []


def test_a_zone_the_practitioner_states_is_found_and_no_connector_zone_is_proposed() -> None:
    """Medplum keeps the zone on the Practitioner (its own example, given the id the
    appointment of Medplum's provider app refers to)."""
    appointment = load("medplum/appointment-patient-and-practitioner.json")
    doctor = {**load("medplum/practitioner-timezone.json"), "id": "456"}
    with respx.mock(assert_all_called=False) as router:
        serve(router, lambda request: fhir_json(searchset([appointment, doctor])))
        proposal = discover_fhir(BASE)

    assert "timezone" not in proposal.connector
    assert "appointments state their zone: its Practitioner's timezone (1)" in proposal.notes
    placed = {g.field: g.source for g in proposal.guesses}
    assert placed["timezone"] == "_practitioner.extension[url=http://hl7.org/fhir/StructureDefinition/timezone].valueCode"
    assert "fhir_r4 maps 1 of 1 sampled appointment(s)" in proposal.notes


def test_a_refusal_that_names_no_actor_is_reported_not_read_as_fan_out() -> None:
    unsupported = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "not-supported", "diagnostics": "Unknown search parameter: _count"}]}
    with respx.mock(assert_all_called=False) as router:
        serve(router, lambda request: fhir_json(unsupported, 400))
        proposal = discover_fhir(BASE)
    assert "fan_out" not in proposal.connector and proposal.connector["cursor"] == "last-updated"
    assert "the sample search answered 400: fields are not confirmed" in proposal.notes
