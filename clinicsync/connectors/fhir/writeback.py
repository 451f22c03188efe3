"""A patient's answer applied to an Appointment resource (the participant's status,
and the appointment's status where configured). Pure: the connector reads and writes."""

from __future__ import annotations

from typing import Any

from clinicsync.common.vocabulary import STATUSES
from clinicsync.connectors.base import FatalConnectorError, WritebackAction
from clinicsync.connectors.fhir.references import reference_key

PARTICIPANT_STATUSES = frozenset({"accepted", "declined", "tentative", "needs-action"})


def check_action(action: WritebackAction, connector: str) -> None:
    """Refuse an answer FHIR cannot hold before anything is read or written."""
    if action.participant_status not in PARTICIPANT_STATUSES:
        raise FatalConnectorError(f"connector {connector}: participant status {action.participant_status!r} "
                                  f"is not one of {sorted(PARTICIPANT_STATUSES)}")
    if action.appointment_status is not None and action.appointment_status not in STATUSES:
        raise FatalConnectorError(f"connector {connector}: appointment status {action.appointment_status!r} "
                                  "is not a FHIR Appointment status")


def apply_answer(appointment: dict[str, Any], action: WritebackAction, base_url: str, connector: str) -> bool:
    """Set the (checked) answer on ``appointment`` in place; False when it already says so."""
    wanted = None
    if action.patient_ref:
        ref = action.patient_ref if "/" in action.patient_ref else f"Patient/{action.patient_ref}"
        wanted = reference_key(ref, base_url)
    participant = None
    for candidate in appointment.get("participant") or []:
        key = reference_key((candidate.get("actor") or {}).get("reference"), base_url)
        if key and key.startswith("Patient/") and (wanted is None or key == wanted):
            participant = candidate
            break
    if participant is None:
        who = f"patient {action.patient_ref}" if action.patient_ref else "a patient"
        raise FatalConnectorError(f"connector {connector}: Appointment/{action.external_id} has no participant "
                                  f"for {who}; nothing to write back")
    changed = participant.get("status") != action.participant_status
    participant["status"] = action.participant_status
    if action.appointment_status is not None:
        changed |= appointment.get("status") != action.appointment_status
        appointment["status"] = action.appointment_status
    return changed
