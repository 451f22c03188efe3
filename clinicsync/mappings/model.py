"""What a mapping produces: a normalized appointment, free of any source's shape."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from clinicsync.common.vocabulary import STATUS_SYNONYMS, STATUSES, status_key

_Frozen = TypeVar("_Frozen")


def positional_builder(cls: type[_Frozen]) -> Callable[..., _Frozen]:
    """A constructor of the frozen dataclass ``cls`` taking every field positionally, in
    declaration order: the same object ``cls(...)`` builds (same type, fields, equality and
    hash, still frozen), at a sixth of the cost. Why: a frozen dataclass's ``__init__`` sets
    each field through ``object.__setattr__`` (~0.3 µs a field; an appointment has 18), and the
    import builds one appointment per row. Here a twin class of the same layout
    (the same ``__slots__``, or both with a ``__dict__``) stores the fields with plain
    attribute stores and then becomes ``cls`` (``__class__`` assignment, which Python allows
    only between classes of one layout). For hot paths that pass every field; others call
    ``cls`` itself."""
    declared = fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in declared]
    if hasattr(cls, "__post_init__") or any(not f.init or f.default_factory is not MISSING for f in declared):
        raise TypeError(f"{cls.__name__}: only plain fields can be built positionally")
    slots = cls.__dict__.get("__slots__")
    assigned = "\n".join(f"        self.{name} = {name}" for name in names)
    source = (f"class _Twin:\n"
              f"    {'' if slots is None else f'__slots__ = {tuple(slots)!r}'}\n"
              f"    def __init__(self, {', '.join(names)}):\n{assigned}\n"
              f"        self.__class__ = _cls\n")
    namespace: dict[str, Any] = {"_cls": cls}
    exec(source, namespace)  # noqa: S102 - our own source, built from the dataclass's field names
    twin: Callable[..., _Frozen] = namespace["_Twin"]
    return twin


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
    # The other numbers of a phone cell that held several ("0772 100001 / 0701 222333"): E.164,
    # in the cell's order, one space between them; None when it held one. Counted in change
    # detection only when set, so a patient without them hashes as before they existed.
    fallback_phones: str | None = None


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
    # Telehealth: how the visit takes place (in_person | video | phone; None: the
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
    # go-live. Not content: it never counts in change detection (sync/store/views.py _UNHASHED).
    booked_at: datetime | None = None
    # The id of the row this one replaces at the source: a product that reschedules by keeping
    # the old row (with a word such as "rescheduled") and booking a new row that names it. The
    # pair is one visit that moved, stored under the old row's id (sync/ingest/supersede.py).
    # Identity, not content: it never counts in change detection either.
    replaces: str | None = None
    # A stand-in id's readable form ("time patient doctor", read where the source has no id
    # column) when the id is its hash (engine.stand_in_id): the store finds a visit stored under
    # the readable form by it and re-keys that one row. Identity, never content; never stored.
    former_id: str | None = None


# What a source's vocabulary looks like, as opposed to patient data. A quarantine reason quotes a
# value only when it has the shape of what the field expects, so staff see *which* word to fix;
# anything else (a name, a phone, a date of birth that a shifted column put there) is described.
_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,23}|[0-9]{1,3}")  # chk_in, ns, x, 2, 151: codes
_ZONE_NAME = re.compile(r"[A-Z][A-Za-z]+(?:/[A-Za-z0-9_+-]+){1,2}")  # Area/City, Area/Region/City
_WINDOWS_ZONE = re.compile(r"[A-Z][A-Za-z. ]{2,40} (?:(?:Standard|Daylight) )?Time")  # Pacific Time
_ZONE_ABBREVIATIONS = frozenset({
    "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "AKST", "HST", "AST",
    "CET", "CEST", "WET", "WEST", "EET", "EEST", "BST", "IST", "JST", "AEST", "AEDT", "NZST"})


_STATUS_WORDS = sorted({*STATUS_SYNONYMS, *STATUSES})


def _status_like(text: str) -> bool:
    """A known status word of some language (``STATUS_SYNONYMS``), a near miss of one
    ('Confirmd': a typo is still vocabulary, while 'Maria' is near none), or a lower-case code."""
    key = status_key(text)
    return bool(key in STATUS_SYNONYMS or key in STATUSES or _CODE.fullmatch(text)
                or (not any(c.isdigit() for c in key) and difflib.get_close_matches(key, _STATUS_WORDS, 1, 0.8)))


# A status word on this many rows of one source is the product's vocabulary ("Facturado",
# "Walk In"), not something typed once into the wrong column: shown when it has a word's shape.
VOCABULARY_ROWS = 5
_VOCABULARY_CHARS = 30  # longer is a sentence or a note, not a status
_VOCABULARY_WORDS = 4  # "Left without being seen"
_VOCABULARY_DIGITS = 2  # "Stage 2", "Level 10"; a date, a phone or an id has more


def _vocabulary_shaped(text: str) -> bool:
    """Short, starting with a letter, a few words, no '@', at most a code's digits."""
    return (0 < len(text) <= _VOCABULARY_CHARS and text[0].isalpha() and "@" not in text
            and len(text.split()) <= _VOCABULARY_WORDS and sum(c.isdigit() for c in text) <= _VOCABULARY_DIGITS)


