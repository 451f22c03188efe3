"""Booking a waitlist patient into a freed slot at the source: what sync/ hands a
connector that can write a new appointment, and what it gets back.

A connector that can book implements ``book_waitlist(request)`` (the ``Books`` protocol);
one that cannot simply lacks the method, and sync/ turns the slot into a front-desk task.
Kept apart from connectors/base.py so that a connector kind opts in by adding one method.

Exactly once: ``request.key`` is derived from the slot id alone, so every retry of one slot
carries the same key. Each kind uses it where its source can deduplicate: FHIR's conditional
create (``If-None-Exist`` on an identifier with that value), the SQL statement's ``:slot_id``
bind (a unique column or ``WHERE NOT EXISTS``), the REST callback's ``Idempotency-Key``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from clinicsync.common.logs import REDACTED, scrub_text
from clinicsync.connectors.base import ConnectorError, RawRecord

#: The identifier system of appointments clinicsync books from the waitlist (FHIR identifier,
#: REST callback body): ``{system}|waitlist-slot-{slot id}``.
IDENTIFIER_SYSTEM = "urn:clinicsync:waitlist-slot"


def booking_key(slot_id: int) -> str:
    """The idempotency key of one freed slot's booking: the same on every retry."""
    return f"waitlist-slot-{slot_id}"


@dataclass(frozen=True)
class BookingRequest:
    """One accepted offer to write: the slot's time and people, and the entry it came from.
    Refs are the source's own ids (``patient.external_id`` and so on, same connector)."""

    slot_id: int
    patient_ref: str
    practitioner_ref: str | None
    location_ref: str | None
    visit_type: str | None
    visit_mode: str | None
    start_utc: datetime  # aware UTC
    end_utc: datetime
    timezone: str  # the slot's IANA zone (for sources that store wall-clock time)
    entry_connector: str  # where the waitlist entry came from (a connector, "desk", the REST API)
    entry_external_id: str  # the entry's id there (FHIR: the waitlist Appointment's id)
    attempt: int = 1  # 1 on the first try; a later one may find what an interrupted try wrote

    @property
    def key(self) -> str:
        return booking_key(self.slot_id)


@dataclass(frozen=True)
class BookingResult:
    """What the source answered: its id for the new appointment (if it says), and a record
    of it that sync/ can store at once through the push path (FHIR: the created resource,
    enriched like a polled one) so the calendar and reminders need not wait for a poll."""

    external_id: str | None
    record: RawRecord | None = None
    detail: dict[str, Any] | None = None


class BookingRefused(ConnectorError):
    """The source answered that it will not take this booking (HTTP 4xx, a constraint, a
    statement that matched nothing). Not retried; the message names no patient data.
    ``diagnostics``: the source's own words, if it gave any (raw: :func:`refusal_text` cleans them)."""

    diagnostics: str | None = None


#: How much of a source's own words a refused booking keeps for the desk.
SAID_LIMIT = 240
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def refusal_text(exc: BookingRefused, known: Iterable[str] = ()) -> str:
    """What the desk reads about a refused booking: the connector's line (source, status) and,
    when the source said why (a FHIR OperationOutcome's diagnostics, carried by the exception or
    by the error it was raised from), those words, so that "HTTP 400" becomes "Resource
    Location/X not found". They may echo the patient, so they are cleaned first: quoted values,
    anything shaped like an email, a phone number or a credential, and each of ``known`` (the
    patient's id, name and contact details) are masked, and the rest is cut to SAID_LIMIT."""
    text = str(exc)
    said = exc.diagnostics or getattr(exc.__context__, "diagnostics", None)
    if not isinstance(said, str) or not said.strip():
        return text
    clean = scrub_text(_QUOTED.sub("[…]", said))
    for value in sorted({v.strip() for v in known if v and len(v.strip()) >= 2}, key=len, reverse=True):
        clean = re.sub(re.escape(value), REDACTED, clean, flags=re.IGNORECASE)
    clean = " ".join(clean.split())
    if len(clean) > SAID_LIMIT:
        clean = clean[:SAID_LIMIT - 1] + "…"
    return f"{text}; the source said: {clean}"


@runtime_checkable
class Books(Protocol):
    """A connector that can book a waitlist patient into a slot at its source."""

    def can_book(self) -> bool:
        """Is booking configured for this connector (a setting may turn it on)?"""

    def book_waitlist(self, request: BookingRequest) -> BookingResult:
        """Write the appointment, at most once per ``request.key``. Raise BookingRefused when the
        source refuses it, RetriableConnectorError when it is unreachable (retried later)."""
