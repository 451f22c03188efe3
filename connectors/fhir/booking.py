"""The Appointment a waitlist booking creates on a FHIR R4 server (issue 33). Pure: the
connector sends it.

Why a create and not an update of the waitlist Appointment: the entry may come from another
source (the desk, the REST API, a SQL list) or have no FHIR resource at all, and a conditional
create is what makes a retry safe: ``If-None-Exist: identifier=SYSTEM|waitlist-slot-N`` (FHIR
R4 §3.1.0.8.1) answers 200 with the Appointment a first, half-finished attempt already made
instead of booking twice. R4's ``basedOn`` may only point to a ServiceRequest, so the link to
the waitlist entry, when it is an Appointment of this same server, is ``supportingInformation``
(Reference(Any)); the entry itself is left to the source's own workflow (its status change is
read back by the next poll). R5 would say ``originatingAppointment``; R4 has no such element.
"""

from __future__ import annotations

from typing import Any

from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.waitlist_booking import IDENTIFIER_SYSTEM, BookingRequest

# FHIR's participant-type codes (v3 ParticipationType): the attender, as the poll ranks first.
_PERFORMER = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                          "code": "ATND", "display": "attender"}]}


def reference(kind: str, ref: str) -> str:
    """``Patient/123`` from a store ref (``123``) or a typed one (``PractitionerRole/9`` stays)."""
    return ref if "/" in ref else f"{kind}/{ref}"


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
        participants.append({"actor": {"reference": reference("Location", request.location_ref)},
                             "required": "required", "status": "accepted"})
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
