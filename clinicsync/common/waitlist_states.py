"""The states of the waiting list's rows: an entry (a patient waiting), a freed slot, an offer of
a slot to an entry, and the booking of a taken slot at its source. Enums, not bare words, so a
misspelt state fails where it is written (mypy, the enum) instead of matching nothing in a query.

They are ``StrEnum``: each member is its word, so rows written before read back equal to members
and a member binds as the text column's value. The ``*_STATUSES`` tuples hold the plain words
(figures keyed by state go through orjson, which takes only an exact ``str`` as a key)."""

from __future__ import annotations

from enum import StrEnum


class EntryStatus(StrEnum):
    """WAITING may receive offers · BOOKED an accepted offer was booked for it · REMOVED the source
    or the desk took it off the list · EXPIRED its ``expires_at`` passed."""

    WAITING = "waiting"
    BOOKED = "booked"
    REMOVED = "removed"
    EXPIRED = "expired"


class SlotStatus(StrEnum):
    """OPEN offers may go out · TAKEN one offer was accepted (``taken_offer_id``) · EXPIRED its start
    came closer than the lead time unfilled · FILLED_BY_SOURCE the source booked the time itself ·
    WITHDRAWN the cancelled appointment came back (un-cancelled, or moved back)."""

    OPEN = "open"
    TAKEN = "taken"
    EXPIRED = "expired"
    FILLED_BY_SOURCE = "filled_by_source"
    WITHDRAWN = "withdrawn"


class OfferStatus(StrEnum):
    """PENDING chosen, not yet sent (quiet hours) · SENT on its way, held until ``hold_until`` in
    sequential mode · ACCEPTED won the slot · DECLINED "No thanks" · TAKEN_BY_OTHER another patient
    took it (told so once: ``told_at``) · EXPIRED its hold or the slot's time ran out · WITHDRAWN the
    slot was withdrawn or filled by the source · FAILED could not be delivered."""

    PENDING = "pending"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TAKEN_BY_OTHER = "taken_by_other"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"


class BookingStatus(StrEnum):
    """For a taken slot: PENDING to be written to the source · WRITTEN the source has it
    (``booked_external_id``) · DESK_TASK the source cannot be written; the front desk books it by
    hand from the status page · FAILED the write-back was refused (``booking_error``)."""

    PENDING = "pending"
    WRITTEN = "written"
    DESK_TASK = "desk_task"
    FAILED = "failed"


ENTRY_STATUSES = tuple(s.value for s in EntryStatus)
SLOT_STATUSES = tuple(s.value for s in SlotStatus)
OFFER_STATUSES = tuple(s.value for s in OfferStatus)
BOOKING_STATUSES = tuple(s.value for s in BookingStatus)
