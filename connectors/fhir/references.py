"""Resolve an Appointment's participants into the resources the mapping reads.

The patient, the practitioner and the location come from the search Bundle's
``_include``d entries; whatever is missing is read once per run (``GET Patient/7``)
and remembered, so a page of 100 appointments for one doctor costs one read, not 100.
"""

from __future__ import annotations

from typing import Any

import structlog

from connectors.fhir.client import FhirClient
from connectors.fhir.errors import FhirStatusError
from connectors.fhir.shape import items, obj

log = structlog.get_logger("clinicsync.fhir")
Resource = dict[str, Any]
# Participation types (v3 ParticipationType) of the doctor an appointment is with, best first.
PERFORMER_CODES = ("ATND", "PPRF", "PRF", "SPRF", "CON")
ENRICHED_KEYS = {"Patient": "_patient", "Practitioner": "_practitioner", "Location": "_location"}


def reference_key(reference: Any, base_url: str) -> str | None:
    """'Patient/7', 'Patient/7/_history/2' or '{base_url}/Patient/7' -> 'Patient/7'.

    References into other servers, contained (#id) and logical-only references give None:
    they cannot be read here (and our credentials never go to another server)."""
    if not isinstance(reference, str):
        return None
    ref = reference.strip()
    if ref.startswith(("http://", "https://")):
        if not ref.startswith(base_url + "/"):
            return None
        ref = ref[len(base_url) + 1:]
    parts = ref.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) != 2 or not parts[0][:1].isupper() or not parts[1]:
        return None
    return f"{parts[0]}/{parts[1]}"


def _codes(participant: dict[str, Any]) -> set[str]:
    return {str(coding.get("code")) for concept in items(participant.get("type")) if isinstance(concept, dict)
            for coding in items(concept.get("coding")) if isinstance(coding, dict)}


def pick_participants(appointment: Resource, base_url: str) -> dict[str, str]:
    """The reference of the patient, the practitioner (the attender first) and the
    location an appointment is about, by the actors' resource types."""
    by_type: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for participant in items(appointment.get("participant")):
        if not isinstance(participant, dict):
            continue
        key = reference_key(obj(participant.get("actor")).get("reference"), base_url)
        if key:
            by_type.setdefault(key.split("/")[0], []).append((participant, key))
    chosen: dict[str, str] = {}
    for kind in ("Patient", "Location"):
        if by_type.get(kind):
            chosen[kind] = by_type[kind][0][1]
    doctors = by_type.get("Practitioner") or by_type.get("PractitionerRole") or []
    if len(doctors) == 1:
        chosen["Practitioner"] = doctors[0][1]
    elif doctors:
        def rank(item: tuple[dict[str, Any], str]) -> int:
            codes = _codes(item[0])
            return min((PERFORMER_CODES.index(c) for c in codes if c in PERFORMER_CODES), default=len(PERFORMER_CODES))

        chosen["Practitioner"] = min(doctors, key=rank)[1]  # min is stable: the first of the best
    return chosen


class ReferenceResolver:
    """Included resources first, then one read per missing reference, remembered for the run."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client
        self._known: dict[str, Resource] = {}
        self.reads = 0

    def add(self, resource: Resource) -> None:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(kind, str) and isinstance(rid, str):
            self._known[f"{kind}/{rid}"] = resource

    def get(self, key: str) -> Resource:
        """The resource, or a stub with only its id when the server no longer has it."""
        if key not in self._known:
            self.reads += 1
            try:
                resource, _ = self.client.get_json(key)
            except FhirStatusError as exc:
                if exc.status not in (404, 410):
                    raise
                log.warning("fhir.reference.missing", connector=self.client.connector, reference=key,
                            status=exc.status)
                kind, rid = key.split("/", 1)
                resource = {"resourceType": kind, "id": rid}
            self._known[key] = resource
        return self._known[key]

    def enrich(self, appointment: Resource) -> Resource:
        """The Appointment plus ``_patient``/``_practitioner``/``_location`` resources."""
        base_url = self.client.base_url
        enriched = dict(appointment)
        for kind, key in pick_participants(appointment, base_url).items():
            resource = self.get(key)
            if resource.get("resourceType") == "PractitionerRole":
                practitioner = reference_key(obj(resource.get("practitioner")).get("reference"), base_url)
                if practitioner is None:
                    continue
                resource = self.get(practitioner)
            enriched[ENRICHED_KEYS[kind]] = resource
        return enriched
