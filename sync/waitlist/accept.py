"""Answering an offer: "Take this slot" or "No thanks".

Acceptance is one conditional UPDATE of the slot (``status`` from ``open`` to ``taken``, with the
winning offer and ``booking_status = 'pending'`` for the booking stage), so exactly one offer
wins however many workers, pages or replies race: on PostgreSQL the second UPDATE waits for
the first and then finds the row no longer ``open``; on SQLite the write transaction
(``BEGIN IMMEDIATE``) runs them one after another. In the winner's transaction the other offers
of the slot that reached a patient become ``taken_by_other`` (their patients are told once,
offers.py) and those never sent are withdrawn. A loser learns it on the page at once: their
offer is marked told. Every entry but the winner's stays ``waiting``; the booking stage marks
the winner's ``booked``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import Engine, select, update

from clinicsync.sync.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.reminders.txn import writer

S, E, O = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS  # noqa: E741
ANSWERABLE = ("sent", "expired")  # an offer that reached its patient; a run-out hold may still win an open slot
Outcome = Literal["won", "taken", "declined", "closed", "invalid"]
log = structlog.get_logger("clinicsync.waitlist")


def _state(offer: Any) -> Outcome:
    """What an offer that cannot be answered any more shows."""
    status = offer.status
    if status == "accepted":
        return "won"
    if status == "taken_by_other":
        return "taken"
    if status == "declined":
        return "declined"
    return "closed"


def accept(engine: Engine, offer_id: int, now: datetime, lead: timedelta) -> Outcome:
    """Take the slot for this offer's patient, if it is still open and further ahead than
    ``lead``; otherwise say what became of it. Repeating a won acceptance says ``won``."""
    with writer(engine) as connection:
        offer = connection.execute(select(O).where(O.c.id == offer_id)).first()
        if offer is None:
            return "invalid"
        if offer.status == "taken_by_other" and offer.told_at is None:  # told here, on the page: no message
            connection.execute(update(O).where(O.c.id == offer_id, O.c.told_at.is_(None)).values(
                told_at=now, answered_at=now))
        if offer.status not in ANSWERABLE:
            return _state(offer)
        waiting = connection.execute(select(E.c.status).where(E.c.id == offer.entry_id)).scalar() == "waiting"
        won = waiting and bool(connection.execute(update(S).where(
            S.c.id == offer.slot_id, S.c.status == "open", S.c.start_utc > now + lead).values(
            status="taken", taken_offer_id=offer_id, taken_at=now, booking_status="pending",
            booking_attempts=0)).rowcount)
        if won:
            connection.execute(update(O).where(O.c.id == offer_id).values(status="accepted", answered_at=now))
            connection.execute(update(O).where(O.c.slot_id == offer.slot_id, O.c.id != offer_id,
                                               O.c.status.in_(ANSWERABLE)).values(status="taken_by_other"))
            connection.execute(update(O).where(O.c.slot_id == offer.slot_id, O.c.status == "pending").values(
                status="withdrawn"))
            log.info("waitlist.taken", slot_id=offer.slot_id, offer_id=offer_id)
            return "won"
        if connection.execute(select(O.c.status).where(O.c.id == offer_id)).scalar() == "accepted":
            return "won"  # the same offer, answered twice at once (a double tap, two tabs)
        slot_status = connection.execute(select(S.c.status).where(S.c.id == offer.slot_id)).scalar()
        if slot_status == "taken":
            # Told here, on the page: no message follows.
            connection.execute(update(O).where(O.c.id == offer_id, O.c.status.in_((*ANSWERABLE, "taken_by_other")))
                               .values(status="taken_by_other", answered_at=now, told_at=now))
            return "taken"
        return "closed"


def decline(engine: Engine, offer_id: int, now: datetime) -> Outcome:
    """"No thanks": the offer is declined, the patient stays on the list, the next one may be offered."""
    with writer(engine) as connection:
        offer = connection.execute(select(O).where(O.c.id == offer_id)).first()
        if offer is None:
            return "invalid"
        if offer.status not in ANSWERABLE:
            return _state(offer)
        connection.execute(update(O).where(O.c.id == offer_id, O.c.status.in_(ANSWERABLE)).values(
            status="declined", answered_at=now))
        return "declined"
