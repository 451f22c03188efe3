"""Resolve an Appointment's participants into the resources the mapping reads.

The patient, the practitioner and the location come from the search Bundle's
``_include``d entries; whatever is missing is read once per run (``GET Patient/7``)
and remembered, so a page of 100 appointments for one doctor costs one read, not 100.

A read the server refuses or cannot answer (401, 403: a scope not granted, as Epic answers
`GET Location/{id}` without `Location.read`; 404, 410: gone) becomes a stub carrying the
participant's ``actor.display`` as its name, so the appointment still imports with its
doctor and room named; the refusal is logged once per run per resource type and status, and
each such appointment carries a data-quality note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from clinicsync.connectors.base import Condition
from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.connectors.fhir.errors import FhirStatusError
from clinicsync.connectors.fhir.shape import items, obj

log = structlog.get_logger("clinicsync.fhir")
Resource = dict[str, Any]
# Participation types (v3 ParticipationType) of the doctor an appointment is with, best first.
PERFORMER_CODES = ("ATND", "PPRF", "PRF", "SPRF", "CON")
ENRICHED_KEYS = {"Patient": "_patient", "Practitioner": "_practitioner", "Location": "_location"}
# Reference reads that leave a stub instead of failing the run.
UNAVAILABLE = (401, 403, 404, 410)
STUB_STATUS = "_unavailable"  # on a stub: the HTTP status its read answered
NO_PATIENT = "patient: no Patient participant this server can read; nobody to message for this appointment"
REFERENCE_UNAVAILABLE = "fhir.reference.unavailable"
_WHY = {401: "refused (credentials)", 403: "refused (scope not granted)", 404: "not found", 410: "gone"}


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


def pick_participants(appointment: Resource, base_url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """The reference (and participant entry) of the patient, the practitioner (the attender
    first) and the location an appointment is about, by the actors' resource types; the
    location, when no participant is one, from the first ``supportingInformation`` reference
    to a Location."""
    by_type: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for participant in items(appointment.get("participant")):
        if not isinstance(participant, dict):
            continue
        key = reference_key(obj(participant.get("actor")).get("reference"), base_url)
        if key:
            by_type.setdefault(key.split("/")[0], []).append((participant, key))
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for kind in ("Patient", "Location"):
        if by_type.get(kind):
            participant, key = by_type[kind][0]
            chosen[kind] = (key, participant)
    if "Location" not in chosen:  # some servers name the place only in supportingInformation
        for reference in items(appointment.get("supportingInformation")):
            key = reference_key(obj(reference).get("reference"), base_url)
            if key and key.startswith("Location/"):
                chosen["Location"] = (key, {"actor": reference})  # read as a participant's actor is
                break
    doctors = by_type.get("Practitioner") or by_type.get("PractitionerRole") or []
    if len(doctors) == 1:
        chosen["Practitioner"] = (doctors[0][1], doctors[0][0])
    elif doctors:
        def rank(item: tuple[dict[str, Any], str]) -> int:
            codes = _codes(item[0])
            return min((PERFORMER_CODES.index(c) for c in codes if c in PERFORMER_CODES), default=len(PERFORMER_CODES))

        best = min(doctors, key=rank)  # min is stable: the first of the best
        chosen["Practitioner"] = (best[1], best[0])
    return chosen


def _named(resource: Resource) -> bool:
    name = resource.get("name")
    if resource.get("resourceType") == "Location":
        return isinstance(name, str) and bool(name.strip())
    return any(isinstance(n, dict) and (n.get("text") or n.get("family") or n.get("given")) for n in items(name))


def _with_display(resource: Resource, display: str) -> Resource:
    """The resource named by the appointment's ``actor.display`` (a Location's name is a
    string, a person's a HumanName)."""
    name: Any = display if resource.get("resourceType") == "Location" else [{"text": display}]
    return {**resource, "name": name}


