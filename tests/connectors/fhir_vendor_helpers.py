"""What the vendor tables share (test_fhir_vendors.py, test_fhir_medplum.py): the vendor
fixtures under tests/fixtures/<vendor>/, and one poll of a respx-faked FHIR server through
the real connector followed by the shipped fhir_r4 mapping, as a sync runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import respx

from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.ingest.engine import map_batch

BASE = "https://ehr.example.org/fhir/r4"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MAPPING = load_mapping("fhir_r4", "America/Chicago", "US")


def fixture(vendor: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / vendor / name).read_text(encoding="utf-8"))
    return data


def make(**overrides: Any) -> FhirConnector:
    return FhirConnector(FhirSettings.model_validate({"name": "ehr", "base_url": BASE, **overrides}))


def searchset(*entries: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": list(entries)}


def match(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "search": {"mode": "match"}}


def fetch_and_map(bundle: dict[str, Any], reads: dict[str, int | dict[str, Any]]) -> tuple[
        list[NormalizedAppointment], list[Any], dict[str, respx.Route]]:
    """One poll of a server answering ``bundle`` to the search and, per reference,
    a status code or a resource; then the shipped mapping over what was fetched."""
    routes: dict[str, respx.Route] = {}
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Appointment").respond(200, json=bundle)
        for key, answer in reads.items():
            if isinstance(answer, int):
                routes[key] = mock.get(f"{BASE}/{key}").respond(answer, json={"resourceType": "OperationOutcome"})
            else:
                routes[key] = mock.get(f"{BASE}/{key}").respond(200, json=answer)
        connector = make()
        try:
            batches = list(connector.fetch(None))
        finally:
            connector.close()
    mapped, quarantined = [], []
    for batch in batches:
        ok, bad = map_batch(MAPPING, batch)
        mapped += [m.appointment for m in ok]
        quarantined += bad
    return mapped, quarantined, routes
