"""Answering an offer: "Take this slot" or "No thanks".

Acceptance is one conditional UPDATE of the slot (``status`` from ``open`` to ``taken``, with the
winning offer and ``booking_status = 'pending'`` for the booking stage), so exactly one offer
wins however many workers, pages or replies race: on PostgreSQL the second UPDATE waits for
the first and then finds the row no longer ``open``; on SQLite the write transaction
(``BEGIN IMMEDIATE``) runs them one after another. In the winner's transaction the other offers
of the slot that reached a patient become ``taken_by_other`` (their patients are told once,
offers.py) and those never sent are withdrawn. A loser learns it on the page at once: their
offer is marked told. Every entry but the winner's stays ``waiting``; the booking stage marks
the winner's ``booked``.

Two promises more:

- **one slot per entry**: a patient offered two freed slots (or on the list twice for the same
  need, entries.py ``same_need``) wins only the first they take. The entry rows are locked
  first (``FOR UPDATE``; SQLite's write transaction serializes anyway), so two acceptances of
  one patient run one after the other, and the second finds the first's accepted offer; the
  winner's transaction withdraws the patient's other live offers, whose page then says "you
  already have an earlier slot" (``have_one``);
- **a hold is a promise**: an offer whose hold ran out may still take a slot nobody took, but
  never one held for another patient right now (``sent`` with ``hold_until`` ahead): ``held_for_other``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import Connection, Engine, and_, exists, select, update

from clinicsync.common.waitlist_states import BookingStatus, EntryStatus, OfferStatus, SlotStatus
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.waitlist.entries import same_need_ids

S, E, O = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS  # noqa: E741
# an offer that reached its patient; a run-out hold may still win an open slot
ANSWERABLE = (OfferStatus.SENT, OfferStatus.EXPIRED)
Outcome = Literal["won", "taken", "declined", "closed", "invalid", "have_one", "held_for_other"]
LIVE = (OfferStatus.PENDING, OfferStatus.SENT, OfferStatus.EXPIRED)  # offers a patient may still answer, or be sent
log = structlog.get_logger("clinicsync.waitlist")


def _state(offer: Any) -> Outcome:
    """What an offer that cannot be answered any more shows."""
    status = offer.status
    if status == OfferStatus.ACCEPTED:
        return "won"
    if status == OfferStatus.TAKEN_BY_OTHER:
        return "taken"
    if status == OfferStatus.DECLINED:
        return "declined"
    return "closed"


def accept(engine: Engine, offer_id: int, now: datetime, lead: timedelta) -> Outcome:
    """Take the slot for this offer's patient, if it is still open, further ahead than ``lead``,
    not held for another patient (when this offer's own hold ran out), and the patient has won
    no other slot for this need; otherwise say what became of it. Repeating a won acceptance
    says ``won``."""
    with writer(engine) as connection:
        offer = connection.execute(select(O).where(O.c.id == offer_id)).first()
        if offer is None:
            return "invalid"
        if offer.status == OfferStatus.TAKEN_BY_OTHER and offer.told_at is None:  # told here, on the page: no message
            connection.execute(update(O).where(O.c.id == offer_id, O.c.told_at.is_(None)).values(
                told_at=now, answered_at=now))
        if offer.status not in ANSWERABLE:
            if offer.status == OfferStatus.WITHDRAWN and won_elsewhere(connection, offer):
                return "have_one"
            return _state(offer)
        needs = _lock_entries(connection, offer.entry_id)
        if won_elsewhere(connection, offer, needs):
            connection.execute(update(O).where(O.c.id == offer_id, O.c.status.in_(ANSWERABLE)).values(
                status=OfferStatus.WITHDRAWN, answered_at=now))
            return "have_one"
        waiting = connection.execute(select(E.c.status).where(E.c.id == offer.entry_id)).scalar() == EntryStatus.WAITING
        run_out = offer.status == OfferStatus.EXPIRED or (offer.hold_until is not None and offer.hold_until <= now)
        conditions = [S.c.id == offer.slot_id, S.c.status == SlotStatus.OPEN, S.c.start_utc > now + lead]
        if run_out:  # a late tap takes a slot nobody took, never one held for someone else now
            conditions.append(~_held_for_another(offer_id, offer.slot_id, now))
        won = waiting and bool(connection.execute(update(S).where(*conditions).values(
            status=SlotStatus.TAKEN, taken_offer_id=offer_id, taken_at=now,
            booking_status=BookingStatus.PENDING, booking_attempts=0)).rowcount)
        if won:
            connection.execute(update(O).where(O.c.id == offer_id).values(status=OfferStatus.ACCEPTED,
                                                                          answered_at=now))
            connection.execute(update(O).where(O.c.slot_id == offer.slot_id, O.c.id != offer_id,
                                               O.c.status.in_(ANSWERABLE)).values(status=OfferStatus.TAKEN_BY_OTHER))
            connection.execute(update(O).where(O.c.slot_id == offer.slot_id, O.c.status == OfferStatus.PENDING)
                               .values(status=OfferStatus.WITHDRAWN))
            # The patient's other live offers (other slots, duplicate entries of this need) end
            # here, in the same transaction: one patient, one slot.
            connection.execute(update(O).where(O.c.entry_id.in_(needs), O.c.slot_id != offer.slot_id,
                                               O.c.status.in_(LIVE)).values(status=OfferStatus.WITHDRAWN))
            log.info("waitlist.taken", slot_id=offer.slot_id, offer_id=offer_id)
            return "won"
        if connection.execute(select(O.c.status).where(O.c.id == offer_id)).scalar() == OfferStatus.ACCEPTED:
            return "won"  # the same offer, answered twice at once (a double tap, two tabs)
        slot_status = connection.execute(select(S.c.status).where(S.c.id == offer.slot_id)).scalar()
        if slot_status == SlotStatus.TAKEN:
            # Told here, on the page: no message follows.
            connection.execute(update(O).where(O.c.id == offer_id,
                                               O.c.status.in_((*ANSWERABLE, OfferStatus.TAKEN_BY_OTHER)))
                               .values(status=OfferStatus.TAKEN_BY_OTHER, answered_at=now, told_at=now))
            return "taken"
        if waiting and run_out and slot_status == SlotStatus.OPEN and connection.execute(
                select(_held_for_another(offer_id, offer.slot_id, now))).scalar():
            return "held_for_other"
        return "closed"


def _held_for_another(offer_id: int, slot_id: int, now: datetime) -> Any:
    """Another offer of the slot is out and its hold still runs: the slot is promised."""
    return exists().where(O.c.slot_id == slot_id, O.c.id != offer_id, O.c.status == OfferStatus.SENT,
                          O.c.hold_until.is_not(None), O.c.hold_until > now)


def _lock_entries(connection: Connection, entry_id: int) -> list[int]:
    """The entry and the patient's other entries for the same need, locked in id order (a
    second acceptance by this patient waits here for the first to commit). Their ids."""
    ids = same_need_ids(connection, entry_id)
    if ids and connection.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE holds the lock
        connection.execute(select(E.c.id).where(E.c.id.in_(ids)).order_by(E.c.id).with_for_update())
    return ids or [entry_id]


def won_elsewhere(connection: Connection, offer: Any, needs: list[int] | None = None) -> bool:
    """Has this patient already won a slot for this need (an accepted offer of this entry or
    of a duplicate of it, on another slot)? Read with a lock (``FOR UPDATE``) so that on
    PostgreSQL and MariaDB it sees what an acceptance committed while we waited."""
    needs = needs if needs is not None else (same_need_ids(connection, offer.entry_id) or [offer.entry_id])
    query = select(O.c.id).where(and_(O.c.entry_id.in_(needs), O.c.status == OfferStatus.ACCEPTED,
                                      O.c.slot_id != offer.slot_id)).limit(1)
    if connection.dialect.name != "sqlite":
        query = query.with_for_update()
    return connection.execute(query).first() is not None


def decline(engine: Engine, offer_id: int, now: datetime) -> Outcome:
    """"No thanks": the offer is declined, the patient stays on the list, the next one may be offered."""
    with writer(engine) as connection:
        offer = connection.execute(select(O).where(O.c.id == offer_id)).first()
        if offer is None:
            return "invalid"
        if offer.status not in ANSWERABLE:
            return _state(offer)
        connection.execute(update(O).where(O.c.id == offer_id, O.c.status.in_(ANSWERABLE)).values(
            status=OfferStatus.DECLINED, answered_at=now))
        return "declined"