class ReferenceResolver:
    """Included resources first, then one read per missing reference, remembered for the run."""

    def __init__(self, client: FhirClient, note: Callable[[Condition], None] | None = None) -> None:
        """``note``: where a refused read goes as a lasting condition (the connector's, for sync/
        to log once while it stands); without it (a sample, a booking), a warning here."""
        self.client = client
        self.note = note
        self._known: dict[str, Resource] = {}
        self.reads = 0
        #: references whose read left a stub, by "Location 403" (resource type and status)
        self.unavailable: dict[str, int] = {}

    def add(self, resource: Resource) -> None:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(kind, str) and isinstance(rid, str):
            self._known[f"{kind}/{rid}"] = resource

    def get(self, key: str) -> Resource:
        """The resource, or a stub with only its id (and ``_unavailable``: the status) when
        the server refuses the read or no longer has the resource."""
        if key not in self._known:
            self.reads += 1
            kind, rid = key.split("/", 1)
            try:
                resource, _ = self.client.get_json(key)
            except FhirStatusError as exc:
                if exc.status not in UNAVAILABLE:
                    raise
                self._unavailable(kind, exc)
                resource = {"resourceType": kind, "id": rid, STUB_STATUS: exc.status}
            else:
                if self.note is not None:
                    self.note(Condition(REFERENCE_UNAVAILABLE, kind, holds=False))
            self._known[key] = resource
        return self._known[key]

    def _unavailable(self, kind: str, exc: FhirStatusError) -> None:
        """Count a refused or missing read; the first of each type and status is logged."""
        label = f"{kind} {exc.status}"
        fields = {"resource_type": kind, "status": exc.status, "why": _WHY[exc.status],
                  "fix": (f"grant the {kind} read scope (system/{kind}.read or system/{kind}.rs)"
                          if exc.status in (401, 403) else "none needed: names come from actor.display")}
        if self.note is not None:  # 403 and 404 are two states: "status" is a number standing ignores
            self.note(Condition(REFERENCE_UNAVAILABLE, kind, holds=True, state=_WHY[exc.status], fields=fields))
        elif label not in self.unavailable:
            log.warning(REFERENCE_UNAVAILABLE, connector=self.client.connector, **fields)
        self.unavailable[label] = self.unavailable.get(label, 0) + 1

    def enrich(self, appointment: Resource) -> Resource:
        """The Appointment plus ``_patient``/``_practitioner``/``_location`` resources. A
        resource without a name (a stub, a bare read) is named by the participant's
        ``actor.display``; a stub adds a data-quality note under ``_notes``, and so does an
        appointment with no Patient participant to read (none, a contained or another server's
        one): it imports, but nobody can be reminded of it."""
        base_url = self.client.base_url
        enriched = dict(appointment)
        notes: list[str] = []
        chosen = pick_participants(appointment, base_url)
        if "Patient" not in chosen:  # normal in Medplum (a practitioner's block); say why nobody is messaged
            notes.append(NO_PATIENT)
        for kind, (key, participant) in chosen.items():
            resource = self.get(key)
            if resource.get("resourceType") == "PractitionerRole":
                practitioner = reference_key(obj(resource.get("practitioner")).get("reference"), base_url)
                if practitioner is None:
                    continue
                resource = self.get(practitioner)
            display = obj(participant.get("actor")).get("display")
            has_display = isinstance(display, str) and bool(display.strip())
            status = resource.get(STUB_STATUS)
            if status is not None:
                notes.append(f"{kind.lower()}: {resource.get('resourceType')} read {_WHY.get(status, 'failed')} "
                             f"(HTTP {status}); "
                             + ("named from the appointment's display" if has_display else "no name"))
            if has_display and not _named(resource):
                resource = _with_display(resource, str(display).strip())
            enriched[ENRICHED_KEYS[kind]] = resource
        if notes:
            enriched["_notes"] = notes
        return enriched
