"""The Appointment a waitlist booking creates on a FHIR R4 server. Pure: the
connector sends it.

Why a create and not an update of the waitlist Appointment: the entry may come from another
source (the desk, the REST API, a SQL list) or have no FHIR resource at all, and a conditional
create is what makes a retry safe: ``If-None-Exist: identifier=SYSTEM|waitlist-slot-N`` (FHIR
R4 §3.1.0.8.1) answers 200 with the Appointment a first, half-finished attempt already made
instead of booking twice. R4's ``basedOn`` may only point to a ServiceRequest, so the link to
the waitlist entry, when it is an Appointment of this same server, is ``supportingInformation``
(Reference(Any)); the entry itself is left to the source's own workflow (its status change is
read back by the next poll). R5 would say ``originatingAppointment``; R4 has no such element.

Every reference is one the server issued, never one we make up: the patient's and the practitioner's are
their resource ids (``_patient.id``, ``_practitioner.id`` in the mapping); the place, which the
store keeps by its name, is the freed Appointment's own Location reference, else its name as a
``display`` — never ``Location/<name>``, which a server that checks references refuses.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import structlog

from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.base import ConnectorError
from clinicsync.connectors.fhir.references import reference_key
from clinicsync.connectors.waitlist_booking import IDENTIFIER_SYSTEM, BookingRequest

log = structlog.get_logger("clinicsync.fhir")

# FHIR's participant-type codes (v3 ParticipationType): the attender, as the poll ranks first.
_PERFORMER = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                          "code": "ATND", "display": "attender"}]}


def reference(kind: str, ref: str) -> str:
    """``Patient/123`` from a store ref (``123``) or a typed one (``PractitionerRole/9`` stays)."""
    return ref if "/" in ref else f"{kind}/{ref}"


def location_actor(location_ref: str) -> dict[str, str]:
    """The Location participant's actor. The store knows a place by its name (mappings/fhir_r4.yaml
    maps ``_location.name``), the server by its id: a reference built from a name
    (``Location/Main Street Clinic``) is one the server never issued, and a server that checks
    references (HAPI by default) refuses the whole booking with 400. So only a typed reference
    the server gave us (``Location/L1``, read from the freed Appointment by
    :func:`with_server_location`) is sent as a reference; a bare name goes as ``display`` alone,
    which every server takes."""
    if location_ref.startswith("Location/"):
        return {"reference": location_ref}
    return {"display": location_ref}


def location_reference(freed: dict[str, Any] | None, base_url: str) -> str | None:
    """``Location/<id>`` as the freed Appointment names it at this server (relative or absolute
    to ``base_url``), if it does."""
    for participant in (freed or {}).get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        key = reference_key(actor.get("reference") if isinstance(actor, dict) else None, base_url)
        if key is not None and key.startswith("Location/"):
            return key
    return None


def with_server_location(connector: Any, request: BookingRequest, freed_id: str | None) -> BookingRequest:
    """The request with the slot's place as the server knows it: the Location the cancelled
    Appointment (``freed_id``, this server's id) pointed to — the same room, the same id. A
    freed Appointment the server no longer has (deleted), or one it will not let us read, keeps
    the place's name (sent as ``display``); the booking goes ahead either way."""
    read = getattr(connector, "read_appointment", None)
    if freed_id is None or read is None or not request.location_ref:
        return request
    try:
        freed = read(freed_id)
    except ConnectorError as exc:
        log.info("fhir.waitlist.location_unread", connector=getattr(connector, "name", None),
                 error=type(exc).__name__)
        return request
    found = location_reference(freed, str(getattr(getattr(connector, "client", None), "base_url", "")))
    return replace(request, location_ref=found) if found else request


def identifier_token(request: BookingRequest) -> str:
    """``system|value``: the slot's identifier as a token search parameter takes it."""
    return f"{IDENTIFIER_SYSTEM}|{request.key}"


def if_none_exist(request: BookingRequest) -> str:
    return f"identifier={identifier_token(request)}"


def booked_appointment(request: BookingRequest, *, entry_is_here: bool) -> dict[str, Any]:
    """The new Appointment: booked, the slot's instants, patient, practitioner and location as
    participants (all accepted: the patient took the offer, the slot was the practitioner's),
    the slot's visit type, and the identifier that makes the create conditional."""
    participants: list[dict[str, Any]] = [
        {"actor": {"reference": reference("Patient", request.patient_ref)}, "required": "required",
         "status": "accepted"}]
    if request.practitioner_ref:
        participants.append({"type": [_PERFORMER], "required": "required", "status": "accepted",
                             "actor": {"reference": reference("Practitioner", request.practitioner_ref)}})
    if request.location_ref:
        participants.append({"actor": location_actor(request.location_ref), "required": "required",
                             "status": "accepted"})
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": request.key}],
        "status": "booked",
        "start": iso_z(request.start_utc),
        "end": iso_z(request.end_utc),
        "participant": participants,
    }
    if request.visit_type:
        resource["serviceType"] = [{"text": request.visit_type}]
    if entry_is_here and request.entry_external_id:
        resource["supportingInformation"] = [{"reference": reference("Appointment", request.entry_external_id),
                                              "display": "waitlist entry"}]
    return resource
