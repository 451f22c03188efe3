"""Rows the booking stage starts from, inserted directly: the parts that make them (entries
from sources, freed-slot detection, offers and the atomic acceptance) are other stages; the
booking stage meets them only through the tables (sync/store/model/waitlist.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.waitlist_booking import WaitlistBookingSettings
from clinicsync.sync.store.model import Appointment, Patient, Practitioner
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store

A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
D = Practitioner.__table__  # type: ignore[attr-defined]
# Relative to the real clock: the calendar push plans a window around the present.
NOW = datetime.now(UTC).replace(microsecond=0)
SLOT_START = (NOW + timedelta(days=2)).replace(hour=14, minute=0, second=0)


@dataclass(frozen=True)
class Seeded:
    slot_id: int
    entry_id: int
    offer_id: int
    freed_appointment_id: int
    later_appointment_id: int | None


def person(store: Store, connector: str, patient_ref: str = "p2", doctor_ref: str = "d1") -> None:
    with store.engine.begin() as connection:
        for table, ref, values in ((P, patient_ref, {"name": "Mara Quint", "phone": "+12125550142"}),
                                   (D, doctor_ref, {"name": "Dr Ana Doc", "email": "doctor-d1@clinic.example"})):
            if connection.execute(select(table.c.external_id).where(
                    table.c.connector == connector, table.c.external_id == ref)).first() is None:
                connection.execute(insert(table).values(connector=connector, external_id=ref, content_hash="x",
                                                        updated_at=NOW, **values))


def appointment_row(store: Store, connector: str, external_id: str, start: datetime, *, status: str = "booked",
                    patient_ref: str = "p9", doctor_ref: str = "d1", minutes: int = 30) -> int:
    with store.engine.begin() as connection:
        inserted = connection.execute(insert(A).values(
            connector=connector, external_id=external_id, status=status, start_utc=start,
            end_utc=start + timedelta(minutes=minutes), timezone="America/New_York", patient_ref=patient_ref,
            practitioner_ref=doctor_ref, content_hash="x", version=2, created_at=NOW, updated_at=NOW,
            type="Check-up")).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def seed(store: Store, connector: str = "ehr", *, entry_connector: str | None = None, patient_ref: str = "p2",
         entry_external_id: str = "wl-1", later: bool = False, start: datetime = SLOT_START,
         location_ref: str | None = "room-1") -> Seeded:
    """A cancelled appointment freed a slot; the waiting patient ``patient_ref`` accepted it."""
    person(store, connector, patient_ref)
    freed = appointment_row(store, connector, f"freed-{entry_external_id}", start, status="cancelled")
    later_id = appointment_row(store, connector, f"later-{entry_external_id}", start + timedelta(days=21),
                               patient_ref=patient_ref) if later else None
    with store.engine.begin() as connection:
        entry = connection.execute(insert(WAITLIST_ENTRIES).values(
            connector=entry_connector or connector, external_id=entry_external_id, patient_ref=patient_ref,
            practitioner_ref=None, visit_type="Check-up", timezone="America/New_York", priority=0,
            waiting_since=NOW - timedelta(days=30), current_appointment_id=later_id, status="waiting",
            content_hash="x", updated_at=NOW)).inserted_primary_key
        slot = connection.execute(insert(FREED_SLOTS).values(
            appointment_id=freed, appointment_version=2, connector=connector, practitioner_ref="d1",
            location_ref=location_ref, visit_type="Check-up", start_utc=start, end_utc=start + timedelta(minutes=30),
            timezone="America/New_York", freed_by="patient", freed_at=NOW - timedelta(minutes=5),
            status="open")).inserted_primary_key
        assert entry is not None and slot is not None
        offer = connection.execute(insert(WAITLIST_OFFERS).values(
            slot_id=slot[0], entry_id=entry[0], rank=1, channel="sms", status="accepted", created_at=NOW,
            sent_at=NOW, answered_at=NOW)).inserted_primary_key
        assert offer is not None
        # what the acceptance does (wl-offers): one conditional UPDATE on the slot
        connection.execute(update(FREED_SLOTS).where(FREED_SLOTS.c.id == slot[0]).values(
            status="taken", taken_offer_id=offer[0], taken_at=NOW, booking_status="pending"))
    return Seeded(int(slot[0]), int(entry[0]), int(offer[0]), freed, later_id)


def slot_row(store: Store, slot_id: int) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(select(FREED_SLOTS).where(FREED_SLOTS.c.id == slot_id)).one()


def entry_row(store: Store, entry_id: int) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(select(WAITLIST_ENTRIES).where(WAITLIST_ENTRIES.c.id == entry_id)).one()


def with_booking(settings: Settings, **values: Any) -> Settings:
    """The settings with ``waitlist.booking`` set to ``values``."""
    return settings.model_copy(update={"waitlist": settings.waitlist.model_copy(update={
        "booking": WaitlistBookingSettings(**values)})})
