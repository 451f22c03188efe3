"""One appointment as a message shows it: what compose.py renders from, and what the
doctors' agenda and notice values (doctor_values.py) read; its own module so the two need
not import each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Visit:
    """One appointment as a message shows it."""

    connector: str
    external_id: str
    start: datetime
    end: datetime
    timezone: str
    version: int
    type: str | None = None
    location: str | None = None
    doctor: str | None = None
    patient_name: str | None = None
    status: str = "booked"
    # Telehealth: in_person | video | phone (None: in person), the join link the
    # recipient gets (the patient's; a doctor's notice gets the doctor's own link when the
    # source has one), a number to dial in, and the patient's own number a phone visit
    # calls. The link is PHI: it goes into the recipient's own message only, never a log.
    visit_mode: str | None = None
    join_url: str | None = None
    dial_in: str | None = None
    patient_phone: str | None = None

    @property
    def mode(self) -> str:
        return self.visit_mode or "in_person"
    cancel_reason: str | None = None  # as the source words it; shown only when the clinic lists it
    participation: str | None = None  # the patient's answer: accepted | declined | …
