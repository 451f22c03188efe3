"""The shapes stored content hashes were made of, for the tests that pin them: change
detection compares today's hash with ones written by earlier versions, so a field added later
must leave an old record's hash as it was (or every stored appointment looks changed, and is
announced and pushed again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clinicsync.mappings.model import NormalizedPatient

LATER_PATIENT_FIELDS = frozenset({"fallback_phones"})  # counted in the hash only when set


@dataclass(frozen=True)
class PatientBefore:
    """NormalizedPatient as it was before its fallback numbers (``fallback_phones``), field
    for field: what every patient hash stored until then was computed from."""

    external_id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    channel: str | None = None
    allow_sms: bool = True
    allow_email: bool = True


def as_stored_before(person: Any) -> Any:
    """``person`` in the shape its stored hash was made of: a patient whose later fields are
    all unset as a PatientBefore; anything else (a practitioner, a patient with fallback
    numbers, whose hash is new anyway) as it is."""
    if type(person) is NormalizedPatient and all(getattr(person, f) is None for f in LATER_PATIENT_FIELDS):
        return PatientBefore(**{k: getattr(person, k) for k in PatientBefore.__dataclass_fields__})
    return person
