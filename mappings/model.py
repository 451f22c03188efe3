"""What a mapping produces: a normalized appointment, free of any source's shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NormalizedPatient:
    external_id: str
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    language: str | None = None  # BCP 47, e.g. "es" or "pt-BR"
    channel: str | None = None  # preferred: sms | email | whatsapp | none
    allow_sms: bool = True
    allow_email: bool = True


@dataclass(frozen=True, slots=True)
class NormalizedPractitioner:
    external_id: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class NormalizedAppointment:
    external_id: str
    status: str
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    timezone: str  # IANA zone the appointment lives in
    type: str | None = None
    location: str | None = None
    patient: NormalizedPatient | None = None
    practitioner: NormalizedPractitioner | None = None
    source_updated_at: datetime | None = None  # aware UTC; guards against out-of-order updates
    # Data-quality notes: optional values the mapping (or connector) dropped or guessed, e.g.
    # "patient.language: dropped '151' (not a known language)". Never patient data.
    notes: tuple[str, ...] = ()
    # The patient's answer as the source records it (a desk confirmation): accepted | declined.
    # Last, so that an appointment without one hashes as before answers existed.
    answer: str | None = None
    # Telehealth (issue 22): how the visit takes place (in_person | video | phone; None: the
    # source says nothing, i.e. in person), the patient's join link, the doctor's own link when
    # the source gives a separate one (Oracle Health's Provider Virtual Meeting Room), and a
    # number to dial in (E.164). After `answer`, for the same reason.
    visit_mode: str | None = None
    join_url: str | None = None
    provider_join_url: str | None = None
    dial_in: str | None = None
    # Why the source says it was cancelled (e.g. FHIR cancelationReason text or display), as
    # the source words it. May be clinical: shown to a patient only when the clinic's
    # reminders.notices.cancel_reasons lists it. After `answer`, for the same hashing reason.
    cancel_reason: str | None = None
    # When the booking was made, by the source's own clock (aware UTC; FHIR Appointment.created,
    # Easy!Appointments book_datetime): the go-live rule announces only bookings made after
    # go-live. Not content: it never counts in change detection (sync/store.py _UNHASHED).
    booked_at: datetime | None = None


_VOCABULARY_WORD = re.compile(r"[A-Za-z][A-Za-z_ ./-]{0,38}(?:[+-]?[0-9]{1,2})?")


def quoted_word(value: object) -> str:
    """A source's vocabulary word (a status word, a zone name) quoted for a quarantine
    reason, so staff see *which* word to fix. Anything that does not look like one — digits
    (a phone, a date), an '@' (an email), more than three words — is not shown: a shifted
    column may put patient data where a status word belongs."""
    text = str(value).strip()
    if _VOCABULARY_WORD.fullmatch(text) and len(text.split()) <= 3:
        return f"'{text}'"
    return "(value not shown: it does not look like a status word or zone; check the column)"


class MappingError(ValueError):
    """A record that does not map. Names the field; never carries a value that may be PHI
    (only a vocabulary word, through ``quoted_word``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
