"""The contract between the push stage and a calendar provider (Google, .ics files).

The stage decides *what* each calendar must hold; a provider only carries out
operations and lists what a calendar holds. Every provider honours the same rules,
so a retry, a crash or a second worker converges instead of duplicating:

- insert: create the event with our deterministic id; if that id exists (even deleted),
  replace it with our content and status confirmed.
- patch: change the managed fields; if the event is gone, insert it.
- update: replace it whole, bringing a deleted event back; if it is gone, insert it.
- delete: remove it (Google keeps it with status cancelled); already gone is success.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import orjson

from clinicsync.common.hashing import content_hash, content_hash_bytes

OpKind = Literal["insert", "patch", "update", "delete"]
PROVIDERS = ("ics", "google")  # the providers that hold events (calendar.provider none holds none)
PRIVATE_MARK = "clinicsync"  # extendedProperties.private key every clinicsync event carries ("1")
PRIVATE_CONNECTOR = "clinicsync_connector"
PRIVATE_EXTERNAL_ID = "clinicsync_external_id"
PRIVATE_HASH = "clinicsync_hash"


def event_id(connector: str, external_id: str) -> str:
    """Deterministic and valid for Google (base32hex: a-v, 0-9): the same appointment
    always maps to the same event, whichever worker or retry creates it.

    ``base64.b32hexencode(digest).lower()``, written out: the 160 bits as 16 groups of ten,
    each two digits from a table (the standard library's encoder is pure Python and cost a
    first import of 100,000 appointments half a second). The digest is read as two 80-bit
    halves, each eight groups: shifts of one 160-bit number cost twice as much."""
    digest = hashlib.blake2b(f"{connector}\x1f{external_id}".encode(), digest_size=20).digest()
    high, low, p = int.from_bytes(digest[:10], "big"), int.from_bytes(digest[10:], "big"), _PAIRS
    return "".join([p[high >> 70], p[(high >> 60) & 1023], p[(high >> 50) & 1023], p[(high >> 40) & 1023],
                    p[(high >> 30) & 1023], p[(high >> 20) & 1023], p[(high >> 10) & 1023], p[high & 1023],
                    p[low >> 70], p[(low >> 60) & 1023], p[(low >> 50) & 1023], p[(low >> 40) & 1023],
                    p[(low >> 30) & 1023], p[(low >> 20) & 1023], p[(low >> 10) & 1023], p[low & 1023]])


_DIGITS = "0123456789abcdefghijklmnopqrstuv"  # base32hex, lower case
_PAIRS = [first + second for first in _DIGITS for second in _DIGITS]  # ten bits each


@dataclass(frozen=True, order=True)
class Target:
    """One calendar: ``account`` is whom the provider acts as, ``calendar_id`` which calendar."""

    provider: str
    account: str
    calendar_id: str
    # Whose calendar it is, for people (the doctor's name): an .ics file's X-WR-CALNAME. Not
    # part of its identity: the same calendar whatever the name (a doctor renamed in the source).
    name: str = field(default="", compare=False)

    def label(self) -> str:
        return self.calendar_id if self.calendar_id != "primary" else self.account

    def same_calendar(self, other: Target) -> bool:
        """Whether ``other`` names this calendar, perhaps acting as another user: a shared
        calendar's id whoever writes it, a user's primary calendar by its id (their email).
        Its events are then the same events (one id per appointment)."""
        return self.provider == other.provider and self.label().lower() == other.label().lower()


@dataclass(frozen=True)
class EventContent:
    """What an event says, provider-neutral. Its hash decides whether a push is needed."""

    connector: str
    external_id: str
    summary: str
    description: str
    location: str | None
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    timezone: str  # the appointment's IANA zone: times are shown in it
    cancelled: bool = False  # kept but marked (cancelled_action: mark_cancelled): free time
    attendees: tuple[str, ...] = ()
    # Telehealth: video | phone (None: in person), the link this calendar's
    # event carries (the doctor's own when the source has one and no patient is invited),
    # a dial-in number (E.164), and whether to ask Google for a Meet link (a video visit
    # without a link, when calendar.google.create_meet asks for it).
    visit_mode: str | None = None
    join_url: str | None = None
    dial_in: str | None = None
    create_meet: bool = False
    # The patient cancelled (calendar.patient_cancelled: mark) but the source still holds the
    # visit booked: kept, shown as tentative (Google ``status: tentative``, STATUS:TENTATIVE).
    patient_cancelled: bool = False

    def digest(self) -> str:
        """The content hash; an in-person event hashes as before telehealth existed, so an
        upgrade pushes nothing."""
        if self.visit_mode or self.join_url or self.dial_in or self.create_meet or self.patient_cancelled:
            return content_hash(self)
        view = {"connector": self.connector, "external_id": self.external_id, "summary": self.summary,
                "description": self.description, "location": self.location, "start": self.start, "end": self.end,
                "timezone": self.timezone, "cancelled": self.cancelled, "attendees": self.attendees}
        # The fields from before telehealth, in the dataclass's order, as content_hash writes them.
        return content_hash_bytes(orjson.dumps(view))

    @property
    def where(self) -> str | None:
        """What a calendar shows as the place: the join link of a video visit (a link the
        doctor clicks to start it), who calls whom for a phone visit (the source's number to
        dial in: the patient calls the doctor there; none: the doctor calls the patient, whose
        number stays in the clinic's system), else the location. A sentence, never a bare
        ``tel:`` place, which calendar apps read as an address."""
        if self.visit_mode == "video" and self.join_url:
            return self.join_url if self.join_url.startswith(("https://", "http://")) else None
        if self.visit_mode == "phone":
            return f"Phone: the patient calls you at {self.dial_in}" if self.dial_in else "Phone: you call the patient"
        return self.location

    @property
    def status(self) -> str:
        """iCalendar's STATUS, lower case: a kept cancellation (mark_cancelled) is cancelled,
        a patient's cancellation the source still holds is tentative (the doctor's app shows
        it apart from booked visits), the rest confirmed."""
        if self.cancelled:
            return "cancelled"
        return "tentative" if self.patient_cancelled else "confirmed"


@dataclass(frozen=True)
class Op:
    key: int  # the link row it settles (or any unique number for one-off operations)
    kind: OpKind
    target: Target
    event_id: str
    content: EventContent | None = None  # None only for delete
    notify: bool = False  # tell attendees (sendUpdates=all) — only when patients are invited
    # content.digest(), when the caller worked it out: the push and its bookkeeping both need
    # it, and hashing serializes the whole content.
    digest: str | None = field(default=None, compare=False, repr=False)
    # What the content was rendered from (desired.source_digest), kept on the link with its hash
    # so that the next run need not render it again while that stays the same. None: unknown.
    source: str | None = field(default=None, compare=False, repr=False)

    @property
    def content_hash(self) -> str | None:
        if self.content is None:
            return None
        return self.digest if self.digest is not None else self.content.digest()


class Outcome(NamedTuple):
    """What became of one operation (a tuple: a first push gets one per event, and a frozen
    dataclass cost five times as much to build)."""

    key: int
    ok: bool
    state: Literal["present", "deleted"] | None = None  # what the calendar holds now (when ok)
    etag: str | None = None
    error: str | None = None  # a status and a reason, never content


@dataclass(frozen=True)
class RemoteEvent:
    """An event as the calendar holds it (for reconcile)."""

    event_id: str
    cancelled: bool
    start: datetime | None  # aware UTC
    end: datetime | None
    summary: str | None
    private: dict[str, str] = field(default_factory=dict)
    # Each attendee's answer in the calendar (lower-case email -> responseStatus: accepted,
    # declined, tentative, needsAction): the doctor's is a doctor's answer
    # (sync/calendar/declines.py). Never logged: patients may be attendees.
    responses: dict[str, str] = field(default_factory=dict)


_T = TypeVar("_T")
_new = object.__new__
_FIELDS: dict[type, tuple[str, ...]] = {}


def built(cls: type[_T], **values: Any) -> _T:
    """``cls(**values)`` for a frozen dataclass of this module given every field, in its order,
    without the generated ``__init__`` (one ``object.__setattr__`` per field: an ``Op`` cost
    ~2 µs, and a first push builds an ``EventContent`` and an ``Op`` per event). The instance is
    the same: its fields in its ``__dict__``, in the order ``__init__`` would put them."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    assert tuple(values) == names, (cls, tuple(values))
    made = _new(cls)
    vars(made).update(values)
    return made


class CalendarProvider(Protocol):
    def push(self, ops: Sequence[Op]) -> list[Outcome]:
        """Carry out each operation; one failing never stops the others."""

    def list_events(self, target: Target, since: datetime) -> list[RemoteEvent]:
        """The clinicsync events of one calendar ending after ``since``, deleted ones included."""

    def flush(self) -> None:
        """The end of a pass: a provider that buffers (ics files) writes out what it owes."""

    def close(self) -> None: ...
