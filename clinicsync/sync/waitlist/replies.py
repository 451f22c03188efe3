"""What an SMS reply from a patient with a waitlist offer out is told. Offers are accepted by
their link only (docs/waitlist.md, "Accepting"); a patient who answers an offer's text with
"YES" and has no appointment awaiting an answer would otherwise be told that no appointment
was found and to call the clinic, as if the offer were gone. They are pointed to the link."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select, tuple_

from clinicsync.common.waitlist_states import OfferStatus, SlotStatus
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS


def offer_out(connection: Connection, patients: Iterable[Any]) -> bool:
    """Whether one of these patients (rows with ``connector`` and ``external_id``) holds an
    offer that was sent, is not answered yet, and whose slot is still open."""
    keys = [(p.connector, p.external_id) for p in patients]
    if not keys:
        return False
    entry, offer, slot = WAITLIST_ENTRIES, WAITLIST_OFFERS, FREED_SLOTS
    found = connection.execute(
        select(offer.c.id).join(entry, entry.c.id == offer.c.entry_id).join(slot, slot.c.id == offer.c.slot_id)
        .where(tuple_(entry.c.connector, entry.c.patient_ref).in_(keys), offer.c.status == OfferStatus.SENT,
               slot.c.status == SlotStatus.OPEN)
        .limit(1)).first()
    return found is not None