def quoted_status(value: object, rows: int = 1) -> str:
    """A status word quoted for a reason when it is vocabulary; else described, never shown.
    Vocabulary: a known word, a near miss or a code (``_status_like``), or, when the caller
    counted it on ``rows`` >= ``VOCABULARY_ROWS`` rows, any word of a status's shape (one
    record alone cannot tell a product's own word from a name typed in the column)."""
    text = str(value).strip()
    if _status_like(text) or (rows >= VOCABULARY_ROWS and _vocabulary_shaped(text)):
        return f"'{text}'"
    return described(text, "a status word")


_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}")  # es, es-MX, zh_Hant_TW


def quoted_code(value: object) -> str:
    """A code a source sends (a status, a language, a visit mode) quoted for a reason when it
    has a code's shape (status-like, or a language tag); else described, never shown."""
    text = str(value).strip()
    return f"'{text}'" if _status_like(text) or _LANGUAGE_TAG.fullmatch(text) else described(text, "a code")


def quoted_zone(value: object) -> str:
    """A zone name quoted for a reason when it has a zone's shape (Area/City, an abbreviation,
    a Windows zone name); else described, never shown."""
    text = str(value).strip()
    if _ZONE_NAME.fullmatch(text) or text in _ZONE_ABBREVIATIONS or _WINDOWS_ZONE.fullmatch(text):
        return f"'{text}'"
    return described(text, "a zone name")


def described(text: str, expected: str) -> str:
    """What a value looks like, without the value: enough to find it in the raw record."""
    if not text:
        return "(an empty value)"
    words = text.split()
    if any(c.isdigit() for c in text):
        shape = "with digits"
    elif "@" in text:
        shape = "with an @ sign"
    elif all(w[:1].isupper() for w in words):
        shape = f"{len(words)} capitalized word{'s' if len(words) > 1 else ''}"
    else:
        shape = f"{len(words)} word{'s' if len(words) > 1 else ''}"
    return f"(value not shown: {shape}, {len(text)} characters, not the shape of {expected}; a shifted column?)"


class MappingLoadError(ValueError):
    """A mapping that does not load (no such preset or file, bad YAML, an unknown field, a
    value the schema refuses): a settings error, named by file, line and key, that stops the
    source until the file is fixed. Its own type, so that a caller telling a settings error
    from a crash catches exactly this and never a ValueError raised by a bug elsewhere."""


class MappingError(ValueError):
    """A record that does not map. Names the field; never carries a value that may be PHI
    (only a vocabulary word, through ``quoted_status`` and ``quoted_zone``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
